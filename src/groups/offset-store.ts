import type { AbstractBatchOptions, AbstractLevel } from 'abstract-level'
import { Level } from 'level'
import { SpoolError, invalidArgument, ioError } from '../errors.js'
import { MAX_COMMIT_METADATA_BYTES, MAX_GROUP_NAME_CHARS } from '../limits.js'
import { isTopicId } from '../topics/catalog.js'
import { checkTopicName } from '../topics/topic-name.js'
import { integerIn, nonNegativeInteger } from '../validate.js'

/**
 * Committed offsets and group metadata, in LevelDB (`<dataDir>/groups`).
 *
 * Keys (utf8), chosen so that one group's keys are one contiguous range and a group's
 * offsets sort by topic, then partition:
 *   m!<group>                          → { v: 1, generation, updatedAt }
 *   o!<group>!<topic>!<partition:10>   → { v: 1, offset, metadata?, committedAt?, leaderEpoch?, topicId? }
 * `<group>` escapes '%' as %25 and '!' as %21, so '!' always ends it; topic names hold
 * no '!'; partitions are zero-padded to 10 digits (int32) so they sort as numbers.
 *
 * Every write passes `{ sync: true }` (LevelDB's default is false): a resolved commit has
 * been fsynced to LevelDB's log, and survives a crash of the process or the machine.
 */
const VALUE_VERSION = 1
const PARTITION_DIGITS = 10
const MAX_PARTITION = 2 ** 31 - 1

/**
 * The keys that start with `prefix` (which ends in '!'): from the prefix up to, not
 * including, the prefix with that '!' raised to '"'. LevelDB compares keys as UTF-8
 * bytes, so no character is "the largest": '\uffff' (EF BF BF) sorts before every
 * 4-byte character (F0…), and a bound made of it left groups named with one unlisted.
 */
function keysStartingWith(prefix: string): { gte: string; lt: string } {
  if (!prefix.endsWith('!')) throw new Error(`a key prefix ends in '!': ${prefix}`)
  return { gte: prefix, lt: `${prefix.slice(0, -1)}"` }
}

export interface OffsetCommit {
  topic: string
  partition: number
  offset: number
  metadata?: string
  /** Milliseconds since the epoch, as the committer's clock saw it. */
  committedAt?: number
  /**
   * The log incarnation of the record before `offset` (Kafka's committed leader epoch),
   * so that a resume can tell whether the log lost records behind the offset since.
   */
  leaderEpoch?: number
  /**
   * The id of the topic the offset was committed on (see TopicEntry.topicId), so that a
   * topic created again under the name is not read from the old one's offset.
   */
  topicId?: string
}

export interface CommittedOffset {
  topic: string
  partition: number
  offset: number
  metadata: string | null
  committedAt: number | null
  /** Null for commits made without one (admin resets, versions before epochs). */
  leaderEpoch: number | null
  /** Absent for commits made without one (versions before topic ids). */
  topicId?: string
}

export interface GroupMeta {
  /** The generation of the group's latest rebalance; the next one is higher. */
  generation: number
  updatedAt: number
}

interface StoredOffset {
  v: number
  offset: number
  metadata?: string
  committedAt?: number
  leaderEpoch?: number
  topicId?: string
}

interface StoredMeta {
  v: number
  generation: number
  updatedAt: number
}

export function checkGroupName(group: unknown): string {
  if (typeof group !== 'string' || group.length === 0) throw invalidArgument('group', 'must be a non-empty string')
  if (group.length > MAX_GROUP_NAME_CHARS) throw invalidArgument('group', `is longer than ${MAX_GROUP_NAME_CHARS} characters`)
  return group
}

function escapeGroup(group: string): string {
  return group.replace(/%/g, '%25').replace(/!/g, '%21')
}

function unescapeGroup(escaped: string): string {
  return escaped.replace(/%21/g, '!').replace(/%25/g, '%')
}

const metaKey = (group: string): string => `m!${escapeGroup(group)}`
const offsetPrefix = (group: string): string => `o!${escapeGroup(group)}!`
const offsetKey = (group: string, topic: string, partition: number): string =>
  `${offsetPrefix(group)}${topic}!${String(partition).padStart(PARTITION_DIGITS, '0')}`

function checkCommit(entry: OffsetCommit, index: number): void {
  const at = `offsets[${index}]`
  checkTopicName(entry.topic)
  integerIn(`${at}.partition`, entry.partition, 0, MAX_PARTITION)
  nonNegativeInteger(`${at}.offset`, entry.offset)
  if (entry.leaderEpoch !== undefined) nonNegativeInteger(`${at}.leaderEpoch`, entry.leaderEpoch)
  if (entry.topicId !== undefined && !isTopicId(entry.topicId)) throw invalidArgument(`${at}.topicId`, 'must be 32 hex digits (a topic id)')
  if (entry.metadata !== undefined && Buffer.byteLength(entry.metadata) > MAX_COMMIT_METADATA_BYTES) {
    throw invalidArgument(`${at}.metadata`, `is longer than ${MAX_COMMIT_METADATA_BYTES} bytes`)
  }
}

