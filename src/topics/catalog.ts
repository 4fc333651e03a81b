import { createHash, randomBytes } from 'node:crypto'
import path from 'node:path'
import { SpoolError } from '../errors.js'
import { readFileOrNull, writeFileAtomic } from '../storage/atomic-file.js'
import type { StorageIO } from '../storage/io.js'
import { type TopicConfig, resolveTopicConfig } from './topic-config.js'
import { checkTopicName } from './topic-name.js'

/**
 * The topic catalog: `topics.json` in the data directory, the one source of truth for
 * which topics exist and how they are configured. It is replaced atomically (write
 * aside, fsync, rename, fsync the directory), so a crash leaves the old or the new
 * catalog, never a torn one. A partition directory is deleted only once it is marked
 * (see deletedPartitionDir): one the catalog does not name and that is not marked is
 * reported and kept, never taken for a leftover (a catalog restored from a backup names
 * fewer topics than the directory holds).
 */
export const CATALOG_FILE = 'topics.json'
const CATALOG_VERSION = 1

export interface TopicEntry {
  name: string
  /**
   * Which topic of that name this is (Kafka's topic id): a topic deleted and created
   * again gets a new one, so that what was stored for the old one (a group's committed
   * offsets) is not taken for the new one's.
   */
  topicId: string
  config: TopicConfig
  createdAt: number
}

/** A topic id: 16 random bytes, in hex. */
const TOPIC_ID_HEX = '[0-9a-f]{32}'
const TOPIC_ID = new RegExp(`^${TOPIC_ID_HEX}$`)

export function newTopicId(): string {
  return randomBytes(16).toString('hex')
}

export function isTopicId(value: unknown): value is string {
  return typeof value === 'string' && TOPIC_ID.test(value)
}

/**
 * The id of a topic from a catalog written before topic ids: derived from what already
 * tells its incarnations apart, so that every open gives it the same id (and its groups'
 * commits, made under that id, stay its own) before a catalog write stores it.
 */
function legacyTopicId(name: string, createdAt: number): string {
  return createHash('sha256').update(`spool topic\0${name}\0${createdAt}`).digest('hex').slice(0, 32)
}

export async function readCatalog(io: StorageIO, dataDir: string): Promise<TopicEntry[]> {
  const file = path.join(dataDir, CATALOG_FILE)
  const contents = await readFileOrNull(io, file, 'reading the topic catalog')
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
  return parsed.topics.map((entry: { name?: unknown; topicId?: unknown; config?: unknown; createdAt?: unknown }) => {
    const name = checkTopicName(entry.name)
    const createdAt = typeof entry.createdAt === 'number' ? entry.createdAt : 0
    if (entry.topicId !== undefined && !isTopicId(entry.topicId)) throw damaged(`gives topic "${name}" a topicId that is not 32 hex digits`)
    const topicId = isTopicId(entry.topicId) ? entry.topicId : legacyTopicId(name, createdAt)
    return { name, topicId, config: resolveTopicConfig(entry.config), createdAt }
  })
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

const DELETED_SUFFIX = '.deleted'
const DELETED_PARTITION_DIR = new RegExp(`^(.+)-(\\d+)\\.(${TOPIC_ID_HEX})\\${DELETED_SUFFIX}$`)

/**
 * A partition directory being deleted: renamed to `<topic>-<partition>.<topicId>.deleted`
 * (as Kafka renames to `….-delete`) before the catalog stops naming its topic. The mark
 * is the recorded decision: an open finishes only marked deletes, and puts a marked
 * directory back if the catalog still names that very topic (the crash came before the
 * catalog write that commits the delete). The topic id keeps two deleted incarnations of
 * one name apart.
 */
export function deletedPartitionDir(dataDir: string, topic: string, partition: number, topicId: string): string {
  return `${partitionDir(dataDir, topic, partition)}.${topicId}${DELETED_SUFFIX}`
}

export function parseDeletedPartitionDir(name: string): { topic: string; partition: number; topicId: string } | null {
  const match = DELETED_PARTITION_DIR.exec(name)
  return match === null ? null : { topic: match[1]!, partition: Number(match[2]), topicId: match[3]! }
}
