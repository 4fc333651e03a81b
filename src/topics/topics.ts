import path from 'node:path'
import { SpoolError, invalidArgument, ioError } from '../errors.js'
import { mapBounded } from '../concurrency/bounded.js'
import { PARTITION_OPEN_CONCURRENCY } from '../limits.js'
import { fsyncDirectory } from '../storage/atomic-file.js'
import type { StorageIO } from '../storage/io.js'
import type { Logger } from '../storage/logger.js'
import { PartitionLog } from '../storage/partition-log.js'
import type { QuarantinedRange } from '../storage/quarantine-record.js'
import {
  CATALOG_FILE,
  type TopicEntry,
  deletedPartitionDir,
  newTopicId,
  parseDeletedPartitionDir,
  partitionDir,
  parsePartitionDir,
  readCatalog,
  writeCatalog,
} from './catalog.js'
import { MAX_PARTITIONS, type TopicConfig, resolveTopicConfig } from './topic-config.js'
import { checkTopicName } from './topic-name.js'
import { integerIn, nonNegativeInteger } from '../validate.js'

export interface TopicsOptions {
  dataDir: string
  /** Applied to topics created without the option. */
  defaults: TopicConfig
  io: StorageIO
  logger: Logger
  clock: () => number
  /** Inspect only: partitions open read-only, nothing is created, repaired or removed. */
  readOnly: boolean
}

export interface PartitionDescription {
  partition: number
  startOffset: number
  endOffset: number
  bytes: number
  segments: number
  /** Offset ranges `spool segments repair` moved out of the log; empty when none. */
  quarantined: readonly QuarantinedRange[]
}

export interface TopicDescription {
  name: string
  /** Tells this topic from an earlier one of the same name (see TopicEntry). */
  topicId: string
  config: TopicConfig
  createdAt: number
  partitions: PartitionDescription[]
}

export interface CleanupReport {
  /** Segments deleted by retention. */
  deletedSegments: number
  /** Segments rewritten by compaction. */
  compactedSegments: number
  /** Partitions whose cleanup failed (each reported through the logger). */
  failures: number
}

/** Which incarnation of a topic something belongs to: its id, and when it was created. */
export interface TopicIdentity {
  topicId: string
  createdAt: number
}

/**
 * The topic each open partition log belongs to. A log object lives and dies with one
 * incarnation of its topic (a topic created again opens new ones), so a consumer holding
 * a log can stamp a commit with its topic's id, and judge one, without asking by name.
 */
const identityOfLog = new WeakMap<PartitionLog, TopicIdentity>()

/** The topic `log` was opened for; undefined for a log not opened by Topics (a bare PartitionLog). */
export function topicIdentityOf(log: PartitionLog): TopicIdentity | undefined {
  return identityOfLog.get(log)
}

interface OpenTopic {
  entry: TopicEntry
  /** Its partitions' logs once opened (on its first use: see logsOf), else null. */
  logs: PartitionLog[] | null
  /** The open in progress, shared by every caller that needs the logs meanwhile. */
  opening: Promise<PartitionLog[]> | null
}

/**
 * The topics of one data directory and their open partition logs. Changes run one at a
 * time, and the catalog write is each one's commit point: a create or a grow writes the
 * catalog, then makes the directories; a delete marks its directories (renames them,
 * durably), writes the catalog, then removes them. Nothing is deleted on an inference:
 * an open finishes marked deletes the catalog committed, undoes those it did not, and
 * reports — never removes — partition directories the catalog does not name.
 */
export class Topics {
  private readonly topics = new Map<string, OpenTopic>()
  private changing: Promise<unknown> = Promise.resolve()
  /** Set when close() begins: from then on every call fails with CLOSED and nothing is written. */
  private closed = false

  private constructor(private readonly options: TopicsOptions) {}

  static async open(options: TopicsOptions): Promise<Topics> {
    const topics = new Topics(options)
    const entries = await readCatalog(options.io, options.dataDir)
    try {
      const names = options.readOnly ? [] : await topics.finishDeletes(entries)
      // Partitions are opened on their topic's first use: an open costs what it uses.
      for (const entry of entries) topics.topics.set(entry.name, { entry, logs: null, opening: null })
      topics.reportUnknown(names)
    } catch (error) {
      await topics.close().catch(() => undefined)
      throw error
    }
    return topics
  }