/** The database of the store: LevelDB, or any abstract-level database a test gives (see OpenGroupDatabase). */
export type GroupDatabase = AbstractLevel<string | Buffer | Uint8Array, string, unknown>

/** The encodings the store's keys and values are written in; a database must be made with them. */
export interface GroupDatabaseOptions {
  keyEncoding: 'utf8'
  valueEncoding: 'json'
}

/**
 * Makes the (unopened) database of the store in `dir`. LevelDB by default; a test passes
 * one that models LevelDB's durability in memory, so that a simulated power cut reaches
 * the group offsets too (test/sim/).
 */
export type OpenGroupDatabase = (dir: string, options: GroupDatabaseOptions) => GroupDatabase

export const openLevelDatabase: OpenGroupDatabase = (dir, options) => new Level<string, unknown>(dir, options)

const DATABASE_OPTIONS: GroupDatabaseOptions = { keyEncoding: 'utf8', valueEncoding: 'json' }

/**
 * LevelDB's `sync` write option: the write is in LevelDB's fsynced log when it resolves.
 * abstract-level leaves it untyped (it is classic-level's; the simulated database honours
 * it too), hence the cast, spelled once.
 */
const SYNCED = { sync: true } as AbstractBatchOptions<string, unknown>

export class OffsetStore {
  private closed = false

  private constructor(
    readonly dir: string,
    private readonly db: GroupDatabase,
  ) {}

  /**
   * Opens (creating if needed) the store in `dir`. A store another handle holds → LOCKED;
   * a damaged one → CORRUPT_GROUP_STORE (group offsets only: partition data is apart).
   */
  static async open(dir: string, openDatabase: OpenGroupDatabase = openLevelDatabase): Promise<OffsetStore> {
    const db = openDatabase(dir, DATABASE_OPTIONS)
    try {
      await db.open()
    } catch (error) {
      throw openError(dir, error)
    }
    return new OffsetStore(dir, db)
  }

  /** Stores all `entries` for `group` in one atomic, synced batch: all of them or none. */
  async commit(group: string, entries: readonly OffsetCommit[]): Promise<void> {
    checkGroupName(group)
    entries.forEach(checkCommit)
    this.checkOpen()
    if (entries.length === 0) return
    const ops = entries.map((entry) => {
      const value: StoredOffset = { v: VALUE_VERSION, offset: entry.offset }
      if (entry.metadata !== undefined) value.metadata = entry.metadata
      if (entry.committedAt !== undefined) value.committedAt = entry.committedAt
      if (entry.leaderEpoch !== undefined) value.leaderEpoch = entry.leaderEpoch
      if (entry.topicId !== undefined) value.topicId = entry.topicId
      return { type: 'put' as const, key: offsetKey(group, entry.topic, entry.partition), value }
    })
    await this.write('committing offsets of group', group, () => this.db.batch(ops, SYNCED))
  }

  /** The group's committed offsets (of one topic, if given), sorted by topic and partition. */
  async fetch(group: string, topic?: string): Promise<CommittedOffset[]> {
    checkGroupName(group)
    if (topic !== undefined) checkTopicName(topic)
    this.checkOpen()
    const groupPrefix = offsetPrefix(group)
    const prefix = groupPrefix + (topic === undefined ? '' : `${topic}!`)
    const found: CommittedOffset[] = []
    try {
      for await (const [key, value] of this.db.iterator(keysStartingWith(prefix))) {
        found.push(this.decodeOffset(key, value, groupPrefix.length))
      }
    } catch (error) {
      throw this.readError(group, error)
    }
    return found
  }

  /** Every group with offsets or metadata, sorted. */
  async listGroups(): Promise<string[]> {
    this.checkOpen()
    const groups = new Set<string>()
    try {
      for await (const key of this.db.keys(keysStartingWith('m!'))) groups.add(unescapeGroup(key.slice(2)))
      for await (const key of this.db.keys(keysStartingWith('o!'))) {
        groups.add(unescapeGroup(key.slice(2, key.indexOf('!', 2))))
      }
    } catch (error) {
      throw this.readError('(all)', error)
    }
    return [...groups].sort()
  }

  /** Removes the group's offsets and metadata in one synced batch. */
  async deleteGroup(group: string): Promise<void> {
    checkGroupName(group)
    this.checkOpen()
    const keys: string[] = [metaKey(group)]
    const prefix = offsetPrefix(group)
    try {
      for await (const key of this.db.keys(keysStartingWith(prefix))) keys.push(key)
    } catch (error) {
      throw this.readError(group, error)
    }
    await this.write('deleting group', group, () =>
      this.db.batch(
        keys.map((key) => ({ type: 'del' as const, key })),
        SYNCED,
      ),
    )
  }

  async saveGroupMeta(group: string, meta: GroupMeta): Promise<void> {
    checkGroupName(group)
    if (!Number.isSafeInteger(meta.generation) || meta.generation < 0) throw invalidArgument('generation', 'must be a non-negative safe integer')
    this.checkOpen()
    const value: StoredMeta = { v: VALUE_VERSION, generation: meta.generation, updatedAt: meta.updatedAt }
    await this.write('saving the metadata of group', group, () => this.db.put(metaKey(group), value, SYNCED))
  }

