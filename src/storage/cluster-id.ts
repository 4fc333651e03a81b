import { randomBytes } from 'node:crypto'
import path from 'node:path'
import { readFileOrNull, writeFileAtomic } from './atomic-file.js'
import type { StorageIO } from './io.js'
import { CLUSTER_ID_FILE } from './paths.js'

/** Kafka's cluster ids: 16 random bytes in URL-safe base64 without padding (22 characters). */
const CLUSTER_ID_PATTERN = /^[A-Za-z0-9_-]{22}$/

/**
 * The data directory's cluster id, made at the first listen and kept: clients that cache
 * it (librdkafka logs a change as a new cluster) see the same one after every restart.
 * A file that does not hold one (damaged, edited) is replaced: the id names the
 * directory, and nothing stored depends on it.
 */
export async function loadClusterId(io: StorageIO, dataDir: string): Promise<string> {
  const file = path.join(dataDir, CLUSTER_ID_FILE)
  const contents = await readFileOrNull(io, file)
  const kept = contents?.toString('utf8').trim() ?? ''
  if (CLUSTER_ID_PATTERN.test(kept)) return kept
  const made = randomBytes(16).toString('base64url')
  await writeFileAtomic(io, file, Buffer.from(`${made}\n`))
  return made
}
