import { CRC_START } from '../../../src/record/batch-format.js'
import { type ProducerIdentity, compressBatch, encodeBatch } from '../../../src/record/batch-encoder.js'
import type { CompressionCodec } from '../../../src/record/compression/index.js'
import type { RecordInput } from '../../../src/record/types.js'
import type { Random } from './random.js'

/**
 * The record batches the fuzz produces, each numbered. Every record's value starts with
 * `FZ<batch>.<index>:`, so a record read back from the data directory names the batch
 * it came from and its place in it: what the final check needs to tell a batch a
 * request carried from anything else (which must never be there).
 */
export interface FuzzBatch {
  readonly id: number
  readonly records: readonly RecordInput[]
  readonly codec: CompressionCodec
  /** The batch as sent (base offset 0). */
  readonly bytes: Buffer
  /**
   * The part the CRC covers (attributes to the end). A batch the broker accepted from a
   * request is one whose signature lay whole in that request's records: the bytes before
   * it (base offset, length, leader epoch, magic, CRC) may differ, nothing else can.
   */
  readonly signature: Buffer
}

const VALUE_MARK = /^FZ(\d+)\.(\d+):/
const CODECS: ReadonlyArray<readonly [number, CompressionCodec]> = [[12, 'none'], [2, 'gzip'], [2, 'snappy'], [2, 'lz4'], [2, 'zstd']]
/** Producer ids of fuzz batches start here: far from those InitProducerId hands out. */
const FIRST_FUZZ_PRODUCER_ID = 1_000_000
/** Ample for the few small records of a fuzz batch. */
const MAX_BATCH_BYTES = 1024 * 1024

export class BatchRegistry {
  private readonly batches: FuzzBatch[] = []

  get(id: number): FuzzBatch | undefined {
    return this.batches[id]
  }

  get size(): number {
    return this.batches.length
  }

  /** A new batch of 1–5 records: random keys, values, headers; maybe compressed, maybe from an idempotent producer. */
  make(random: Random, now: number, codec?: CompressionCodec, idempotent = true): FuzzBatch {
    const id = this.batches.length
    const count = random.between(1, 5)
    const records: RecordInput[] = []
    for (let i = 0; i < count; i++) {
      const value = Buffer.concat([Buffer.from(`FZ${id}.${i}:`), random.bytes(random.int(40))])
      const record: RecordInput = {
        key: random.chance(0.3) ? null : random.bytes(random.between(0, 12)),
        value,
        timestamp: now - random.int(5000),
      }
      if (random.chance(0.2)) record.headers = [{ key: `h${random.int(10)}`, value: random.chance(0.2) ? null : random.bytes(random.int(8)) }]
      records.push(record)
    }
    // A few batches claim a producer id the broker never handed out: it must refuse them or
    // store them whole. Each its own producer id, so that the broker's duplicate detection
    // answers only a batch sent again with that batch's own offset.
    const producer: ProducerIdentity | undefined =
      idempotent && random.chance(0.1) ? { producerId: FIRST_FUZZ_PRODUCER_ID + id, producerEpoch: random.between(0, 1), baseSequence: random.weighted<number>([[80, 0], [20, random.between(1, 2)]]) } : undefined
    const chosen = codec ?? random.weighted(CODECS)
    const plain = encodeBatch(records, now, MAX_BATCH_BYTES, Buffer.allocUnsafe, producer)
    const bytes = compressBatch(plain, chosen).bytes
    const batch: FuzzBatch = { id, records, codec: chosen, bytes, signature: bytes.subarray(CRC_START) }
    this.batches.push(batch)
    return batch
  }

  /** The batch and index a stored record's value names, or null if it names none. */
  static parseValue(value: Buffer | null): { id: number; index: number } | null {
    if (value === null) return null
    const match = VALUE_MARK.exec(value.subarray(0, 32).toString('latin1'))
    return match === null ? null : { id: Number(match[1]), index: Number(match[2]) }
  }

  /** The batches (among `ids`) whose signature lies whole in `records`. */
  foundIn(records: Buffer, ids: Iterable<number>): FuzzBatch[] {
    const found: FuzzBatch[] = []
    for (const id of ids) {
      const batch = this.batches[id]
      if (batch !== undefined && records.includes(batch.signature)) found.push(batch)
    }
    return found
  }
}