  private async openLogs(entry: TopicEntry, from: number): Promise<PartitionLog[]> {
    const { config } = entry
    const identity: TopicIdentity = { topicId: entry.topicId, createdAt: entry.createdAt }
    const partitions = Array.from({ length: config.partitions - from }, (_, i) => from + i)
    const openOne = async (p: number): Promise<PartitionLog> => {
      const log = await PartitionLog.open(partitionDir(this.options.dataDir, entry.name, p), {
        flush: config.flush,
        segmentBytes: config.segmentBytes,
        segmentMs: config.segmentMs,
        indexIntervalBytes: config.indexIntervalBytes,
        compression: config.compression,
        timestampType: config.timestampType,
        timestampBeforeMaxMs: config.timestampBeforeMaxMs,
        timestampAfterMaxMs: config.timestampAfterMaxMs,
        lock: false, // the spool holds the data directory's lock
        readOnly: this.options.readOnly,
        io: this.options.io,
        logger: this.options.logger,
        clock: this.options.clock,
      })
      identityOfLog.set(log, identity)
      return log
    }
    const closeAll = async (opened: PartitionLog[]): Promise<void> => {
      for (const log of opened) await log.close().catch(() => undefined)
    }
    const logs = await mapBounded(partitions, PARTITION_OPEN_CONCURRENCY, openOne, closeAll)
    // The partition directories' entries, made now or by a run that crashed before this
    // fsync, must survive a power cut as the catalog naming them does: one fsync for all.
    if (!this.options.readOnly && logs.length > 0) await fsyncDirectory(this.options.io, this.options.dataDir)
    return logs
  }

  /**
   * Deletes interrupted by a crash: a marked directory of a topic the catalog no longer
   * names is removed (the delete was committed); one of a topic it still names, by the
   * same id, is renamed back (the crash came before the commit). Returns the data
   * directory's entries as they are then.
   */
  private async finishDeletes(entries: readonly TopicEntry[]): Promise<string[]> {
    const { io, dataDir, logger } = this.options
    const names = await this.readDataDir()
    let changed = false
    for (const name of names) {
      const marked = parseDeletedPartitionDir(name)
      if (marked === null) continue
      const from = path.join(dataDir, name)
      const to = partitionDir(dataDir, marked.topic, marked.partition)
      const entry = entries.find((e) => e.name === marked.topic && e.topicId === marked.topicId)
      if (entry === undefined) {
        logger.warn(`finishing the delete of ${name} (a topic delete interrupted by a crash)`)
        await this.fsCall('removing', from, () => io.removeTree(from))
      } else if (marked.partition < entry.config.partitions && !names.includes(path.basename(to))) {
        logger.warn(`restoring ${to}: the delete of topic "${marked.topic}" was interrupted before the catalog recorded it`)
        await this.fsCall('restoring', to, () => io.rename(from, to))
      } else {
        logger.warn(`keeping ${from}: it is marked deleted, but the catalog names its topic and the directory cannot be put back; move it aside if it is not needed`)
        continue
      }
      changed = true
    }
    if (!changed) return names
    await fsyncDirectory(io, dataDir)
    return this.readDataDir()
  }

  /**
   * Partition directories the catalog does not name are kept and reported: a catalog can
   * be older than the directory (restored from a backup), and only a recorded delete
   * authorizes removing data.
   */
  private reportUnknown(names: readonly string[]): void {
    const unknown = names.filter((name) => {
      const parsed = parsePartitionDir(name)
      if (parsed === null) return false
      const topic = this.topics.get(parsed.topic)
      return topic === undefined || parsed.partition >= topic.entry.config.partitions
    })
    if (unknown.length === 0) return
    this.options.logger.warn(
      `${this.options.dataDir} holds partition directories the topic catalog does not name: ${unknown.join(', ')}; they are kept, untouched. ` +
        `If ${CATALOG_FILE} was restored from an older backup, restore a newer one that names them; otherwise move them aside.`,
    )
  }

