import path from 'node:path'
import { MAX_TIMER_MS } from '../limits.js'
import { SpoolError, invalidArgument, ioError } from '../errors.js'
import { createDirectoryDurably } from '../storage/atomic-file.js'
import { type DirLock, acquireDirLock } from '../storage/dir-lock.js'
import { type StorageIO, nodeIO } from '../storage/io.js'
import { PRODUCER_IDS_FILE, ProducerIdAllocator } from '../storage/producer-ids.js'
import { type Logger, stderrLogger } from '../storage/logger.js'
import { DEFAULT_TOPIC_CONFIG, type TopicConfig, resolveTopicConfig } from '../topics/topic-config.js'
import { type CleanupReport, type TopicDescription, Topics } from '../topics/topics.js'
import type { RebalanceEvent } from '../groups/coordinator.js'
import { Consumer } from './consumer.js'
import type { ConsumerOptions } from './consumer-options.js'
import { GroupAdmin, type GroupReport, type ResetPlanEntry, type ResetTarget } from './group-admin.js'
import { GROUPS_DIR, GroupHub } from './group-hub.js'
import type { OpenGroupDatabase } from '../groups/offset-store.js'
import { CATALOG_FILE } from '../topics/catalog.js'
import { CLUSTER_ID_FILE, LISTENER_FILE, LOCK_FILE, WRITER_LOCK_DIR, tempPathOf } from '../storage/paths.js'
import type { Broker } from '../kafka/broker.js'
import { loadClusterId } from '../storage/cluster-id.js'
import { removeListenerFile } from '../storage/listener-file.js'
import type { BoundAddress, KafkaListener, ListenOptions as ListenerAddressOptions } from '../kafka/server/listener.js'
import { Producer, type ProducerOptions } from './producer.js'
import { type ConsumedRecord, type ReadStreamOptions, readTopic, readTopicBatches } from './reader.js'
import { integerIn, nonNegativeInteger } from '../validate.js'

/** Where the CLI and the demo keep their data unless told otherwise. */
export const DEFAULT_DATA_DIR = './spool-data'
export const DATA_DIR_ENV = 'SPOOL_DATA_DIR'

export function defaultDataDir(): string {
  return process.env[DATA_DIR_ENV] ?? DEFAULT_DATA_DIR
}

export type TopicOptions = Partial<TopicConfig>

/** spool.listen(): where the Kafka listener binds, what it advertises, and whether it creates topics on demand. */
export interface ListenOptions extends ListenerAddressOptions {
  /**
   * Kafka's auto.create.topics.enable: a Metadata or Produce request naming an unknown
   * topic creates it, with this spool's topic defaults. Off by default.
   */
  readonly autoCreateTopics?: boolean
}

export interface SpoolOptions extends TopicOptions {
  /** The data directory; `$SPOOL_DATA_DIR` or ./spool-data when omitted. */
  dir?: string
  logger?: Logger
  /** Milliseconds since the epoch; injected so tests control time. */
  clock?: () => number
  /** The file-system seam (tests wrap it to inject faults). */
  io?: StorageIO
  /**
   * Makes the group store's database (committed offsets); LevelDB in `<dir>/groups` by
   * default. Its files do not go through `io`, so a simulated disk passes its own here.
   */
  openGroupDatabase?: OpenGroupDatabase
  /** How often retention and compaction run in the background; 0 turns them off (run them with runCleanup()). */
  cleanerIntervalMs?: number
  /**
   * Inspect only: takes no lock (works while another process writes), changes no file,
   * refuses topic changes, producers and consumers (NEEDS_OWNER). What it reads is the
   * data as of the open; `read(…, { follow: true })` follows what the writer appends after.
   */
  readOnly?: boolean
  /**
   * Whether a writable open creates the data directory (and its parents) when it does not
   * exist. Default true; with false, a missing directory fails with DATA_DIR_NOT_FOUND, as
   * it always does for a read-only open (the CLI creates one only on `spool init` or
   * `--create`, so that a mistyped --data-dir is not made silently).
   */
  create?: boolean
}

