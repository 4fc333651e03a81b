import { toBuffer, toHeaders } from '../../client/bytes.js'
import type { ProducerRecord, RecordMetadata } from '../../client/producer.js'
import { SpoolError } from '../../errors.js'
import { DEFAULT_MAX_BATCH_BYTES, HEADER_FRAMING_MAX_BYTES, RECORD_FRAMING_MAX_BYTES } from '../../limits.js'
import { compressBatch, encodeBatch } from '../../record/batch-encoder.js'
import { BATCH_HEADER_BYTES } from '../../record/batch-format.js'
import { type CompressionCodec, parseCompressionCodec } from '../../record/compression/index.js'
import { payloadBytes } from '../../record/payload.js'
import type { RecordInput } from '../../record/types.js'
import { StickyPartitioner, partitionForKey } from '../../topics/partitioner.js'
import { nonNegativeInteger } from '../../validate.js'
import type { KafkaClient } from './kafka-client.js'

/**
 * A batch is sent once its records take this many bytes (framed): as the engine's
 * producer cuts them (DEFAULT_PRODUCER_MAX_BATCH_BYTES), well inside what the listener
 * takes in one batch.
 */
export const REMOTE_MAX_BATCH_BYTES = 1024 * 1024
const BATCH_LIMIT_BYTES = DEFAULT_MAX_BATCH_BYTES

export interface RemoteProducerOptions {
  /** How long a batch waits for more records before it is sent. */
  lingerMs?: number
  compression?: CompressionCodec
}

interface OpenBatch {
  topic: string
  partition: number
  records: RecordInput[]
  resolves: Array<(metadata: RecordMetadata) => void>
  rejects: Array<(error: unknown) => void>
  bytes: number
  timer: NodeJS.Timeout | null
  keyless: boolean
}

/**
 * spool's Producer.send() through a listener: records are placed as the engine's producer
 * places them (by --partition, by key with Kafka's murmur2 partitioner, sticky without a
 * key), gathered per partition for `lingerMs`, encoded as one v2 batch each
 * (record/batch-encoder.ts) and sent with acks -1, so a send resolves once the record is
 * durable under the topic's flush policy — what a local send means. Not idempotent: the
 * CLI does not resend a batch whose answer was lost, it reports the failure.
 */
export class RemoteProducer {
  private readonly open = new Map<string, OpenBatch>()
  private readonly sticky = new Map<string, StickyPartitioner>()
  private readonly partitionCounts = new Map<string, number>()
  private readonly lingerMs: number
  private readonly compression: CompressionCodec
  private readonly inFlight = new Set<Promise<void>>()

  constructor(
    private readonly client: KafkaClient,
    options: RemoteProducerOptions = {},
  ) {
    this.lingerMs = nonNegativeInteger('lingerMs', options.lingerMs ?? 0)
    this.compression = options.compression === undefined ? 'none' : parseCompressionCodec(options.compression, 'compression')
  }

  /**
   * A producer for `topic`, which must exist: UNKNOWN_TOPIC (asked with Metadata) before
   * the options are checked and before any record is read, as a local produce fails.
   */
  static async forTopic(client: KafkaClient, topic: string, options: RemoteProducerOptions = {}): Promise<RemoteProducer> {
    const partitions = await client.partitionCount(topic)
    const producer = new RemoteProducer(client, options)
    producer.partitionCounts.set(topic, partitions)
    return producer
  }

  /** Learns the partition count of one more topic (Metadata). */
  async prepare(topic: string): Promise<void> {
    this.partitionCounts.set(topic, await this.client.partitionCount(topic))
  }

  send(record: ProducerRecord): Promise<RecordMetadata> {
    try {
      const { topic } = record
      const partitions = this.partitionCounts.get(topic)
      if (partitions === undefined) throw new SpoolError('UNKNOWN_TOPIC', `topic "${topic}" was not prepared for this producer`, { details: { topic } })
      const key = toBuffer('record.key', record.key)
      const value = toBuffer('record.value', record.value)
      const headers = toHeaders('record.headers', record.headers)
      const input: RecordInput = { key, value, headers }
      if (record.timestamp !== undefined) input.timestamp = nonNegativeInteger('record.timestamp', record.timestamp)
      const bytes = payloadBytes(key, value, headers) + RECORD_FRAMING_MAX_BYTES + headers.length * HEADER_FRAMING_MAX_BYTES
      if (bytes > BATCH_LIMIT_BYTES - BATCH_HEADER_BYTES) {
        throw new SpoolError('RECORD_TOO_LARGE', `a record of ${bytes} bytes framed does not fit in one batch (${BATCH_LIMIT_BYTES} bytes); split it`, { details: { topic, bytes } })
      }
      let partition: number
      if (record.partition !== undefined) {
        partition = nonNegativeInteger('partition', record.partition)
        if (partition >= partitions) {
          throw new SpoolError('UNKNOWN_PARTITION', `topic "${topic}" has partitions 0..${partitions - 1}, not ${partition}`, { details: { topic, partition } })
        }
      } else if (key !== null) partition = partitionForKey(key, partitions)
      else partition = this.stickyOf(topic).partition(partitions)
      return this.enqueue(topic, partition, input, bytes, key === null && record.partition === undefined)
    } catch (error) {
      return Promise.reject(error)
    }
  }

  /** Sends the open batches now and waits for every send in flight. */
  async flush(): Promise<void> {
    for (const batch of [...this.open.values()]) this.write(batch)
    while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight])
  }

  private stickyOf(topic: string): StickyPartitioner {
    let sticky = this.sticky.get(topic)
    if (sticky === undefined) this.sticky.set(topic, (sticky = new StickyPartitioner()))
    return sticky
  }

  private enqueue(topic: string, partition: number, record: RecordInput, bytes: number, keyless: boolean): Promise<RecordMetadata> {
    const id = `${partition}\u0000${topic}`
    let batch = this.open.get(id)
    if (batch !== undefined && batch.bytes + bytes > REMOTE_MAX_BATCH_BYTES) {
      this.write(batch)
      batch = undefined
    }
    if (batch === undefined) {
      const created: OpenBatch = { topic, partition, records: [], resolves: [], rejects: [], bytes: 0, timer: null, keyless: false }
      created.timer = setTimeout(() => this.write(created), this.lingerMs)
      this.open.set(id, created)
      batch = created
    }
    batch.records.push(record)
    batch.bytes += bytes
    batch.keyless ||= keyless
    const placed = batch
    return new Promise((resolve, reject) => {
      placed.resolves.push(resolve)
      placed.rejects.push(reject)
    })
  }

  /** Encodes and sends one batch; its sends settle with the answer. */
  private write(batch: OpenBatch): void {
    const id = `${batch.partition}\u0000${batch.topic}`
    if (this.open.get(id) === batch) this.open.delete(id)
    if (batch.timer !== null) clearTimeout(batch.timer)
    batch.timer = null
    if (batch.records.length === 0) return
    if (batch.keyless) this.stickyOf(batch.topic).batchSent(this.partitionCounts.get(batch.topic)!)
    const sent = (async () => {
      try {
        const encoded = compressBatch(encodeBatch(batch.records, Date.now(), BATCH_LIMIT_BYTES), this.compression)
        const { baseOffset } = await this.client.produce(batch.topic, batch.partition, encoded.bytes)
        batch.resolves.forEach((resolve, i) => resolve({ topic: batch.topic, partition: batch.partition, offset: baseOffset + i }))
      } catch (error) {
        for (const reject of batch.rejects) reject(error)
      }
    })()
    this.inFlight.add(sent)
    void sent.finally(() => this.inFlight.delete(sent))
  }
}
