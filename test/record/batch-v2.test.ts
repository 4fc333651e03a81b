import CRC32 from 'crc-32'
import { describe, expect, it } from 'vitest'
import { batchChecksumFormat, batchCodec, decodeRecords, headerProblem, readBatchHeader } from '../../src/record/batch-decoder.js'
import { compressBatch, encodeBatch, setBatchBaseOffset, stampLogAppendTime } from '../../src/record/batch-encoder.js'
import { ATTRIBUTES_LOG_APPEND_TIME, CRC_START, OFFSET_CRC } from '../../src/record/batch-format.js'
import { COMPRESSION_CODECS } from '../../src/record/compression/index.js'
import { crc32c, crc32cReference, crc32cSimd } from '../../src/record/crc32c.js'
import type { RecordInput, StoredRecord } from '../../src/record/types.js'
import { SIMD_CRC32_MIN_BYTES } from '../../src/limits.js'
import { batchOf, plain } from '../helpers/records.js'

const MAX_BATCH = 16 * 1024 * 1024

function decodeAll(bytes: Buffer): StoredRecord[] {
  const out: StoredRecord[] = []
  decodeRecords(bytes, 0, readBatchHeader(bytes, 0), 0, out)
  return out
}

describe('CRC-32C', () => {
  it('is the standard CRC-32C (check value of "123456789"), whichever implementation computes it', () => {
    expect(crc32c(Buffer.from('123456789'))).toBe(0xe3069283)
    expect(crc32cSimd, '@node-rs/crc32 did not load').not.toBeNull()
    const data = Buffer.from(Array.from({ length: 3 * SIMD_CRC32_MIN_BYTES }, (_, i) => (i * 37 + 11) & 0xff))
    for (let length = 0; length <= data.length; length += 7) {
      const slice = data.subarray(0, length)
      expect(crc32cSimd!(slice)).toBe(crc32cReference(slice))
      expect(crc32c(slice)).toBe(crc32cReference(slice))
    }
  })
})

describe('record batch format v2', () => {
  it('carries the CRC-32C of the bytes from the attributes to the end, as Kafka does', () => {
    const batch = encodeBatch(batchOf(0, 5), 1_700_000_000_000, MAX_BATCH)
    const header = readBatchHeader(batch.bytes, 0)
    expect(header.crc).toBe(crc32cReference(batch.bytes.subarray(CRC_START)))
    expect(batchChecksumFormat(batch.bytes, 0, header)).toBe(2)
  })

  it('still reads a batch written by format v1 (CRC-32), and knows it for one', () => {
    const batch = encodeBatch(batchOf(0, 3), 5, MAX_BATCH)
    batch.bytes.writeUInt32BE(CRC32.buf(batch.bytes.subarray(CRC_START)) >>> 0, OFFSET_CRC)
    const header = readBatchHeader(batch.bytes, 0)
    expect(batchChecksumFormat(batch.bytes, 0, header)).toBe(1)
    expect(decodeAll(batch.bytes).map(plain)).toEqual(batchOf(0, 3).map(plain))
    batch.bytes[batch.bytes.length - 1]! ^= 1
    expect(batchChecksumFormat(batch.bytes, 0, header)).toBeNull()
  })

  it('writes the producer id, epoch and base sequence it is given', () => {
    const batch = encodeBatch(batchOf(0, 2), 5, MAX_BATCH, undefined, { producerId: 2 ** 40 + 3, producerEpoch: 7, baseSequence: 99 })
    const header = readBatchHeader(batch.bytes, 0)
    expect([header.producerId, header.producerEpoch, header.baseSequence]).toEqual([2 ** 40 + 3, 7, 99])
    expect(batchChecksumFormat(batch.bytes, 0, header)).toBe(2)
  })

  it("accepts Kafka's 'no timestamp' (-1) and refuses other negative timestamps", () => {
    const records: RecordInput[] = [
      { key: null, value: Buffer.from('a'), timestamp: -1 },
      { key: null, value: Buffer.from('b'), timestamp: 1000 },
    ]
    const batch = encodeBatch(records, 5000, MAX_BATCH)
    expect(decodeAll(batch.bytes).map((r) => r.timestamp)).toEqual([-1, 1000])
    expect(batch.minTimestamp).toBe(1000)
    expect(() => encodeBatch([{ key: null, value: null, timestamp: -2 }], 5, MAX_BATCH)).toThrow(/timestamp/)
  })

  it('gives every record the append time once the log stamps the batch with it', () => {
    const batch = encodeBatch([{ key: null, value: null, timestamp: 10 }, { key: null, value: null, timestamp: 30 }], 5, MAX_BATCH)
    stampLogAppendTime(batch.bytes, 777)
    const header = readBatchHeader(batch.bytes, 0)
    expect(header.attributes & ATTRIBUTES_LOG_APPEND_TIME).not.toBe(0)
    expect(header.maxTimestamp).toBe(777)
    expect(batchChecksumFormat(batch.bytes, 0, header)).toBe(2)
    expect(decodeAll(batch.bytes).map((r) => r.timestamp)).toEqual([777, 777])
  })

  for (const codec of COMPRESSION_CODECS) {
    it(`round-trips records compressed with ${codec}, the codec named in the attributes`, () => {
      const records = batchOf(10, 200, 300)
      const plainBatch = encodeBatch(records, 42, MAX_BATCH)
      const batch = compressBatch(plainBatch, codec)
      setBatchBaseOffset(batch.bytes, 1000)
      const header = readBatchHeader(batch.bytes, 0)
      expect(batchCodec(header)).toBe(codec)
      expect(headerProblem(header, MAX_BATCH)).toBeNull()
      expect(header.sizeBytes).toBe(batch.bytes.length)
      if (codec !== 'none') expect(batch.bytes.length).toBeLessThan(plainBatch.bytes.length / 2)
      expect(batchChecksumFormat(batch.bytes, 0, header)).toBe(2)
      const decoded = decodeAll(batch.bytes)
      expect(decoded.map((r) => r.offset)).toEqual(records.map((_, i) => 1000 + i))
      expect(decoded.map(plain)).toEqual(records.map(plain))
    })
  }

  it('reports compressed records that do not decompress as a malformed batch, not a crash', () => {
    for (const codec of COMPRESSION_CODECS.filter((c) => c !== 'none')) {
      const batch = compressBatch(encodeBatch(batchOf(0, 50, 100), 1, MAX_BATCH), codec)
      batch.bytes.fill(0x5a, 61 + 4, 61 + 24) // garbage inside the compressed payload; the CRC is the caller's check
      expect(() => decodeAll(batch.bytes), codec).toThrow(/do not decompress|overruns|varint|header|null/)
    }
  })
})