/**
 * Retention and compaction run this often. Kafka checks retention every 5 minutes and
 * backs its cleaner off 15 s; a minute keeps an embedded store's disk use close to its
 * limits without waking an idle process often.
 */
export const DEFAULT_CLEANER_INTERVAL_MS = 60_000

/** The one broker a spool is, as Kafka clients see it. */
export const KAFKA_NODE_ID = 0

/**
 * An open data directory: its lock, its topic catalog and partition logs, and the
 * clients made from it. `close()` flushes, writes each partition's clean-shutdown
 * marker and releases the directory.
 */
export class Spool {
  private readonly producers = new Set<Producer>()
  private readonly consumers = new Set<Consumer>()
  private closing: Promise<void> | null = null
  private cleaning: Promise<CleanupReport> | null = null
  private cleanerTimer: NodeJS.Timeout | null = null

  /** Hands out idempotent producers' ids; opened by the first producer that needs one. */
  private producerIds: Promise<ProducerIdAllocator> | null = null

  /** The Kafka listener, from listen() until close() (null again if it failed to start). */
  private listening: Promise<{ listener: KafkaListener; address: BoundAddress }> | null = null

  private constructor(
    readonly dir: string,
    private readonly topics: Topics,
    private readonly lock: DirLock | null,
    private readonly clock: () => number,
    private readonly logger: Logger,
    readonly readOnly: boolean,
    /** Consumer groups: the offset store, opened on first use, and the coordinator. */
    readonly groups: GroupHub,
    private readonly io: StorageIO,
  ) {}

  private allocateProducerId(): Promise<number> {
    const opening = (this.producerIds ??= ProducerIdAllocator.open(this.dir, this.io))
    return opening.then(
      (allocator) => allocator.allocate(),
      (error: unknown) => {
        if (this.producerIds === opening) this.producerIds = null // the next producer tries again
        throw error
      },
    )
  }

  private startCleaner(intervalMs: number): void {
    if (intervalMs === 0) return
    this.cleanerTimer = setInterval(() => void this.runCleanup().catch(() => undefined), intervalMs)
    this.cleanerTimer.unref()
  }

  /**
   * Runs retention and compaction once, now (they also run every cleanerIntervalMs).
   * Appends and reads go on meanwhile.
   */
  runCleanup(): Promise<CleanupReport> {
    if (this.closing !== null) return Promise.reject(this.closedError())
    this.cleaning ??= this.topics.runCleanup(this.clock()).finally(() => {
      this.cleaning = null
    })
    return this.cleaning
  }

  static async open(options: SpoolOptions = {}): Promise<Spool> {
    const {
      dir: givenDir,
      logger = stderrLogger,
      clock = Date.now,
      io = nodeIO,
      cleanerIntervalMs = DEFAULT_CLEANER_INTERVAL_MS,
      readOnly = false,
      create = true,
      openGroupDatabase,
      ...topicDefaults
    } = options
    integerIn('cleanerIntervalMs', cleanerIntervalMs, 0, MAX_TIMER_MS)
    if (givenDir !== undefined && (typeof givenDir !== 'string' || givenDir === '')) throw invalidArgument('dir', 'must be a directory path')
    const dir = path.resolve(givenDir ?? defaultDataDir())
    const defaults = resolveTopicConfig(topicDefaults, DEFAULT_TOPIC_CONFIG)
    // A directory that exists must be a spool's, for writing as for reading: a typo in
    // --data-dir must not lock, create files in, or "recover" someone else's folder.
    if (typeof create !== 'boolean') throw invalidArgument('create', 'must be true or false')
    const entries = await existingEntries(io, dir, !readOnly && create)
    if (entries !== null) checkLooksLikeSpool(dir, entries)
    else await createDirectoryDurably(io, dir)
    const lock = readOnly ? null : await acquireDirLock(dir, io)
    try {
      // Holding the lock proves that no listener of this directory is running: a file left
      // by one that was killed would send the CLI to a dead address.
      if (lock !== null && entries?.includes(LISTENER_FILE) === true) await removeListenerFile(io, dir)
      const topics = await Topics.open({ dataDir: dir, defaults, io, logger, clock, readOnly })
      const groups = new GroupHub({ dataDir: dir, topics, clock, logger, readOnly, openDatabase: openGroupDatabase })
      const spool = new Spool(dir, topics, lock, clock, logger, readOnly, groups, io)
      if (!readOnly) spool.startCleaner(cleanerIntervalMs)
      return spool
    } catch (error) {
      await lock?.release()
      throw error
    }
  }

