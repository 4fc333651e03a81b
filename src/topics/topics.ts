import path from 'node:path'
import { SpoolError, invalidArgument, ioError } from '../errors.js'
import { fsyncDirectory } from '../storage/atomic-file.js'
import type { StorageIO } from '../storage/io.js'
import type { Logger } from '../storage/logger.js'
import { PartitionLog } from '../storage/partition-log.js'
import type { QuarantinedRange } from '../storage/quarantine-record.js'
import { type TopicEntry, partitionDir, parsePartitionDir, readCatalog, writeCatalog } from './catalog.js'
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

interface OpenTopic {
  entry: TopicEntry
  logs: PartitionLog[]
}

/**
 * The topics of one data directory and their open partition logs. Every change to the
 * set of topics is written to the catalog first, then to the partition directories, one
 * change at a time: after a crash the catalog says what exists, and directories it does
 * not name are removed at the next open.
 */
export class Topics {
  private readonly topics = new Map<string, OpenTopic>()
  private changing: Promise<unknown> = Promise.resolve()

  private constructor(private readonly options: TopicsOptions) {}

  static async open(options: TopicsOptions): Promise<Topics> {
    const topics = new Topics(options)
    const entries = await readCatalog(options.io, options.dataDir)
    try {
      for (const entry of entries) topics.topics.set(entry.name, { entry, logs: await topics.openLogs(entry, 0) })
      if (!options.readOnly) await topics.removeLeftovers()
    } catch (error) {
      await topics.close().catch(() => undefined)
      throw error
    }
    return topics
  }

  private async openLogs(entry: TopicEntry, from: number): Promise<PartitionLog[]> {
    const { config } = entry
    const logs: PartitionLog[] = []
    for (let p = from; p < config.partitions; p++) {
      logs.push(
        await PartitionLog.open(partitionDir(this.options.dataDir, entry.name, p), {
          flush: config.flush,
          segmentBytes: config.segmentBytes,
          segmentMs: config.segmentMs,
          indexIntervalBytes: config.indexIntervalBytes,
          lock: false, // the spool holds the data directory's lock
          readOnly: this.options.readOnly,
          io: this.options.io,
          logger: this.options.logger,
          clock: this.options.clock,
        }),
      )
    }
    // The partition directories' entries, made now or by a run that crashed before this
    // fsync, must survive a power cut as the catalog naming them does: one fsync for all.
    if (!this.options.readOnly && logs.length > 0) await fsyncDirectory(this.options.io, this.options.dataDir)
    return logs
  }

  /** Partition directories of deleted topics (a delete interrupted by a crash). */
  private async removeLeftovers(): Promise<void> {
    const names = await this.options.io.readdir(this.options.dataDir)
    for (const name of names) {
      const parsed = parsePartitionDir(name)
      if (parsed === null) continue
      const topic = this.topics.get(parsed.topic)
      if (topic !== undefined && parsed.partition < topic.entry.config.partitions) continue
      this.options.logger.warn(`removing ${name}: the topic catalog does not name this partition (an interrupted delete)`)
      await this.options.io.removeTree(path.join(this.options.dataDir, name))
      await fsyncDirectory(this.options.io, this.options.dataDir)
    }
  }

  /** Runs catalog changes one at a time. */
  private serially<T>(change: () => Promise<T>): Promise<T> {
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

  /** A topic's configuration and partition logs, for the producer's hot path (one lookup a send). */
  open(name: string): { readonly config: TopicConfig; readonly logs: readonly PartitionLog[] } {
    const topic = this.get(name)
    return { config: topic.entry.config, logs: topic.logs }
  }

  create(name: string, options: unknown): Promise<TopicDescription> {
    return this.serially(async () => {
      checkTopicName(name)
      if (this.topics.has(name)) {
        throw new SpoolError('TOPIC_EXISTS', `topic "${name}" already exists; pick another name or delete it first`, {
          details: { topic: name },
        })
      }
      const entry: TopicEntry = { name, config: resolveTopicConfig(options, this.options.defaults), createdAt: this.options.clock() }
      await writeCatalog(this.options.io, this.options.dataDir, [...this.entries(), entry])
      this.topics.set(name, { entry, logs: await this.openLogs(entry, 0) })
      return this.describe(name)
    })
  }

  delete(name: string): Promise<void> {
    return this.serially(async () => {
      const topic = this.get(name)
      this.topics.delete(name)
      await writeCatalog(this.options.io, this.options.dataDir, this.entries())
      for (const log of topic.logs) await log.close()
      for (let p = 0; p < topic.logs.length; p++) {
        const dir = partitionDir(this.options.dataDir, name, p)
        try {
          await this.options.io.removeTree(dir)
        } catch (error) {
          throw ioError('removing', dir, error)
        }
      }
      // A deleted partition must not come back after a power cut.
      await fsyncDirectory(this.options.io, this.options.dataDir)
    })
  }

  addPartitions(name: string, total: number): Promise<TopicDescription> {
    return this.serially(async () => {
      const topic = this.get(name)
      const current = topic.entry.config.partitions
      integerIn('partitions', total, current + 1, MAX_PARTITIONS) // more than now
      const entry: TopicEntry = { ...topic.entry, config: { ...topic.entry.config, partitions: total } }
      await writeCatalog(this.options.io, this.options.dataDir, this.entries().map((e) => (e.name === name ? entry : e)))
      topic.entry = entry
      topic.logs.push(...(await this.openLogs(entry, current)))
      return this.describe(name)
    })
  }

  list(): string[] {
    return [...this.topics.keys()].sort()
  }

  has(name: string): boolean {
    return this.topics.has(name)
  }

  partitionCount(name: string): number {
    return this.get(name).logs.length
  }

  /** The log of one partition; UNKNOWN_TOPIC or UNKNOWN_PARTITION when there is none. */
  log(name: string, partition: number): PartitionLog {
    const topic = this.get(name)
    nonNegativeInteger('partition', partition)
    const log = topic.logs[partition]
    if (log === undefined) {
      throw new SpoolError('UNKNOWN_PARTITION', `topic "${name}" has partitions 0..${topic.logs.length - 1}, not ${partition}`, {
        details: { topic: name, partition },
      })
    }
    return log
  }

  /**
   * One pass of the cleaners: retention on 'delete' topics that set a limit, compaction
   * on 'compact' topics. A failure on one partition is reported and the others go on.
   */
  async runCleanup(now: number): Promise<CleanupReport> {
    const report: CleanupReport = { deletedSegments: 0, compactedSegments: 0, failures: 0 }
    if (this.options.readOnly) return report
    for (const { entry, logs } of [...this.topics.values()]) {
      const { config } = entry
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
    const topic = this.get(name)
    const partitions: PartitionDescription[] = []
    for (const [partition, log] of topic.logs.entries()) {
      partitions.push({
        partition,
        startOffset: log.startOffset,
        endOffset: log.endOffset,
        bytes: await log.sizeBytes(),
        segments: log.segmentCount,
        quarantined: log.quarantined,
      })
    }
    return { name, config: topic.entry.config, createdAt: topic.entry.createdAt, partitions }
  }

  async close(): Promise<void> {
    await this.changing
    const errors: unknown[] = []
    for (const topic of this.topics.values()) {
      for (const log of topic.logs) await log.close().catch((error: unknown) => errors.push(error))
    }
    this.topics.clear()
    if (errors.length > 0) throw errors[0]
  }
}