  private async readDataDir(): Promise<string[]> {
    return this.fsCall('reading', this.options.dataDir, () => this.options.io.readdir(this.options.dataDir))
  }

  /** Runs one file-system call; its failure becomes an IO_ERROR (or DISK_FULL) naming the path. */
  private async fsCall<T>(action: string, file: string, run: () => Promise<T>): Promise<T> {
    try {
      return await run()
    } catch (error) {
      throw ioError(action, file, error)
    }
  }

  /**
   * A new partition must not open a directory already there: one the catalog does not
   * name holds someone's data (reported at open), and would become the new partition's.
   */
  private async checkNoDirectories(name: string, from: number, to: number): Promise<void> {
    const names = new Set(await this.readDataDir())
    for (let p = from; p < to; p++) {
      const dir = path.basename(partitionDir(this.options.dataDir, name, p))
      if (!names.has(dir)) continue
      throw new SpoolError(
        'TOPIC_EXISTS',
        `${path.join(this.options.dataDir, dir)} already exists, though the topic catalog does not name it; restore the ${CATALOG_FILE} that names it, or move the directory aside`,
        { details: { topic: name, partition: p, path: path.join(this.options.dataDir, dir) } },
      )
    }
  }

  /**
   * After close() the map of topics is empty: a catalog written then would name none of
   * the topics on disk. Every public call checks this first.
   */
  private checkOpen(): void {
    if (this.closed) throw closedError(this.options.dataDir)
  }

  /** Runs catalog changes one at a time. */
  private serially<T>(change: () => Promise<T>): Promise<T> {
    if (this.closed) return Promise.reject(closedError(this.options.dataDir))
    if (this.options.readOnly) {
      return Promise.reject(invalidArgument('topics', `cannot be changed: ${this.options.dataDir} was opened read-only`))
    }
    const run = this.changing.then(change, change)
    this.changing = run.catch(() => undefined)
    return run
  }

  private entries(): TopicEntry[] {
    return [...this.topics.values()].map((t) => t.entry)
  }

  private get(name: string): OpenTopic {
    const topic = this.topics.get(name)
    if (topic !== undefined) return topic
    checkTopicName(name)
    throw new SpoolError('UNKNOWN_TOPIC', `topic "${name}" does not exist; create it first (spool topics create ${name})`, {
      details: { topic: name },
    })
  }

  /**
   * A topic's configuration and partition logs, for the producer's hot path (one lookup a
   * send). The topic must have been opened (isOpen, ensureOpen).
   */
  open(name: string): { readonly config: TopicConfig; readonly logs: readonly PartitionLog[] } {
    this.checkOpen()
    const topic = this.get(name)
    return { config: topic.entry.config, logs: this.openedLogs(topic) }
  }

  /** Whether the topic's partitions are open (a send to it can be prepared at once). */
  isOpen(name: string): boolean {
    this.checkOpen()
    return this.get(name).logs !== null
  }

  /** Opens the topic's partitions if they are not yet (UNKNOWN_TOPIC if there is no such topic). */
  async ensureOpen(name: string): Promise<void> {
    this.checkOpen()
    await this.logsOf(this.get(name))
  }

  /**
   * A topic's partition logs, opened on its first use (recovering them if the last run
   * crashed): a spool's open then costs what it uses, not what the directory holds.
   */
  private logsOf(topic: OpenTopic): Promise<PartitionLog[]> {
    if (topic.logs !== null) return Promise.resolve(topic.logs)
    topic.opening ??= this.openLogs(topic.entry, 0)
      .then((logs) => (topic.logs = logs))
      .finally(() => {
        topic.opening = null
      })
    return topic.opening
  }

  private openedLogs(topic: OpenTopic): PartitionLog[] {
    if (topic.logs === null) throw new Error(`topic "${topic.entry.name}" is used before its partitions were opened`)
    return topic.logs
  }

