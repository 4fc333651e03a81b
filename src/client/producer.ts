import { SpoolError, invalidArgument } from '../errors.js'
import type { RecordInput } from '../record/types.js'
import type { PartitionLog } from '../storage/partition-log.js'
import { StickyPartitioner, partitionForKey } from '../topics/partitioner.js'
import type { Topics } from '../topics/topics.js'
import { type Bytes, type HeadersInput, payloadBytes, toBuffer, toHeaders } from './bytes.js'

export interface ProducerRecord {
  topic: string
  key?: Bytes | null
  value: Bytes | null
  headers?: HeadersInput
  /** Omit to let the partitioner choose (by key, or sticky without one). */
  partition?: number
  /** Milliseconds since the epoch; the send time when omitted. */
  timestamp?: number
}

export interface RecordMetadata {
  topic: string
  partition: number
  offset: number
}

export interface ProducerOptions {
  /** How long a batch waits for more records before it is written. 0: until the current tick ends. */
  lingerMs?: number
  /** A batch is written as soon as its records reach this many bytes. */
  maxBatchBytes?: number
}

/** Kafka's batch.size is 16 KiB; spool's batches are one write each, so larger ones pay. */
export const DEFAULT_PRODUCER_MAX_BATCH_BYTES = 1024 * 1024
export const DEFAULT_LINGER_MS = 0

interface Waiter {
  resolve: (metadata: RecordMetadata) => void
  reject: (error: unknown) => void
}

/** Records waiting to be appended to one partition as one batch. */
interface OpenBatch {
  topic: string
  partition: number
  log: PartitionLog
  records: RecordInput[]
  waiters: Waiter[]
  bytes: number
  timer: NodeJS.Timeout | null
  keyless: boolean
}

interface Prepared {
  topic: string
  partition: number
  keyless: boolean
  record: RecordInput
  bytes: number
}

/**
 * Sends records to topics. Sends made close together are coalesced into one batch per
 * partition — one append, so one write and (flush 'always') one fsync for all of them —
 * written when the current tick ends (lingerMs 0), after lingerMs, or when the batch
 * reaches maxBatchBytes.
 */
export class Producer {
  private readonly batches = new Map<string, OpenBatch>()
  private readonly sticky = new Map<string, StickyPartitioner>()
  private readonly lingerMs: number
  private readonly maxBatchBytes: number
  private closed = false

  constructor(
    private readonly topics: Topics,
    options: ProducerOptions = {},
  ) {
    this.lingerMs = nonNegativeInteger('lingerMs', options.lingerMs ?? DEFAULT_LINGER_MS)
    this.maxBatchBytes = nonNegativeInteger('maxBatchBytes', options.maxBatchBytes ?? DEFAULT_PRODUCER_MAX_BATCH_BYTES)
  }

  /** Resolves with where the record was stored, once it is durable under the topic's flush policy. */
  send(record: ProducerRecord): Promise<RecordMetadata> {
    try {
      const prepared = this.prepare(record, 'record')
      return new Promise((resolve, reject) => this.enqueue(prepared, { resolve, reject }))
    } catch (error) {
      return Promise.reject(error)
    }
  }

  /** Sends several records; if any is invalid or too large, none of them is written. */
  sendBatch(records: readonly ProducerRecord[]): Promise<RecordMetadata[]> {
    try {
      if (!Array.isArray(records)) throw invalidArgument('records', 'must be an array')
      const prepared = records.map((record, i) => this.prepare(record, `records[${i}]`))
      return Promise.all(prepared.map((p) => new Promise<RecordMetadata>((resolve, reject) => this.enqueue(p, { resolve, reject }))))
    } catch (error) {
      return Promise.reject(error)
    }
  }

