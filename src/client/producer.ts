import { SpoolError, invalidArgument } from '../errors.js'
import { MAX_TIMER_MS } from '../limits.js'
import type { RecordInput } from '../record/types.js'
import { type CompressionCodec, parseCompressionCodec } from '../record/compression/index.js'
import type { AppendResult, PartitionLog } from '../storage/partition-log.js'
import type { Topics } from '../topics/topics.js'
import { integerIn, nonNegativeInteger } from '../validate.js'
import { OpenBatch, type RecordMetadata, type TopicBatches, metadataOf } from './producer-batch.js'
import { Appender } from './producer-appender.js'
import { BatchSend } from './producer-batch-send.js'
import { BATCH_RECORDS_MAX_BYTES, type Placement, type ProducerRecord, checkRecord, prepareRecord, scanPlain } from './producer-record.js'
import { Staging } from './producer-staging.js'
import { ProducerTopics } from './producer-topics.js'
import { ProducerSequences } from './producer-sequences.js'
import { WriteTurns } from './producer-turns.js'

export type { RecordMetadata } from './producer-batch.js'
export type { ProducerRecord } from './producer-record.js'

export interface ProducerOptions {
  /**
   * How long a batch waits for more records before it is written. 0: until the current
   * tick ends, or the next turn of the event loop if its partition is busy (producer-turns.ts).
   */
  lingerMs?: number
  /**
   * A batch is written as soon as its records reach this many bytes. Never more than the
   * log takes in one batch: a larger value is cut to that, so a full batch is written,
   * not refused whole.
   */
  maxBatchBytes?: number
  /**
   * How this producer's batches are compressed on disk: 'none' (default), 'gzip',
   * 'snappy', 'lz4' or 'zstd'. A topic whose `compression` names a codec uses its own.
   */
  compression?: CompressionCodec
  /**
   * Default true: batches carry a producer id, epoch and sequence numbers, and a partition
   * stores a batch sent again (after its acknowledgement was lost) once, answering with its
   * first offsets — Kafka's enable.idempotence.
   */
  idempotent?: boolean
}

/** Kafka's batch.size is 16 KiB; spool's batches are one write each, so larger ones pay. */
export const DEFAULT_PRODUCER_MAX_BATCH_BYTES = 1024 * 1024
export const DEFAULT_LINGER_MS = 0

/** The index prepareRecord is given for a send()'s record: its errors name `record`, not `records[i]`. */
const SINGLE_SEND = -1

/**
 * Sends records to topics. Sends made close together are coalesced into one batch per
 * partition — one append, so one write and (flush 'always') one fsync for all of them —
 * written when the current tick ends (lingerMs 0; producer-turns.ts), after lingerMs, or
 * when the batch reaches maxBatchBytes. A batch settles its sends from its base offset.
 */
export class Producer {
  private readonly topics: ProducerTopics
  private readonly lingerMs: number
  private readonly maxBatchBytes: number
  private readonly compression: CompressionCodec
  /** The producer id and per-partition sequences; null when not idempotent. */
  private readonly sequences: ProducerSequences | null
  private readonly appender: Appender
  private readonly turns = new WriteTurns()
  /** Where prepareRecord leaves a record's partition and size; read before the next record is prepared. */
  private readonly placement: Placement = { partition: 0, bytes: 0, keyless: false }
  private readonly staging = new Staging()
  private closed = false

  constructor(
    private readonly spoolTopics: Topics,
    options: ProducerOptions = {},
    allocateProducerId: () => Promise<number> = () => Promise.reject(new Error('no producer ids here')),
  ) {
    this.topics = new ProducerTopics(spoolTopics)
    this.lingerMs = integerIn('lingerMs', options.lingerMs ?? DEFAULT_LINGER_MS, 0, MAX_TIMER_MS)
    this.maxBatchBytes = Math.min(nonNegativeInteger('maxBatchBytes', options.maxBatchBytes ?? DEFAULT_PRODUCER_MAX_BATCH_BYTES), BATCH_RECORDS_MAX_BYTES)
    this.compression = options.compression === undefined ? 'none' : parseCompressionCodec(options.compression, 'compression')
    const idempotent = options.idempotent ?? true
    if (typeof idempotent !== 'boolean') throw invalidArgument('idempotent', 'must be true or false')
    this.sequences = idempotent ? new ProducerSequences(allocateProducerId) : null
    this.appender = new Appender(this.sequences, this.compression)
  }