  /**
   * Every call after close() fails with CLOSED, before it touches anything: the lock is
   * released then, and another process may own the directory.
   */
  private checkOpen(): void {
    if (this.closing !== null) throw this.closedError()
  }

  private closedError(): SpoolError {
    return new SpoolError('CLOSED', `the spool in ${this.dir} is closed; open it again with openSpool()`, { details: { dir: this.dir } })
  }

  async createTopic(name: string, options: TopicOptions = {}): Promise<TopicDescription> {
    this.checkOpen()
    const described = await this.topics.create(name, options)
    await this.groups.partitionsChanged(name)
    return described
  }

  async deleteTopic(name: string): Promise<void> {
    this.checkOpen()
    await this.topics.delete(name)
    await this.groups.partitionsChanged(name)
  }

  listTopics(): string[] {
    this.checkOpen()
    return this.topics.list()
  }

  async describeTopic(name: string): Promise<TopicDescription> {
    this.checkOpen()
    return this.topics.describe(name)
  }

  /** Raises the topic's partition count to `total` (partitions are never removed). */
  async addPartitions(name: string, total: number): Promise<TopicDescription> {
    this.checkOpen()
    const described = await this.topics.addPartitions(name, total)
    await this.groups.partitionsChanged(name)
    return described
  }

  /** The first offset of a partition whose record is stamped at or after `timestamp`, or null (none yet). */
  offsetForTimestamp(topic: string, partition: number, timestamp: number): Promise<number | null> {
    try {
      this.checkOpen()
      return this.topics.logOf(topic, partition).then((log) => log.offsetForTimestamp(timestamp))
    } catch (error) {
      return Promise.reject(error)
    }
  }

  /**
   * What the Kafka listener sees of this spool (src/kafka/broker.ts): its topics and
   * partition logs, shared with in-process producers and consumers. Makes the data
   * directory's cluster id on first use. For the listener; not part of the public API.
   * @internal
   */
  async kafkaBroker(options: { autoCreateTopics: boolean }): Promise<Broker> {
    this.checkOpen()
    if (this.readOnly) throw new SpoolError('NEEDS_OWNER', `${this.dir} was opened read-only; a Kafka listener needs the directory's owner`)
    const clusterId = await loadClusterId(this.io, this.dir)
    const { topics, logger } = this
    return {
      clusterId,
      nodeId: KAFKA_NODE_ID,
      autoCreateTopics: options.autoCreateTopics,
      logger,
      topicNames: () => topics.list(),
      hasTopic: (name) => topics.has(name),
      topicConfig: (name) => topics.config(name),
      log: (topic, partition) => topics.logOf(topic, partition),
      createTopic: (name, topicOptions) => this.createTopic(name, topicOptions),
      deleteTopic: (name) => this.deleteTopic(name),
      addPartitions: (name, total) => this.addPartitions(name, total),
      allocateProducerId: () => this.allocateProducerId(),
    }
  }

  /**
   * Serves this spool over the Kafka wire protocol, so that other processes (kcat,
   * kafkajs, librdkafka, kafka-python, the `spool` CLI) produce and consume while this
   * process goes on using it in-process. Binds 127.0.0.1:9092 unless told otherwise
   * (port 0: a free port); resolves with the bound address. One listener per spool;
   * close() closes it first, letting the requests in flight finish.
   */
  listen(options: ListenOptions = {}): Promise<BoundAddress> {
    try {
      this.checkOpen()
      if (this.readOnly) throw new SpoolError('NEEDS_OWNER', `${this.dir} was opened read-only; a Kafka listener needs the directory's owner`, { details: { field: 'listen' } })
      if (this.listening !== null) throw invalidArgument('listen', 'was called already: a spool has one Kafka listener')
    } catch (error) {
      return Promise.reject(error)
    }
    const listening = this.startListener(options)
    this.listening = listening
    return listening.then(
      ({ address }) => address,
      (error: unknown) => {
        if (this.listening === listening) this.listening = null // another port may be tried
        throw error
      },
    )
  }