  create(name: string, options: unknown): Promise<TopicDescription> {
    return this.serially(async () => {
      checkTopicName(name)
      if (this.topics.has(name)) {
        throw new SpoolError('TOPIC_EXISTS', `topic "${name}" already exists; pick another name or delete it first`, {
          details: { topic: name },
        })
      }
      const config = resolveTopicConfig(options, this.options.defaults)
      await this.checkNoDirectories(name, 0, config.partitions)
      const entry: TopicEntry = { name, topicId: newTopicId(), config, createdAt: this.options.clock() }
      await writeCatalog(this.options.io, this.options.dataDir, [...this.entries(), entry])
      this.topics.set(name, { entry, logs: await this.openLogs(entry, 0), opening: null })
      return this.describeOpen(name)
    })
  }

  delete(name: string): Promise<void> {
    return this.serially(async () => {
      const { io, dataDir } = this.options
      const topic = this.get(name)
      this.topics.delete(name)
      const logs = topic.logs ?? (await topic.opening?.catch(() => [])) ?? []
      // Partitions are closed, marked and removed PARTITION_OPEN_CONCURRENCY at a time, as
      // they are opened: one by one, a topic of 4,096 partitions took 17 s to delete.
      await mapBounded(logs, PARTITION_OPEN_CONCURRENCY, (log) => log.close())
      // The intent, durable before the catalog commits it (see finishDeletes): a crash
      // in between puts the directories back, one after it finishes the delete. A
      // partition never opened may have no directory yet.
      const present = new Set(await this.readDataDir())
      const partitions = Array.from({ length: topic.entry.config.partitions }, (_, p) => p).filter((p) =>
        present.has(path.basename(partitionDir(dataDir, name, p))),
      )
      const marked = partitions.map((p) => deletedPartitionDir(dataDir, name, p, topic.entry.topicId))
      await mapBounded(marked, PARTITION_OPEN_CONCURRENCY, (to, i) => this.fsCall('marking for deletion', to, () => io.rename(partitionDir(dataDir, name, partitions[i]!), to)))
      await fsyncDirectory(io, dataDir)
      await writeCatalog(io, dataDir, this.entries())
      await mapBounded(marked, PARTITION_OPEN_CONCURRENCY, (dir) => this.fsCall('removing', dir, () => io.removeTree(dir)))
      // A deleted partition must not come back after a power cut.
      await fsyncDirectory(io, dataDir)
    })
  }

  addPartitions(name: string, total: number): Promise<TopicDescription> {
    return this.serially(async () => {
      const topic = this.get(name)
      const current = topic.entry.config.partitions
      integerIn('partitions', total, current + 1, MAX_PARTITIONS) // more than now
      await this.checkNoDirectories(name, current, total)
      const entry: TopicEntry = { ...topic.entry, config: { ...topic.entry.config, partitions: total } }
      await writeCatalog(this.options.io, this.options.dataDir, this.entries().map((e) => (e.name === name ? entry : e)))
      // An opened topic opens its new partitions now; an unopened one opens them all on first
      // use. The new count shows only once their logs are there: a partition a reader may
      // name always has one.
      if (topic.logs === null && topic.opening !== null) await topic.opening.catch(() => null)
      // Read after the wait, with no await before the entry changes when it is null: an
      // open that starts now reads the new entry and opens every partition itself.
      const opened = topic.logs
      const added = opened === null ? [] : await this.openLogs(entry, current)
      topic.entry = entry
      opened?.push(...added)
      return this.describeOpen(name)
    })
  }

  list(): string[] {
    this.checkOpen()
    return [...this.topics.keys()].sort()
  }

  has(name: string): boolean {
    this.checkOpen()
    return this.topics.has(name)
  }

  /** The topic's id and creation time: what a group's commit on it is stamped with. */
  identity(name: string): TopicIdentity {
    this.checkOpen()
    const { topicId, createdAt } = this.get(name).entry
    return { topicId, createdAt }
  }

  /** A topic's configuration (UNKNOWN_TOPIC if there is no such topic). */
  config(name: string): TopicConfig {
    this.checkOpen()
    return this.get(name).entry.config
  }

  partitionCount(name: string): number {
    this.checkOpen()
    return this.get(name).entry.config.partitions
  }

