import { SpoolError, invalidArgument } from '../errors.js'
import { MAX_TIMER_MS } from '../limits.js'
import type { RecordInput } from '../record/types.js'
import { BATCH_HEADER_BYTES } from '../record/batch-format.js'
import { DEFAULT_MAX_BATCH_BYTES, HEADER_FRAMING_MAX_BYTES, RECORD_FRAMING_MAX_BYTES } from '../limits.js'
import type { AppendResult, PartitionLog } from '../storage/partition-log.js'
import { type CompressionCodec, parseCompressionCodec } from '../record/compression/index.js'
import { ProducerSequences } from './producer-sequences.js'
import { StickyPartitioner, partitionForKey } from '../topics/partitioner.js'
import type { Topics } from '../topics/topics.js'
import { type Bytes, type HeadersInput, payloadBytes, toBuffer, toHeaders } from './bytes.js'
import { integerIn, nonNegativeInteger } from '../validate.js'

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
/** The framed records one batch may carry: what the log takes in one batch, less the batch header. */
const BATCH_RECORDS_MAX_BYTES = DEFAULT_MAX_BATCH_BYTES - BATCH_HEADER_BYTES

/** Records waiting to be appended to one partition as one batch. */
interface OpenBatch {
  topic: string
  partition: number
  /** The topic's batches and sticky partitioner, and its partition count when the batch opened. */
  owner: TopicBatches
  partitions: number
  log: PartitionLog
  records: RecordInput[]
  /** resolves[i] and rejects[i] settle the send of records[i]. */
  resolves: Array<(metadata: RecordMetadata) => void>
  rejects: Array<(error: unknown) => void>
  bytes: number
  timer: NodeJS.Timeout | null
  keyless: boolean
}

/** Per topic: the open batch of each partition, and the sticky partitioner for keyless records. */
interface TopicBatches {
  open: Array<OpenBatch | undefined>
  sticky: StickyPartitioner
}

interface Prepared {
  topic: string
  partition: number
  log: PartitionLog
  partitions: number
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
  private readonly byTopic = new Map<string, TopicBatches>()
  /** Batches handed to their log and not yet settled: what flush() waits for. */
  private readonly inFlight = new Set<Promise<void>>()
  /** Per topic, the last send waiting for the topic's first open (see whenOpen). */
  private readonly opening = new Map<string, Promise<void>>()
  private readonly lingerMs: number
  private readonly maxBatchBytes: number
  private readonly compression: CompressionCodec
  /** The producer id and per-partition sequences; null when not idempotent. */
  private readonly sequences: ProducerSequences | null
  private closed = false

  constructor(
    private readonly topics: Topics,
    options: ProducerOptions = {},
    allocateProducerId: () => Promise<number> = () => Promise.reject(new Error('no producer ids here')),
  ) {
    this.lingerMs = integerIn('lingerMs', options.lingerMs ?? DEFAULT_LINGER_MS, 0, MAX_TIMER_MS)
    this.maxBatchBytes = Math.min(nonNegativeInteger('maxBatchBytes', options.maxBatchBytes ?? DEFAULT_PRODUCER_MAX_BATCH_BYTES), BATCH_RECORDS_MAX_BYTES)
    this.compression = options.compression === undefined ? 'none' : parseCompressionCodec(options.compression, 'compression')
    const idempotent = options.idempotent ?? true
    if (typeof idempotent !== 'boolean') throw invalidArgument('idempotent', 'must be true or false')
    this.sequences = idempotent ? new ProducerSequences(allocateProducerId) : null
  }

  /** This producer's id once it has one (idempotent producers get one before their first write), else null. */
  get producerId(): number | null {
    return this.sequences?.producerId ?? null
  }

  /** Resolves with where the record was stored, once it is durable under the topic's flush policy. */
  send(record: ProducerRecord): Promise<RecordMetadata> {
    const send = (): Promise<RecordMetadata> => this.enqueue(this.prepare(record, 'record'))
    const topic = topicOf(record)
    return settle(() => (this.mustWaitFor(topic) ? this.afterOpen([topic], send) : send()))
  }

