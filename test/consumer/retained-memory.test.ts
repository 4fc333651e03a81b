import { describe, expect, it } from 'vitest'
import { retainedBytes, toKeep } from '../../src/client/consumer/retained-memory.js'
import type { ConsumedRecord } from '../../src/client/reader.js'
import { recordBytes } from '../../src/client/consumer/prefetch-buffer.js'

const payloadOf = (records: readonly ConsumedRecord[]): number => records.reduce((sum, r) => sum + recordBytes(r), 0)

const KiB = 1024

/** `count` records of `valueBytes` each, viewing one read buffer of `readBytes`, as a log read returns them. */
function viewsOfOneRead(count: number, valueBytes: number, readBytes: number): ConsumedRecord[] {
  const read = Buffer.allocUnsafeSlow(readBytes).fill(7)
  return Array.from({ length: count }, (_, i) => ({
    topic: 't',
    partition: 0,
    offset: i,
    timestamp: 0,
    key: read.subarray(i * (valueBytes + 4), i * (valueBytes + 4) + 4),
    value: read.subarray(i * (valueBytes + 4) + 4, (i + 1) * (valueBytes + 4)),
    headers: [{ key: 'h', value: read.subarray(0, 2) }],
  }))
}

describe('consumer read-ahead: the memory records keep alive (contract 8)', () => {
  it('counts each backing buffer once, whole', () => {
    expect(retainedBytes(viewsOfOneRead(10, 100, 1024 * KiB))).toBe(1024 * KiB)
    expect(retainedBytes([...viewsOfOneRead(1, 100, 64 * KiB), ...viewsOfOneRead(1, 100, 64 * KiB)])).toBe(128 * KiB)
  })

  it('copies out a few records of a large read into one buffer of their size, bytes and all', () => {
    const records = viewsOfOneRead(3, 100, 1024 * KiB)
    const kept = toKeep(records, payloadOf(records))
    expect(retainedBytes(kept.records)).toBe(3 * 106) // key, value and header value of each
    expect(kept.bytes).toBe(3 * (4 + 100 + 1 + 2)) // as recordBytes counts them (header keys too)
    expect(kept.records.map((r) => [r.offset, r.key, r.value, r.headers])).toEqual(records.map((r) => [r.offset, r.key, r.value, r.headers]))
  })

  it('keeps records that use most of their read as views, counted at the whole read', () => {
    const records = viewsOfOneRead(9, 100, 1024)
    const kept = toKeep(records, payloadOf(records))
    expect(kept.records).toBe(records) // no copy on the common path
    expect(kept.bytes).toBe(1024)
  })

  it('keeps a few records of a small read (a tail read, a slice of the shared pool) as views: too little kept alive to copy', () => {
    const records = viewsOfOneRead(2, 100, 32 * KiB)
    const kept = toKeep(records, payloadOf(records))
    expect(kept.records).toBe(records)
    expect(kept.bytes).toBe(32 * KiB) // counted at what they keep alive
  })
})
