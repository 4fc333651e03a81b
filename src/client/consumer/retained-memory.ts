import { PREFETCH_COPY_BELOW_FRACTION, PREFETCH_COPY_MIN_RETAINED_BYTES } from '../../limits.js'
import type { ConsumedRecord } from '../reader.js'
import { recordBytes } from './prefetch-buffer.js'

/**
 * What records read ahead really keep in memory (contract 8). A record's key, value and
 * header values are views into the buffer its read filled (up to a MiB): one record kept
 * keeps that whole buffer alive. Counting payload bytes alone, a prefetch of 1 MiB under
 * single-record polls kept one read buffer per record taken, over 130 MiB in all.
 */

/**
 * Calls `visit` with every byte buffer a record holds. A callback, not a generator: this
 * runs for every record read ahead, and a generator object each would be garbage.
 */
function forEachView(record: ConsumedRecord, visit: (view: Buffer) => void): void {
  if (record.key !== null) visit(record.key)
  if (record.value !== null) visit(record.value)
  for (const header of record.headers) if (header.value !== null) visit(header.value)
}

/** The bytes `records` keep alive: each backing ArrayBuffer once, whole. */
export function retainedBytes(records: readonly ConsumedRecord[]): number {
  const backing = new Set<ArrayBufferLike>()
  // Records of one read share its buffer: looking it up once a run, not once a view, halved this pass.
  let last: ArrayBufferLike | null = null
  const add = (view: Buffer): void => {
    if (view.buffer === last) return
    last = view.buffer
    backing.add(last)
  }
  for (const record of records) forEachView(record, add)
  let bytes = 0
  for (const buffer of backing) bytes += buffer.byteLength
  return bytes
}

/** Copies the bytes of `records` into one buffer of just their size; the records (new objects) view it instead. */
function copiedOut(records: readonly ConsumedRecord[]): ConsumedRecord[] {
  let size = 0
  const count = (view: Buffer): void => void (size += view.length)
  for (const record of records) forEachView(record, count)
  // Not from the shared pool: a pooled slab would be kept alive by others' bytes too.
  const into = Buffer.allocUnsafeSlow(size)
  let at = 0
  const copy = (view: Buffer | null): Buffer | null => {
    if (view === null) return null
    const start = at
    at += view.copy(into, at)
    return into.subarray(start, at)
  }
  return records.map((record) => ({
    ...record,
    key: copy(record.key),
    value: copy(record.value),
    headers: record.headers.map((header) => ({ key: header.key, value: copy(header.value) })),
  }))
}

/**
 * Records to keep read ahead (whose own bytes are `payload`), and the bytes they hold.
 * When they use a small part of the buffers they view (a read cut short by the credit
 * left), they are copied out, so the rest of those buffers can be freed; otherwise (or
 * when what they keep alive is small) they stay views, no copy, and are counted at the
 * size of what they keep alive.
 */
export function toKeep(records: ConsumedRecord[], payload: number): { records: ConsumedRecord[]; bytes: number } {
  const retained = retainedBytes(records)
  if (payload >= retained * PREFETCH_COPY_BELOW_FRACTION || retained < PREFETCH_COPY_MIN_RETAINED_BYTES) return { records, bytes: Math.max(payload, retained) }
  return { records: copiedOut(records), bytes: payload }
}