  /** Sends several records; if any is invalid or too large, none of them is written. */
  sendBatch(records: readonly ProducerRecord[]): Promise<RecordMetadata[]> {
    if (!Array.isArray(records)) return Promise.reject(invalidArgument('records', 'must be an array'))
    const send = (): Promise<RecordMetadata[]> => {
      const prepared = records.map((record, i) => this.prepare(record, `records[${i}]`))
      return Promise.all(prepared.map((p) => this.enqueue(p)))
    }
    return settle(() => {
      const waits = new Set<string>()
      for (const record of records) {
        const topic = topicOf(record)
        if (this.mustWaitFor(topic)) waits.add(topic)
      }
      return waits.size > 0 ? this.afterOpen([...waits], send) : send()
    })
  }

  /**
   * Whether a send to `topic` must wait: its partitions are not open yet (a spool opens a
   * topic's partitions on first use), or earlier sends to it are still waiting — so that
   * per-partition order is the order of the calls even across the first open. A name
   * that is not a topic does not wait: prepare() reports it.
   */
  private mustWaitFor(topic: unknown): topic is string {
    if (typeof topic !== 'string') return false
    return this.opening.has(topic) || (this.topics.has(topic) && !this.topics.isOpen(topic))
  }

  /** Runs `send` once `topics` are open and the sends queued before it for them are placed. */
  private afterOpen<T>(topics: readonly string[], send: () => Promise<T>): Promise<T> {
    const ready = Promise.all(topics.map((topic) => this.opening.get(topic) ?? this.topics.ensureOpen(topic)))
    // The next send may go once this one is placed in its batch (send places it before it
    // returns), not once it is durable: sends made together still share a batch.
    let placed!: () => void
    const queued = new Promise<void>((resolve) => (placed = resolve))
    const sent = ready.then(
      () => {
        try {
          return send()
        } finally {
          placed()
        }
      },
      (error: unknown) => {
        placed()
        throw error
      },
    )
    for (const topic of topics) this.opening.set(topic, queued)
    void queued.then(() => {
      for (const topic of topics) if (this.opening.get(topic) === queued) this.opening.delete(topic)
    })
    return sent
  }

  private prepare(record: ProducerRecord, field: string): Prepared {
    if (this.closed) throw new SpoolError('CLOSED', 'the producer is closed; create a new one with spool.producer()')
    if (typeof record !== 'object' || record === null) throw invalidArgument(field, 'must be an object')
    const { topic } = record
    const { config, logs } = this.topics.open(topic)
    if (!('value' in record)) throw invalidArgument(`${field}.value`, 'is required (null for a tombstone)')
    const key = toBuffer(`${field}.key`, record.key)
    const value = toBuffer(`${field}.value`, record.value)
    const headers = toHeaders(`${field}.headers`, record.headers)
    const payload = payloadBytes(key, value, headers)
    // Batches are cut by what records take framed, so that a full one stays within the log's limit.
    const bytes = payload + RECORD_FRAMING_MAX_BYTES + headers.length * HEADER_FRAMING_MAX_BYTES
    if (payload > config.maxRecordBytes || bytes > BATCH_RECORDS_MAX_BYTES) {
      throw new SpoolError(
        'RECORD_TOO_LARGE',
        `a record of ${payload} bytes (${headers.length} headers) exceeds topic "${topic}"'s maxRecordBytes of ${config.maxRecordBytes}; split it or raise maxRecordBytes`,
        { details: { topic, bytes: payload, maxRecordBytes: config.maxRecordBytes } },
      )
    }
    let partition: number
    if (record.partition !== undefined) partition = record.partition
    else if (key !== null) partition = partitionForKey(key, logs.length)
    else partition = this.batchesOf(topic).sticky.partition(logs.length)
    const log = logs[partition] ?? this.topics.log(topic, partition) // the lookup throws the precise error
    const input: RecordInput = { key, value, headers }
    // Checked here, not when the batch is encoded: one bad send must not fail the sends it shares a batch with.
    if (record.timestamp !== undefined) input.timestamp = nonNegativeInteger(`${field}.timestamp`, record.timestamp)
    return { topic, partition, log, partitions: logs.length, keyless: key === null && record.partition === undefined, record: input, bytes }
  }

