import path from 'node:path'
import { invalidArgument, ioError } from '../errors.js'
import { type DirLock, acquireDirLock } from '../storage/dir-lock.js'
import { type StorageIO, nodeIO } from '../storage/io.js'
import { type Logger, stderrLogger } from '../storage/logger.js'
import { DEFAULT_TOPIC_CONFIG, type TopicConfig, resolveTopicConfig } from '../topics/topic-config.js'
import { type TopicDescription, Topics } from '../topics/topics.js'
import { Producer, type ProducerOptions } from './producer.js'

/** Where the CLI and the demo keep their data unless told otherwise. */
export const DEFAULT_DATA_DIR = './spool-data'
export const DATA_DIR_ENV = 'SPOOL_DATA_DIR'

export function defaultDataDir(): string {
  return process.env[DATA_DIR_ENV] ?? DEFAULT_DATA_DIR
}

export type TopicOptions = Partial<TopicConfig>

export interface SpoolOptions extends TopicOptions {
  /** The data directory; `$SPOOL_DATA_DIR` or ./spool-data when omitted. */
  dir?: string
  logger?: Logger
  /** Milliseconds since the epoch; injected so tests control time. */
  clock?: () => number
  /** The file-system seam (tests wrap it to inject faults). */
  io?: StorageIO
}

/**
 * An open data directory: its lock, its topic catalog and partition logs, and the
 * clients made from it. `close()` flushes, writes each partition's clean-shutdown
 * marker and releases the directory.
 */
export class Spool {
  private readonly producers = new Set<Producer>()
  private closing: Promise<void> | null = null

  private constructor(
    readonly dir: string,
    private readonly topics: Topics,
    private readonly lock: DirLock,
  ) {}

  static async open(options: SpoolOptions = {}): Promise<Spool> {
    const { dir: givenDir, logger = stderrLogger, clock = Date.now, io = nodeIO, ...topicDefaults } = options
    if (givenDir !== undefined && (typeof givenDir !== 'string' || givenDir === '')) throw invalidArgument('dir', 'must be a directory path')
    const dir = path.resolve(givenDir ?? defaultDataDir())
    const defaults = resolveTopicConfig(topicDefaults, DEFAULT_TOPIC_CONFIG)
    try {
      await io.mkdirp(dir)
    } catch (error) {
      throw ioError('creating the data directory', dir, error)
    }
    const lock = await acquireDirLock(dir)
    try {
      const topics = await Topics.open({ dataDir: dir, defaults, io, logger, clock })
      return new Spool(dir, topics, lock)
    } catch (error) {
      await lock.release()
      throw error
    }
  }

  createTopic(name: string, options: TopicOptions = {}): Promise<TopicDescription> {
    return this.topics.create(name, options)
  }

  deleteTopic(name: string): Promise<void> {
    return this.topics.delete(name)
  }

  listTopics(): string[] {
    return this.topics.list()
  }

  describeTopic(name: string): Promise<TopicDescription> {
    return this.topics.describe(name)
  }

  /** Raises the topic's partition count to `total` (partitions are never removed). */
  addPartitions(name: string, total: number): Promise<TopicDescription> {
    return this.topics.addPartitions(name, total)
  }

  producer(options: ProducerOptions = {}): Producer {
    const producer = new Producer(this.topics, options)
    this.producers.add(producer)
    return producer
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      try {
        for (const producer of this.producers) await producer.close().catch(() => undefined)
        await this.topics.close()
      } finally {
        await this.lock.release()
      }
    })()
    return this.closing
  }
}

export function openSpool(options: SpoolOptions = {}): Promise<Spool> {
  return Spool.open(options)
}
