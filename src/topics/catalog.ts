import path from 'node:path'
import { SpoolError, ioError } from '../errors.js'
import { writeFileAtomic } from '../storage/atomic-file.js'
import type { StorageIO } from '../storage/io.js'
import { type TopicConfig, resolveTopicConfig } from './topic-config.js'
import { checkTopicName } from './topic-name.js'

/**
 * The topic catalog: `topics.json` in the data directory, the one source of truth for
 * which topics exist and how they are configured. It is replaced atomically (write
 * aside, fsync, rename, fsync the directory), so a crash leaves the old or the new
 * catalog, never a torn one. A partition directory the catalog does not name is a
 * leftover of an interrupted delete.
 */
export const CATALOG_FILE = 'topics.json'
const CATALOG_VERSION = 1

export interface TopicEntry {
  name: string
  config: TopicConfig
  createdAt: number
}

export async function readCatalog(io: StorageIO, dataDir: string): Promise<TopicEntry[]> {
  const file = path.join(dataDir, CATALOG_FILE)
  let contents: Buffer | null
  try {
    contents = await io.readFileIfExists(file)
  } catch (error) {
    throw ioError('reading the topic catalog', file, error)
  }
  if (contents === null) return []
  const damaged = (why: string): SpoolError =>
    new SpoolError('CORRUPT_CATALOG', `the topic catalog ${file} ${why}; restore it from a backup (partition data is untouched)`, {
      details: { path: file },
    })
  let parsed: { version?: unknown; topics?: unknown }
  try {
    parsed = JSON.parse(contents.toString('utf8')) as typeof parsed
  } catch {
    throw damaged('is not valid JSON')
  }
  if (parsed?.version !== CATALOG_VERSION || !Array.isArray(parsed.topics)) throw damaged('has an unknown version or shape')
  return parsed.topics.map((entry: { name?: unknown; config?: unknown; createdAt?: unknown }) => ({
    name: checkTopicName(entry.name),
    config: resolveTopicConfig(entry.config),
    createdAt: typeof entry.createdAt === 'number' ? entry.createdAt : 0,
  }))
}

export async function writeCatalog(io: StorageIO, dataDir: string, topics: readonly TopicEntry[]): Promise<void> {
  const sorted = [...topics].sort((a, b) => (a.name < b.name ? -1 : 1))
  const json = JSON.stringify({ version: CATALOG_VERSION, topics: sorted }, null, 2)
  await writeFileAtomic(io, path.join(dataDir, CATALOG_FILE), Buffer.from(json))
}

/** Directory of one partition: `<topic>-<partition>`, as Kafka names them. */
export function partitionDir(dataDir: string, topic: string, partition: number): string {
  return path.join(dataDir, `${topic}-${partition}`)
}

const PARTITION_DIR = /^(.+)-(\d+)$/

export function parsePartitionDir(name: string): { topic: string; partition: number } | null {
  const match = PARTITION_DIR.exec(name)
  return match === null ? null : { topic: match[1]!, partition: Number(match[2]) }
}