  private async startListener(options: ListenOptions): Promise<{ listener: KafkaListener; address: BoundAddress }> {
    const { autoCreateTopics = false, ...where } = options
    if (typeof autoCreateTopics !== 'boolean') throw invalidArgument('autoCreateTopics', 'must be true or false')
    const broker = await this.kafkaBroker({ autoCreateTopics })
    // Loaded here, not at the top: an application that never listens does not load the codec.
    const [{ KafkaListener }, { createDispatcher }] = await Promise.all([import('../kafka/server/listener.js'), import('../kafka/server/dispatch.js')])
    const listener = new KafkaListener({ dataDir: this.dir, io: this.io, logger: this.logger, dispatcher: (advertised) => createDispatcher({ broker, advertised }) })
    const address = await listener.start(where)
    if (this.closing !== null) {
      await listener.close()
      throw this.closedError()
    }
    return { listener, address }
  }

  /** Replays a partition, no group involved: `for await (const record of spool.read(topic, { partition, fromOffset }))`. */
  read(topic: string, options: ReadStreamOptions = {}): AsyncGenerator<ConsumedRecord, void, undefined> {
    // After close() it fails with CLOSED at the first step, as it fails for a bad topic (Topics checks).
    return readTopic(this.topics, topic, options)
  }

  /**
   * The same records as `read()`, a log read's worth (about `maxBytes`, 1 MiB by default) at a
   * time: `for await (const records of spool.readBatches(topic, { partition }))`.
   */
  readBatches(topic: string, options: ReadStreamOptions = {}): AsyncGenerator<ConsumedRecord[], void, undefined> {
    return readTopicBatches(this.topics, topic, options)
  }

  producer(options: ProducerOptions = {}): Producer {
    this.checkOpen()
    if (this.readOnly) throw invalidArgument('producer', `is not available: ${this.dir} was opened read-only`)
    const producer = new Producer(this.topics, options, () => this.allocateProducerId())
    this.producers.add(producer)
    return producer
  }

  /**
   * A member of a consumer group: `spool.consumer({ group: 'workers', topics: ['orders'] })`.
   * It joins at once; deliver with `run`, `for await` or `poll`.
   */
  consumer(options: ConsumerOptions): Consumer {
    this.checkOpen()
    if (this.readOnly) {
      throw new SpoolError(
        'NEEDS_OWNER',
        `consumer is not available: ${this.dir} was opened read-only, and group consumption needs the owning process (the one that opened it writable): ` +
          'consume there, or run `spool serve` there once the Kafka listener lands; spool.read() follows a topic read-only',
        { details: { field: 'consumer' } },
      )
    }
    const consumer = new Consumer(
      { topics: this.topics, hub: this.groups, clock: this.clock, logger: this.logger, onClosed: (c) => this.consumers.delete(c) },
      options,
    )
    this.consumers.add(consumer)
    return consumer
  }

  private async admin(change?: string): Promise<GroupAdmin> {
    // Also keeps a closed spool from opening its group store again (and leaving it open).
    this.checkOpen()
    if (change !== undefined && this.readOnly) throw invalidArgument(change, `is not available: ${this.dir} was opened read-only`)
    return new GroupAdmin(await this.groups.coordinator(), this.topics, this.clock)
  }

  /** Groups with committed offsets, or with members now. */
  async listGroups(): Promise<string[]> {
    return (await this.admin()).list()
  }

  /** A group's members, and per partition its committed offset, end offset and lag. UNKNOWN_GROUP if there is no such group. */
  async describeGroup(group: string): Promise<GroupReport> {
    return (await this.admin()).describe(group)
  }