  /** This producer's id once it has one (idempotent producers get one before their first write), else null. */
  get producerId(): number | null {
    return this.sequences?.producerId ?? null
  }

  /** Resolves with where the record was stored, once it is durable under the topic's flush policy. */
  send(record: ProducerRecord): Promise<RecordMetadata> {
    try {
      this.checkOpen() // here, not when a send that waited for its topic's open goes on
      const topic = topicOf(record)
      const current = this.topics.current(topic)
      if (current === null && this.topics.mustWaitFor(topic)) return this.topics.afterOpen([topic], () => this.sendNow(record))
      return this.sendNow(record, current)
    } catch (error) {
      return Promise.reject(error)
    }
  }

  /** `target`: the record's topic if ProducerTopics.current() found it, else null (looked up here). */
  private sendNow(record: ProducerRecord, target: TopicBatches | null = null): Promise<RecordMetadata> {
    checkRecord(record, SINGLE_SEND)
    target ??= this.topics.target(record.topic)
    const input = prepareRecord(record, SINGLE_SEND, target, this.spoolTopics, this.placement)
    const { partition, bytes, keyless } = this.placement
    const batch = this.batchFor(target, partition, bytes)
    batch.add(input, bytes, keyless)
    return batch.send()
  }

  /**
   * Sends several records; if any is invalid or too large, none of them is written.
   * Resolves with each record's metadata, in the order of `records`.
   */
  sendBatch(records: readonly ProducerRecord[]): Promise<RecordMetadata[]> {
    try {
      this.checkOpen()
      if (!Array.isArray(records)) throw invalidArgument('records', 'must be an array')
      if (records.length === 0) return Promise.resolve([])
      const first = topicOf(records[0])
      const current = this.topics.current(first)
      const direct = current === null && this.topics.mustWaitFor(first) ? null : this.sendBatchDirect(records, current)
      if (direct !== null) return direct
      let waits: Set<string> | null = null
      let previous: unknown = undefined
      for (let i = 0; i < records.length; i++) {
        const topic = topicOf(records[i]!)
        if (topic === previous) continue // a sendBatch's records mostly share a topic: checked once
        previous = topic
        if (this.topics.mustWaitFor(topic)) (waits ??= new Set()).add(topic)
      }
      if (waits !== null) return this.topics.afterOpen([...waits], () => this.sendBatchNow(records))
      return this.sendBatchNow(records)
    } catch (error) {
      return Promise.reject(error)
    }
  }

  /**
   * Every record is checked and put in bytes first (staged: producer-staging.ts); only
   * then are they placed, so that a bad one leaves nothing placed. Records for one
   * partition that fit its open batch are placed as one run.
   */
  private sendBatchNow(records: readonly ProducerRecord[]): Promise<RecordMetadata[]> {
    const count = records.length
    if (count === 0) return Promise.resolve([])
    const staging = this.staging.inUse ? new Staging() : this.staging
    staging.begin(count)
    try {
      const inputs = this.stage(records, staging)
      const send = new BatchSend(count)
      const first = staging.first!
      if (staging.onePartition && staging.bytes <= this.maxBatchBytes) {
        const batch = this.batchFor(first, staging.partitions[0]!, staging.bytes)
        send.placed(0, batch, batch.addAll(inputs, staging.bytes, staging.anyKeyless), count)
        return send.promise
      }
      const { partitions, sizes, keyless } = staging
      for (let i = 0; i < count; i++) {
        const batch = this.batchFor(staging.targetOf(i), partitions[i]!, sizes[i]!)
        send.placed(i, batch, batch.add(inputs[i]!, sizes[i]!, keyless[i] === 1))
      }
      return send.promise
    } finally {
      staging.end()
    }
  }