  private batchesOf(topic: string): TopicBatches {
    let batches = this.byTopic.get(topic)
    if (batches === undefined) this.byTopic.set(topic, (batches = { open: [], sticky: new StickyPartitioner() }))
    return batches
  }

  /** Adds the record to its partition's open batch; settles with its send. */
  private enqueue(prepared: Prepared): Promise<RecordMetadata> {
    const batch = this.place(prepared)
    return new Promise((resolve, reject) => {
      batch.resolves.push(resolve)
      batch.rejects.push(reject)
    })
  }

  /** Adds the record to its partition's open batch (writing a full one first); returns that batch. */
  private place(prepared: Prepared): OpenBatch {
    const batches = this.batchesOf(prepared.topic)
    let batch = batches.open[prepared.partition]
    if (batch !== undefined && batch.records.length > 0 && batch.bytes + prepared.bytes > this.maxBatchBytes) {
      void this.write(batch)
      batch = undefined
    }
    if (batch === undefined) {
      batch = {
        topic: prepared.topic,
        partition: prepared.partition,
        owner: batches,
        partitions: prepared.partitions,
        log: prepared.log,
        records: [],
        resolves: [],
        rejects: [],
        bytes: 0,
        timer: null,
        keyless: false,
      }
      batches.open[prepared.partition] = batch
      this.schedule(batch)
    }
    batch.records.push(prepared.record)
    batch.bytes += prepared.bytes
    batch.keyless ||= prepared.keyless
    return batch
  }

  private schedule(batch: OpenBatch): void {
    // Not a microtask: a loop of awaited sends with flush 'never' would then never yield
    // to I/O, and starve everything else in the process (timers, sockets, consumers).
    if (this.lingerMs === 0) setImmediate(() => void this.write(batch))
    else batch.timer = setTimeout(() => void this.write(batch), this.lingerMs)
  }

  /** Appends the batch (if it is still the open one for its partition); settles when it is done. */
  private write(batch: OpenBatch): Promise<void> {
    const { owner, topic, partition, resolves, rejects } = batch
    if (owner.open[partition] !== batch) return Promise.resolve()
    owner.open[partition] = undefined
    if (batch.timer !== null) clearTimeout(batch.timer)
    if (batch.keyless) owner.sticky.batchSent(batch.partitions)
    const written = this.append(batch).then(
      ({ baseOffset }) => {
        for (let i = 0; i < resolves.length; i++) resolves[i]!({ topic, partition, offset: baseOffset + i })
      },
      (error: unknown) => {
        for (const reject of rejects) reject(error)
      },
    )
    this.inFlight.add(written)
    void written.finally(() => this.inFlight.delete(written))
    return written
  }

  /**
   * Hands the batch to its log, with the next sequence of its partition when idempotent.
   * Before the producer has its id (its first writes), batches wait for it in order.
   */
  private append(batch: OpenBatch): Promise<AppendResult> {
    const { sequences, compression } = this
    if (sequences === null) return batch.log.append(batch.records, { compression })
    if (sequences.producerId === null) return sequences.ready().then(() => this.append(batch))
    const producer = sequences.next(batch.topic, batch.partition, batch.records.length)
    return batch.log.append(batch.records, { compression, producer }).catch((error: unknown) => {
      // The partition does not have this batch: the ones after it start over at a new epoch.
      sequences.failed(batch.topic, batch.partition, producer)
      throw error
    })
  }

  /** Writes every open batch now; resolves when they and every batch written before are durable. */
  async flush(): Promise<void> {
    for (const { open } of this.byTopic.values()) {
      for (const batch of open) if (batch !== undefined) void this.write(batch)
    }
    await Promise.all(this.inFlight)
  }

  async close(): Promise<void> {
    this.closed = true
    await this.flush()
  }
}

function topicOf(record: ProducerRecord): unknown {
  return (record as { topic?: unknown } | null)?.topic
}

/** `send()`, with a synchronous throw (bad input, a closed spool) turned into a rejection. */
function settle<T>(send: () => Promise<T>): Promise<T> {
  try {
    return send()
  } catch (error) {
    return Promise.reject(error)
  }
}
