import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { batchCrcValid, decodeRecords, headerProblem, lastOffsetOf, readBatchHeader } from '../../src/record/batch-decoder.js'
import { encodeBatch, setBatchBaseOffset } from '../../src/record/batch-encoder.js'
import { BATCH_HEADER_BYTES, CRC_START } from '../../src/record/batch-format.js'
import type { RecordInput, StoredRecord } from '../../src/record/types.js'
import { readZigzagVarlong, writeZigzagVarint, writeZigzagVarlong, zigzagVarintSize, zigzagVarlongSize } from '../../src/record/varint.js'
import CRC32 from 'crc-32'
import { isSpoolError } from '../../src/errors.js'
import { crc32, crc32Reference, crc32Simd } from '../../src/record/crc32.js'
import { SIMD_CRC32_MIN_BYTES } from '../../src/limits.js'
import { plain } from '../helpers/records.js'

const MAX_BATCH = 16 * 1024 * 1024
const bytes = fc.oneof(fc.constant(null), fc.uint8Array({ maxLength: 300 }).map((a) => Buffer.from(a)))
const header = fc.record({ key: fc.string({ unit: 'grapheme', maxLength: 12 }), value: bytes })
const record: fc.Arbitrary<RecordInput> = fc.record(
  {
    key: bytes,
    value: bytes,
    headers: fc.array(header, { maxLength: 4 }),
    timestamp: fc.integer({ min: 0, max: 2 ** 45 }),
  },
  { requiredKeys: ['key', 'value'] },
)

function decodeAll(buf: Buffer): StoredRecord[] {
  const h = readBatchHeader(buf, 0)
  const out: StoredRecord[] = []
  decodeRecords(buf, 0, h, 0, out)
  return out
}

describe('zigzag varints', () => {
  it('round-trip int32 and 53-bit values with the predicted size', () => {
    const buf = Buffer.alloc(16)
    const read = { value: 0, next: 0 }
    fc.assert(
      fc.property(fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }), (n) => {
        const end = writeZigzagVarint(buf, 0, n)
        expect(end).toBe(zigzagVarintSize(n))
        expect(readZigzagVarlong(buf, 0, end, read)).toBe(true)
        expect(read.value).toBe(n)
      }),
    )
    fc.assert(
      fc.property(fc.integer({ min: -(2 ** 52), max: 2 ** 52 }), (n) => {
        const end = writeZigzagVarlong(buf, 0, n)
        expect(end).toBe(zigzagVarlongSize(n))
        expect(readZigzagVarlong(buf, 0, end, read)).toBe(true)
        expect(read.value).toBe(n)
      }),
    )
  })

  it('matches the protobuf zigzag examples', () => {
    const buf = Buffer.alloc(8)
    expect([...buf.subarray(0, writeZigzagVarint(buf, 0, 0))]).toEqual([0x00])
    expect([...buf.subarray(0, writeZigzagVarint(buf, 0, -1))]).toEqual([0x01])
    expect([...buf.subarray(0, writeZigzagVarint(buf, 0, 1))]).toEqual([0x02])
    expect([...buf.subarray(0, writeZigzagVarint(buf, 0, 64))]).toEqual([0x80, 0x01])
    expect([...buf.subarray(0, writeZigzagVarint(buf, 0, -65))]).toEqual([0x81, 0x01])
  })
})

describe('batch checksum', () => {
  it('is the CRC-32 of the crc-32 package, whichever implementation computes it', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 5000 }), (data) => {
        expect(crc32(data)).toBe(crc32Reference(data))
        expect(crc32Reference(data)).toBe(CRC32.buf(data) >>> 0)
      }),
      { numRuns: 500 },
    )
    expect(crc32(Buffer.from('123456789'))).toBe(0xcbf43926) // the standard check value
  })

  it('gives the same value from the SIMD implementation, at every size around where it takes over', () => {
    // The optional package is in the lockfile, so its absence would mean a broken install.
    expect(crc32Simd, '@node-rs/crc32 did not load').not.toBeNull()
    const data = Buffer.from(Array.from({ length: 3 * SIMD_CRC32_MIN_BYTES }, (_, i) => (i * 131 + 7) & 0xff))
    for (let length = SIMD_CRC32_MIN_BYTES - 64; length <= 2 * SIMD_CRC32_MIN_BYTES + 64; length++) {
      const slice = data.subarray(length % 7, (length % 7) + length)
      expect(crc32Simd!(slice)).toBe(crc32Reference(slice))
      expect(crc32(slice)).toBe(crc32Reference(slice))
    }
    fc.assert(
      fc.property(fc.uint8Array({ minLength: SIMD_CRC32_MIN_BYTES, maxLength: 70_000 }), (bytes) => {
        expect(crc32(Buffer.from(bytes))).toBe(crc32Reference(bytes))
      }),
      { numRuns: 100 },
    )
  })
})

