import { encodeBatch, setBatchBaseOffset } from '../../src/record/batch-encoder.js'
import type { RecordInput } from '../../src/record/types.js'
import { DEFAULT_MAX_BATCH_BYTES } from '../../src/limits.js'
import { prng } from '../../scripts/lib/prng.js'

export interface DatasetSpec {
  records: number
  batchRecords: number
  keyBytes: number
  valueBytes: number
  seed: number
}

/** Every record of a workload, built before any timer starts, and the same batches encoded. */
export interface Dataset extends DatasetSpec {
  batches: RecordInput[][]
  /** Each batch as spool encodes it (base offset placed): the raw side writes exactly these. */
  encoded: Buffer[]
  /** Sum of the encoded batch sizes: what spool's `.log` files must add up to. */
  bytes: number
}

/** What a replay needs to know of the data W1 wrote (not the records, which it lets go). */
export type DatasetSize = Pick<Dataset, 'records' | 'bytes' | 'valueBytes'>

/** Seeded random bytes that the record data is copied from, a chunk at a time. */
const POOL_BYTES = 16 * 1024 * 1024
const COPY_CHUNK_BYTES = 64 * 1024
/** Any fixed time: records carry no timestamp, so only the batch header holds it. */
const ENCODE_TIME_MS = Date.UTC(2024, 0, 1)

/**
 * Deterministic record bytes, laid out record after record in one arena as a producer
 * that builds its records in order would have them: keys and values are views into it.
 * (Views at random places in a small pool would make every copy a cache and TLB miss,
 * which measured 5-6x slower per copy than this layout.) The arena is seeded random
 * chunks, so records differ. Records carry no timestamp (the usual producer case), so
 * spool stamps the append time.
 */
export function recordBytes(seed: number, length: number): Buffer {
  const next = prng(seed)
  const pool = Buffer.allocUnsafe(POOL_BYTES)
  for (let i = 0; i < POOL_BYTES; i += 4) pool.writeUInt32LE(next(), i)
  const arena = Buffer.allocUnsafe(length)
  for (let at = 0; at < length; at += COPY_CHUNK_BYTES) {
    const n = Math.min(COPY_CHUNK_BYTES, length - at)
    const from = next() % (POOL_BYTES - n)
    pool.copy(arena, at, from, from + n)
  }
  return arena
}

export function makeDataset(spec: DatasetSpec): Dataset {
  return datasetFromArena(spec, recordBytes(spec.seed, spec.records * (spec.keyBytes + spec.valueBytes)))
}

/** The dataset whose records are `arena`'s bytes, key, value, key, value... (`spec.records` of each). */
export function datasetFromArena(spec: DatasetSpec, arena: Buffer): Dataset {
  const recordBytesEach = spec.keyBytes + spec.valueBytes
  if (arena.length !== spec.records * recordBytesEach) throw new Error(`dataset: ${arena.length} bytes of records, expected ${spec.records * recordBytesEach}`)
  const batches: RecordInput[][] = []
  const encoded: Buffer[] = []
  let bytes = 0
  for (let first = 0; first < spec.records; first += spec.batchRecords) {
    const count = Math.min(spec.batchRecords, spec.records - first)
    const batch: RecordInput[] = new Array(count)
    for (let k = 0; k < count; k++) {
      const at = (first + k) * recordBytesEach
      batch[k] = { key: arena.subarray(at, at + spec.keyBytes), value: arena.subarray(at + spec.keyBytes, at + recordBytesEach) }
    }
    const { bytes: batchBytes } = encodeBatch(batch, ENCODE_TIME_MS, DEFAULT_MAX_BATCH_BYTES)
    setBatchBaseOffset(batchBytes, first)
    batches.push(batch)
    encoded.push(batchBytes)
    bytes += batchBytes.length
  }
  return { ...spec, batches, encoded, bytes }
}

/** The first `records` records of `data` (rounded up to whole batches), sharing its buffers. */
export function datasetPrefix(data: Dataset, records: number): Dataset {
  if (records >= data.records) return data
  const batches = Math.ceil(records / data.batchRecords)
  const encoded = data.encoded.slice(0, batches)
  const kept = data.batches.slice(0, batches)
  return {
    ...data,
    records: kept.reduce((sum, batch) => sum + batch.length, 0),
    batches: kept,
    encoded,
    bytes: encoded.reduce((sum, chunk) => sum + chunk.length, 0),
  }
}