  /** The log of one partition, opening its topic first if need be; UNKNOWN_TOPIC or UNKNOWN_PARTITION when there is none. */
  async logOf(name: string, partition: number): Promise<PartitionLog> {
    this.checkOpen()
    this.checkPartition(name, partition)
    await this.ensureOpen(name)
    return this.log(name, partition)
  }

  /** The same, for a topic known to be open (see isOpen). */
  log(name: string, partition: number): PartitionLog {
    this.checkOpen()
    this.checkPartition(name, partition)
    return this.openedLogs(this.get(name))[partition]!
  }

  private checkPartition(name: string, partition: number): void {
    const { partitions } = this.get(name).entry.config
    nonNegativeInteger('partition', partition)
    if (partition >= partitions) {
      throw new SpoolError('UNKNOWN_PARTITION', `topic "${name}" has partitions 0..${partitions - 1}, not ${partition}`, {
        details: { topic: name, partition },
      })
    }
  }

  /**
   * One pass of the cleaners: retention on 'delete' topics that set a limit, compaction
   * on 'compact' topics. A failure on one partition is reported and the others go on.
   */
  async runCleanup(now: number): Promise<CleanupReport> {
    this.checkOpen()
    const report: CleanupReport = { deletedSegments: 0, compactedSegments: 0, failures: 0 }
    if (this.options.readOnly) return report
    for (const topic of [...this.topics.values()]) {
      const { entry } = topic
      const { config } = entry
      if (config.cleanup !== 'compact' && config.retentionMs === null && config.retentionBytes === null) continue
      let logs: PartitionLog[]
      try {
        logs = await this.logsOf(topic)
      } catch (error) {
        report.failures++
        this.options.logger.warn(`cleanup of ${entry.name} failed: ${(error as Error).message}`)
        continue
      }
      for (const [partition, log] of logs.entries()) {
        try {
          if (config.cleanup === 'compact') {
            report.compactedSegments += (await log.compact({ now, deleteRetentionMs: config.deleteRetentionMs })).segmentsCleaned
          } else if (config.retentionMs !== null || config.retentionBytes !== null) {
            const result = await log.applyRetention({
              now,
              ...(config.retentionMs === null ? {} : { retentionMs: config.retentionMs }),
              ...(config.retentionBytes === null ? {} : { retentionBytes: config.retentionBytes }),
            })
            report.deletedSegments += result.deletedSegments
          }
        } catch (error) {
          report.failures++
          this.options.logger.warn(`cleanup of ${entry.name}-${partition} failed: ${(error as Error).message}`)
        }
      }
    }
    return report
  }

  async describe(name: string): Promise<TopicDescription> {
    this.checkOpen()
    return this.describeOpen(name)
  }

  /** describe() for a change in progress, which close() waits for. */
  private async describeOpen(name: string): Promise<TopicDescription> {
    const topic = this.get(name)
    const partitions: PartitionDescription[] = []
    for (const [partition, log] of (await this.logsOf(topic)).entries()) {
      partitions.push({
        partition,
        startOffset: log.startOffset,
        endOffset: log.endOffset,
        bytes: await log.sizeBytes(),
        segments: log.segmentCount,
        quarantined: log.quarantined,
      })
    }
    const { config, topicId, createdAt } = topic.entry
    return { name, topicId, config, createdAt, partitions }
  }

  async close(): Promise<void> {
    this.closed = true
    await this.changing
    const errors: unknown[] = []
    const topics = [...this.topics.values()]
    await Promise.all(topics.map((topic) => topic.opening?.catch(() => undefined)))
    const logs = topics.flatMap((topic) => topic.logs ?? [])
    await mapBounded(logs, PARTITION_OPEN_CONCURRENCY, (log) => log.close().catch((error: unknown) => void errors.push(error)))
    this.topics.clear()
    if (errors.length > 0) throw errors[0]
  }
}

function closedError(dataDir: string): SpoolError {
  return new SpoolError('CLOSED', `the spool in ${dataDir} is closed; open it again to use its topics`, { details: { dir: dataDir } })
}