  /** The group's metadata, or null for a group never saved. */
  async loadGroupMeta(group: string): Promise<GroupMeta | null> {
    checkGroupName(group)
    this.checkOpen()
    let value: unknown
    try {
      value = await this.db.get(metaKey(group))
    } catch (error) {
      throw this.readError(group, error)
    }
    if (value === undefined) return null
    const stored = value as Partial<StoredMeta> | null
    if (stored?.v !== VALUE_VERSION || !Number.isSafeInteger(stored.generation) || typeof stored.updatedAt !== 'number') {
      throw this.damaged(`the metadata of group "${group}" has an unknown version or shape`, { group })
    }
    return { generation: stored.generation!, updatedAt: stored.updatedAt }
  }

  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    await this.db.close()
  }

  private decodeOffset(key: string, value: unknown, topicStart: number): CommittedOffset {
    const rest = key.slice(topicStart)
    const bang = rest.lastIndexOf('!')
    const stored = value as Partial<StoredOffset> | null
    if (bang <= 0 || stored?.v !== VALUE_VERSION || !Number.isSafeInteger(stored.offset)) {
      throw this.damaged(`the offset entry ${key} has an unknown version or shape`, { key })
    }
    return {
      topic: rest.slice(0, bang),
      partition: Number(rest.slice(bang + 1)),
      offset: stored.offset!,
      metadata: stored.metadata ?? null,
      committedAt: stored.committedAt ?? null,
      leaderEpoch: Number.isSafeInteger(stored.leaderEpoch) ? stored.leaderEpoch! : null,
      ...(isTopicId(stored.topicId) ? { topicId: stored.topicId } : {}),
    }
  }

  private checkOpen(): void {
    if (this.closed) throw new SpoolError('CLOSED', `the group offset store ${this.dir} is closed`)
  }

  private async write(action: string, group: string, run: () => Promise<void>): Promise<void> {
    try {
      await run()
    } catch (error) {
      if (levelCode(error) === 'LEVEL_CORRUPTION') throw this.damaged(`${action} "${group}" found the store damaged`, { group }, error)
      throw ioError(`${action} "${group}" in`, this.dir, ioCause(error))
    }
  }

  private readError(group: string, error: unknown): SpoolError {
    if (levelCode(error) === 'LEVEL_CORRUPTION') return this.damaged(`reading group "${group}" found the store damaged`, { group }, error)
    return ioError(`reading group "${group}" from`, this.dir, ioCause(error))
  }

  private damaged(what: string, details: Record<string, unknown>, cause?: unknown): SpoolError {
    return new SpoolError(
      'CORRUPT_GROUP_STORE',
      `${what} (${this.dir}); restore the directory from a backup, or delete it to forget every group's offsets (partition data is untouched)`,
      { cause, details: { dir: this.dir, ...details } },
    )
  }
}

function levelCode(error: unknown): string | undefined {
  const own = (error as { code?: unknown } | null)?.code
  const cause = (error as { cause?: { code?: unknown } } | null)?.cause?.code
  // abstract-level wraps the reason for a failed open in `cause`; prefer the precise one.
  if (typeof cause === 'string' && cause.startsWith('LEVEL_')) return cause
  return typeof own === 'string' ? own : undefined
}

/** The operating-system error under a LevelDB one, when there is one, for ioError's errno. */
function ioCause(error: unknown): unknown {
  const cause = (error as { cause?: unknown } | null)?.cause
  return (cause as NodeJS.ErrnoException | undefined)?.code?.startsWith('E') ? cause : error
}

function openError(dir: string, error: unknown): SpoolError {
  const code = levelCode(error)
  if (code === 'LEVEL_LOCKED') {
    return new SpoolError('LOCKED', `the group offset store ${dir} is already open, in this process or another; close it first`, {
      cause: error,
      details: { dir },
    })
  }
  const cause = ioCause(error) as NodeJS.ErrnoException
  if (cause.code === 'EEXIST' || cause.code === 'ENOTDIR') {
    return new SpoolError('CORRUPT_GROUP_STORE', `the group offset store ${dir} is not a directory; move that file aside (partition data is untouched)`, {
      cause: error,
      details: { dir },
    })
  }
  // A file LevelDB's own records name is gone (CURRENT pointing at a missing manifest, a lost table): damage, not a disk fault.
  const missingFile = code === 'LEVEL_IO_ERROR' && /No such file or directory/.test(String((error as { cause?: { message?: unknown } }).cause?.message))
  if (code === 'LEVEL_CORRUPTION' || missingFile) {
    return new SpoolError(
      'CORRUPT_GROUP_STORE',
      `the group offset store ${dir} is damaged and will not open; restore it from a backup, or delete it to forget every group's offsets (partition data is untouched)`,
      { cause: error, details: { dir } },
    )
  }
  return ioError('opening the group offset store', dir, ioCause(error))
}