  private prepare(record: ProducerRecord, field: string): Prepared {
    if (this.closed) throw new SpoolError('CLOSED', 'the producer is closed; create a new one with spool.producer()')
    if (typeof record !== 'object' || record === null) throw invalidArgument(field, 'must be an object')
    const { topic } = record
    const config = this.topics.config(topic)
    if (!('value' in record)) throw invalidArgument(`${field}.value`, 'is required (null for a tombstone)')
    const key = toBuffer(`${field}.key`, record.key)
    const value = toBuffer(`${field}.value`, record.value)
    const headers = toHeaders(`${field}.headers`, record.headers)
    const bytes = payloadBytes(key, value, headers)
    if (bytes > config.maxRecordBytes) {
      throw new SpoolError(
        'RECORD_TOO_LARGE',
        `a record of ${bytes} bytes exceeds topic "${topic}"'s maxRecordBytes of ${config.maxRecordBytes}; split it or raise maxRecordBytes`,
        { details: { topic, bytes, maxRecordBytes: config.maxRecordBytes } },
      )
    }
    const partitions = this.topics.partitionCount(topic)
    let partition: number
    if (record.partition !== undefined) {
      partition = record.partition
      this.topics.log(topic, partition) // UNKNOWN_PARTITION or INVALID_ARGUMENT when it does not exist
    } else if (key !== null) {
      partition = partitionForKey(key, partitions)
    } else {
      partition = this.stickyFor(topic).partition(partitions)
    }
    const input: RecordInput = { key, value, headers }
    if (record.timestamp !== undefined) input.timestamp = record.timestamp
    return { topic, partition, keyless: key === null && record.partition === undefined, record: input, bytes }
  }

  private stickyFor(topic: string): StickyPartitioner {
    let sticky = this.sticky.get(topic)
    if (sticky === undefined) this.sticky.set(topic, (sticky = new StickyPartitioner()))
    return sticky
  }

  private enqueue(prepared: Prepared, waiter: Waiter): void {
    const id = `${prepared.topic}\u0000${prepared.partition}`
    let batch = this.batches.get(id)
    if (batch !== undefined && batch.records.length > 0 && batch.bytes + prepared.bytes > this.maxBatchBytes) {
      void this.write(id, batch)
      batch = undefined
    }
    if (batch === undefined) {
      batch = {
        topic: prepared.topic,
        partition: prepared.partition,
        log: this.topics.log(prepared.topic, prepared.partition),
        records: [],
        waiters: [],
        bytes: 0,
        timer: null,
        keyless: false,
      }
      this.batches.set(id, batch)
      this.schedule(id, batch)
    }
    batch.records.push(prepared.record)
    batch.waiters.push(waiter)
    batch.bytes += prepared.bytes
    batch.keyless ||= prepared.keyless
  }

  private schedule(id: string, batch: OpenBatch): void {
    if (this.lingerMs === 0) queueMicrotask(() => void this.write(id, batch))
    else batch.timer = setTimeout(() => void this.write(id, batch), this.lingerMs)
  }

  /** Appends the batch (if it is still the open one for its partition); settles when it is done. */
  private write(id: string, batch: OpenBatch): Promise<void> {
    if (this.batches.get(id) !== batch) return Promise.resolve()
    this.batches.delete(id)
    if (batch.timer !== null) clearTimeout(batch.timer)
    if (batch.keyless && this.topics.has(batch.topic)) this.stickyFor(batch.topic).batchSent(this.topics.partitionCount(batch.topic))
    return batch.log.append(batch.records).then(
      ({ baseOffset }) => {
        batch.waiters.forEach((waiter, i) => waiter.resolve({ topic: batch.topic, partition: batch.partition, offset: baseOffset + i }))
      },
      (error: unknown) => {
        for (const waiter of batch.waiters) waiter.reject(error)
      },
    )
  }

  /** Writes every open batch now; resolves when they are durable. */
  async flush(): Promise<void> {
    await Promise.all([...this.batches].map(([id, batch]) => this.write(id, batch)))
  }

  async close(): Promise<void> {
    this.closed = true
    await this.flush()
  }
}

function nonNegativeInteger(field: string, value: number): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) throw invalidArgument(field, 'must be a non-negative integer')
  return value
}