describe('record batch codec', () => {
  it('round-trips any records, offsets and timestamps', () => {
    fc.assert(
      fc.property(
        fc.array(record, { minLength: 1, maxLength: 30 }),
        fc.integer({ min: 0, max: 2 ** 50 }),
        fc.integer({ min: 0, max: 2 ** 45 }),
        (records, baseOffset, now) => {
          const batch = encodeBatch(records, now, MAX_BATCH)
          setBatchBaseOffset(batch.bytes, baseOffset)
          const h = readBatchHeader(batch.bytes, 0)
          expect(headerProblem(h, MAX_BATCH)).toBeNull()
          expect(h.sizeBytes).toBe(batch.bytes.length)
          expect(h.baseOffset).toBe(baseOffset)
          expect(lastOffsetOf(h)).toBe(baseOffset + records.length - 1)
          expect(h.recordCount).toBe(records.length)
          expect(batchCrcValid(batch.bytes, 0, h)).toBe(true)
          const timestamps = records.map((r) => r.timestamp ?? now)
          expect(h.baseTimestamp).toBe(timestamps[0])
          expect(h.maxTimestamp).toBe(Math.max(...timestamps))
          const decoded = decodeAll(batch.bytes)
          expect(decoded.map((r) => r.offset)).toEqual(records.map((_, i) => baseOffset + i))
          expect(decoded.map((r) => r.timestamp)).toEqual(timestamps)
          expect(decoded.map(plain)).toEqual(records.map(plain))
        },
      ),
      { numRuns: 300 },
    )
  })

  it('lays the header out as Kafka v2 does: 61 bytes, magic 2 at byte 16', () => {
    const batch = encodeBatch([{ key: null, value: Buffer.from('x') }], 1000, MAX_BATCH)
    setBatchBaseOffset(batch.bytes, 7)
    expect(batch.bytes.readBigInt64BE(0)).toBe(7n)
    expect(batch.bytes.readInt32BE(8)).toBe(batch.bytes.length - 12)
    expect(batch.bytes[16]).toBe(2)
    expect(batch.bytes.readBigInt64BE(43)).toBe(-1n) // producer id
    expect(batch.bytes.readInt32BE(57)).toBe(1) // record count
    expect(BATCH_HEADER_BYTES).toBe(61)
  })

  it('keeps the CRC valid when the base offset changes (it lies outside the CRC)', () => {
    const batch = encodeBatch([{ key: null, value: Buffer.from('abc') }], 5, MAX_BATCH)
    setBatchBaseOffset(batch.bytes, 123456789)
    expect(batchCrcValid(batch.bytes, 0, readBatchHeader(batch.bytes, 0))).toBe(true)
  })

  it('detects any single flipped byte in the CRC-covered bytes', () => {
    const batch = encodeBatch(
      [
        { key: Buffer.from('k'), value: Buffer.from('hello world'), headers: [{ key: 'h', value: null }] },
        { key: null, value: Buffer.alloc(50, 7) },
      ],
      99,
      MAX_BATCH,
    )
    for (let at = CRC_START; at < batch.bytes.length; at++) {
      const copy = Buffer.from(batch.bytes)
      copy[at] = copy[at]! ^ 0x5a
      expect(batchCrcValid(copy, 0, readBatchHeader(copy, 0)), `byte ${at}`).toBe(false)
    }
  })

  it('refuses a batch over the size limit before encoding it, and bad input types', () => {
    const big = { key: null, value: Buffer.alloc(2000) }
    expect(() => encodeBatch([big], 0, 1000)).toThrowError(expect.objectContaining({ code: 'RECORD_TOO_LARGE' }))
    const bad = { key: 'not bytes', value: null } as unknown as RecordInput
    try {
      encodeBatch([bad], 0, MAX_BATCH)
      expect.unreachable()
    } catch (error) {
      expect(isSpoolError(error, 'INVALID_ARGUMENT')).toBe(true)
      expect((error as Error).message).toContain('records[0].key')
    }
    expect(() => encodeBatch([], 0, MAX_BATCH)).toThrowError(expect.objectContaining({ code: 'INVALID_ARGUMENT' }))
  })
})