  /** What resetting a group's offsets to `target` would do; changes nothing. */
  async planGroupReset(group: string, target: ResetTarget, topics?: readonly string[]): Promise<ResetPlanEntry[]> {
    return (await this.admin()).planReset(group, target, topics)
  }

  /** Stores a reset plan's offsets; refused while the group has members (GROUP_NOT_EMPTY). */
  async applyGroupReset(group: string, plan: readonly ResetPlanEntry[]): Promise<void> {
    return (await this.admin('applyGroupReset')).applyReset(group, plan)
  }

  /** Forgets a group's offsets and generation; refused while it has members. */
  async deleteGroup(group: string): Promise<void> {
    return (await this.admin('deleteGroup')).delete(group)
  }

  /** Calls `listener` after every rebalance of every group, with its reason and what moved; returns the function that stops it. */
  onRebalance(listener: (event: RebalanceEvent) => void): () => void {
    this.checkOpen()
    return this.groups.onRebalance(listener)
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      if (this.cleanerTimer !== null) clearInterval(this.cleanerTimer)
      await this.cleaning?.catch(() => undefined)
      try {
        // The listener first: no new request comes in, and those in flight finish against open topics.
        await this.listening?.then(({ listener }) => listener.close(), () => undefined)
        await Promise.all([...this.consumers].map((consumer) => consumer.close().catch(() => undefined)))
        for (const producer of this.producers) await producer.close().catch(() => undefined)
        await this.groups.close()
        await this.topics.close()
      } finally {
        await this.lock?.release()
      }
    })()
    return this.closing
  }
}

/**
 * Inspection must not report a wrong directory as an empty spool: one without a catalog
 * may hold only what a spool puts there (a spool with no topic yet writes none).
 */
function checkLooksLikeSpool(dir: string, entries: readonly string[]): void {
  if (entries.includes(CATALOG_FILE)) return
  // Partition directories are made only after the catalog that names them is durable: a
  // folder named like one (`report-2024`) beside no catalog is someone else's. A catalog
  // still aside (a crash during the first topic's creation) is the spool's own.
  const own = new Set([
    ...[CATALOG_FILE, PRODUCER_IDS_FILE, CLUSTER_ID_FILE, LISTENER_FILE].map(tempPathOf),
    ...[LOCK_FILE, WRITER_LOCK_DIR, GROUPS_DIR, PRODUCER_IDS_FILE, CLUSTER_ID_FILE, LISTENER_FILE],
  ])
  const foreign = entries.filter((name) => !own.has(name))
  if (foreign.length === 0) return
  throw invalidArgument(
    'dir',
    `${dir} is not a spool data directory: it has no ${CATALOG_FILE} and holds ${foreign.slice(0, 3).join(', ')}${foreign.length > 3 ? ', …' : ''}; check --data-dir (or $${DATA_DIR_ENV})`,
  )
}

/**
 * The data directory's entries; null when it does not exist and may be created. A
 * directory that is not there, when it may not be created, is DATA_DIR_NOT_FOUND: a
 * mistyped path, not a disk to check.
 */
async function existingEntries(io: StorageIO, dir: string, mayCreate: boolean): Promise<string[] | null> {
  try {
    return await io.readdir(dir)
  } catch (error) {
    const errno = (error as NodeJS.ErrnoException).code
    if (errno === 'ENOENT' && mayCreate) return null
    if (errno === 'ENOENT' || errno === 'ENOTDIR') {
      const what = errno === 'ENOENT' ? 'does not exist' : 'is not a directory'
      throw new SpoolError('DATA_DIR_NOT_FOUND', `the data directory ${dir} ${what}; check --data-dir (or $${DATA_DIR_ENV})`, {
        cause: error,
        details: { dir, errno },
      })
    }
    throw ioError('opening the data directory', dir, error)
  }
}

export function openSpool(options: SpoolOptions = {}): Promise<Spool> {
  return Spool.open(options)
}