  /**
   * A sendBatch that is a batch by itself, if it is one (scanPlain; else null): its
   * records are appended now, as they are: the log encodes them before this returns (no
   * copy, no staging), after the partition's open batch (the sends before). Under flush
   * 'never' the append is done within microtasks: past the partition's one
   * acknowledgement at once in this turn of the event loop (producer-turns.ts), this one
   * waits for setImmediate, so that a loop of awaited sendBatch calls still yields to I/O.
   */
  private sendBatchDirect(all: readonly ProducerRecord[], current: TopicBatches | null): Promise<RecordMetadata[]> | null {
    if (this.lingerMs > 0 || !this.appender.ready) return null
    checkRecord(all[0], 0)
    const target = current ?? this.topics.target(all[0].topic)
    const { placement } = this
    if (!scanPlain(all, target, placement) || placement.bytes > this.maxBatchBytes) return null
    // scanPlain found every record a RecordInput already: a Buffer or null key and value, nothing else the log reads.
    const records = all as readonly RecordInput[]
    const { partition } = placement
    const open = target.open[partition]
    if (open !== undefined) this.write(open)
    return this.append(target, partition, target.logs[partition]!, records).then(({ baseOffset }) => {
      const metadata = metadataOf(target.name, partition, baseOffset, records.length)
      if (this.turns.takeTurn(target, partition)) return metadata
      return new Promise<RecordMetadata[]>((resolve) => setImmediate(resolve, metadata))
    })
  }

  /** Checks every record and puts it in bytes; what else placing them needs goes to `staging`. */
  private stage(records: readonly ProducerRecord[], staging: Staging): RecordInput[] {
    const inputs = new Array<RecordInput>(records.length)
    const { placement, spoolTopics } = this
    let target: TopicBatches | null = null
    for (let i = 0; i < records.length; i++) {
      const record = records[i]!
      checkRecord(record, i)
      if (target === null || target.name !== record.topic) target = this.topics.target(record.topic)
      inputs[i] = prepareRecord(record, i, target, spoolTopics, placement)
      staging.stage(i, target, placement.partition, placement.bytes, placement.keyless)
    }
    return inputs
  }

  private checkOpen(): void {
    if (this.closed) throw new SpoolError('CLOSED', 'the producer is closed; create a new one with spool.producer()')
  }

  /** The partition's open batch with room for `bytes` more (writing a full one first, opening a new one). */
  private batchFor(target: TopicBatches, partition: number, bytes: number): OpenBatch {
    let batch = target.open[partition]
    if (batch !== undefined && batch.records.length > 0 && batch.bytes + bytes > this.maxBatchBytes) {
      this.write(batch)
      batch = undefined
    }
    if (batch === undefined) {
      const log = this.topics.log(target, partition)
      batch = new OpenBatch(target.name, partition, target, target.logs.length, log)
      target.open[partition] = batch
      this.schedule(batch)
    }
    return batch
  }

  private schedule(batch: OpenBatch): void {
    const write = (): void => this.write(batch)
    if (this.lingerMs > 0) batch.timer = setTimeout(write, this.lingerMs)
    else if (this.turns.writeAtOnce(batch.owner, batch.partition)) queueMicrotask(write)
    else setImmediate(write)
  }

  /** Appends the batch (if it is still the open one for its partition); it settles its sends when done. */
  private write(batch: OpenBatch): void {
    const { owner, partition } = batch
    if (owner.open[partition] !== batch) return
    owner.open[partition] = undefined
    if (batch.timer !== null) clearTimeout(batch.timer)
    if (batch.keyless) owner.sticky.batchSent(batch.partitions)
    this.append(owner, partition, batch.log, batch.records).then(
      ({ baseOffset }) => batch.settle(baseOffset),
      (error: unknown) => batch.fail(error),
    )
  }

  /** Appends `records` to a partition of `target`, counted as being written (producer-turns.ts) until it settles. */
  private append(target: TopicBatches, partition: number, log: PartitionLog, records: readonly RecordInput[]): Promise<AppendResult> {
    const { writing } = target
    writing[partition] = (writing[partition] ?? 0) + 1
    const appended = this.appender.append(log, target.name, partition, records)
    const done = (): void => void writing[partition]!--
    appended.then(done, done)
    return appended
  }

  /**
   * Writes every send made before it now, those still waiting for their topic's first open
   * too (once it opens they are placed, then written); resolves when they and every batch
   * written before are durable.
   */
  async flush(): Promise<void> {
    await this.topics.allPlaced()
    for (const { open } of this.topics.all()) {
      for (const batch of open) if (batch !== undefined) this.write(batch)
    }
    await this.appender.settled()
  }

  /** Refuses sends from now on, and flushes every one made before. */
  async close(): Promise<void> {
    this.closed = true
    await this.flush()
  }
}

function topicOf(record: ProducerRecord): unknown {
  return (record as { topic?: unknown } | null)?.topic
}
