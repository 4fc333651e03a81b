/**
 * W8's produce requests: small batches of 1 to `maxBatchRecords` records (a seeded
 * sequence of sizes), as a client that sends what it has at each moment makes them. Both
 * the in-process side and the wire client's process build the very same records from the
 * spec, so each side sends the same bytes.
 */
import { prng } from '../../scripts/lib/prng.js'
import type { RecordInput } from '../../src/record/types.js'
import { recordBytes } from './dataset.js'

export interface ProduceSpec {
  requests: number
  maxBatchRecords: number
  keyBytes: number
  valueBytes: number
  seed: number
}

/** One batch of records per request. */
export function produceBatches(spec: ProduceSpec): RecordInput[][] {
  const next = prng(spec.seed ^ 0x0b8)
  const sizes = Array.from({ length: spec.requests }, () => 1 + (next() % spec.maxBatchRecords))
  const total = sizes.reduce((sum, n) => sum + n, 0)
  const each = spec.keyBytes + spec.valueBytes
  const arena = recordBytes(spec.seed, total * each)
  let at = 0
  return sizes.map((count) =>
    Array.from({ length: count }, () => {
      const record = { key: arena.subarray(at, at + spec.keyBytes), value: arena.subarray(at + spec.keyBytes, at + each) }
      at += each
      return record
    }),
  )
}

export const recordCount = (batches: readonly RecordInput[][]): number => batches.reduce((sum, batch) => sum + batch.length, 0)
