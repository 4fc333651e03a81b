import {
  BATCH_HEADER_BYTES,
  BATCH_LOG_OVERHEAD_BYTES,
  BATCH_MAGIC,
  CRC_START,
  NO_PRODUCER_EPOCH,
  NO_PRODUCER_ID,
  NO_SEQUENCE,
  OFFSET_ATTRIBUTES,
  OFFSET_BASE_OFFSET,
  OFFSET_BASE_SEQUENCE,
  OFFSET_BASE_TIMESTAMP,
  OFFSET_BATCH_LENGTH,
  OFFSET_CRC,
  OFFSET_LAST_OFFSET_DELTA,
  OFFSET_LEADER_EPOCH,
  OFFSET_MAGIC,
  OFFSET_MAX_TIMESTAMP,
  OFFSET_PRODUCER_EPOCH,
  OFFSET_PRODUCER_ID,
  OFFSET_RECORD_COUNT,
} from './batch-format.js'
import { crc32 } from './crc32.js'
import { writeInt64 } from './int64.js'
import type { RecordInput } from './types.js'
import { MAX_RECORDS_PER_BATCH } from '../limits.js'
import { writeZigzagVarint, writeZigzagVarlong, zigzagVarintSize, zigzagVarlongSize } from './varint.js'
import { SpoolError, invalidArgument } from '../errors.js'

/** A batch encoded once, written as is. Its base offset is patched in when it is placed. */
export interface EncodedBatch {
  bytes: Buffer
  recordCount: number
  baseTimestamp: number
  maxTimestamp: number
}

/** Record body sizes of the batch being encoded; reused so encoding allocates one buffer. */
let bodySizes = new Int32Array(1024)

function byteLength(bytes: Buffer | null): number {
  return bytes === null ? 0 : bytes.length
}

function checkBytes(field: string, bytes: unknown): void {
  if (bytes !== null && !(bytes instanceof Uint8Array)) throw invalidArgument(field, 'must be a Buffer or null')
}

function checkTimestamp(index: number, timestamp: number): void {
  if (!Number.isSafeInteger(timestamp) || timestamp < 0) {
    throw invalidArgument(`records[${index}].timestamp`, 'must be a non-negative integer of milliseconds')
  }
}

function headersSize(record: RecordInput, index: number): number {
  const headers = record.headers
  if (headers === undefined || headers.length === 0) return 1
  let size = zigzagVarintSize(headers.length)
  for (let h = 0; h < headers.length; h++) {
    const header = headers[h]!
    if (typeof header.key !== 'string') throw invalidArgument(`records[${index}].headers[${h}].key`, 'must be a string')
    checkBytes(`records[${index}].headers[${h}].value`, header.value)
    const keyBytes = Buffer.byteLength(header.key)
    const valueBytes = byteLength(header.value)
    size += zigzagVarintSize(keyBytes) + keyBytes
    size += header.value === null ? 1 : zigzagVarintSize(valueBytes) + valueBytes
  }
  return size
}

function writeHeaders(out: Buffer, pos: number, record: RecordInput): number {
  const headers = record.headers
  if (headers === undefined || headers.length === 0) {
    out[pos] = 0
    return pos + 1
  }
  pos = writeZigzagVarint(out, pos, headers.length)
  for (const header of headers) {
    const keyBytes = Buffer.byteLength(header.key)
    pos = writeZigzagVarint(out, pos, keyBytes)
    pos += out.write(header.key, pos, keyBytes, 'utf8')
    if (header.value === null) {
      pos = writeZigzagVarint(out, pos, -1)
    } else {
      pos = writeZigzagVarint(out, pos, header.value.length)
      out.set(header.value, pos)
      pos += header.value.length
    }
  }
  return pos
}

/**
 * Encodes records into one batch: a size pass, then one allocation and one write pass.
 * Throws RECORD_TOO_LARGE when the batch would exceed `maxBatchBytes`, before any I/O.
 */
export function encodeBatch(
  records: readonly RecordInput[],
  now: number,
  maxBatchBytes: number,
  allocate: (size: number) => Buffer = Buffer.allocUnsafe,
): EncodedBatch {
  const count = records.length
  if (count === 0) throw invalidArgument('records', 'must hold at least one record')
  if (bodySizes.length < count) bodySizes = new Int32Array(Math.max(count, bodySizes.length * 2))

  const first = records[0]!
  const baseTimestamp = first.timestamp ?? now
  let maxTimestamp = baseTimestamp
  let total = BATCH_HEADER_BYTES
  for (let i = 0; i < count; i++) {
    const record = records[i]!
    checkBytes(`records[${i}].key`, record.key)
    checkBytes(`records[${i}].value`, record.value)
    const timestamp = record.timestamp ?? now
    if (record.timestamp !== undefined) checkTimestamp(i, timestamp)
    if (timestamp > maxTimestamp) maxTimestamp = timestamp
    const keyBytes = byteLength(record.key)
    const valueBytes = byteLength(record.value)
    const body =
      1 +
      zigzagVarlongSize(timestamp - baseTimestamp) +
      zigzagVarintSize(i) +
      (record.key === null ? 1 : zigzagVarintSize(keyBytes) + keyBytes) +
      (record.value === null ? 1 : zigzagVarintSize(valueBytes) + valueBytes) +
      headersSize(record, i)
    bodySizes[i] = body
    total += zigzagVarintSize(body) + body
    if (total > maxBatchBytes) {
      throw new SpoolError(
        'RECORD_TOO_LARGE',
        `the batch grows past ${maxBatchBytes} bytes at record ${i}; send fewer or smaller records, or raise maxBatchBytes`,
        { details: { maxBatchBytes, recordIndex: i } },
      )
    }
  }

  const out = allocate(total)
  writeBatchHeader(out, count, baseTimestamp, maxTimestamp, total)
  let pos = BATCH_HEADER_BYTES
  for (let i = 0; i < count; i++) {
    const record = records[i]!
    pos = writeZigzagVarint(out, pos, bodySizes[i]!)
    out[pos++] = 0 // record attributes: unused in v2
    pos = writeZigzagVarlong(out, pos, (record.timestamp ?? now) - baseTimestamp)
    pos = writeZigzagVarint(out, pos, i)
    pos = writeBytesField(out, pos, record.key)
    pos = writeBytesField(out, pos, record.value)
    pos = writeHeaders(out, pos, record)
  }
  out.writeUInt32BE(crc32(out.subarray(CRC_START)), OFFSET_CRC)
  return { bytes: out, recordCount: count, baseTimestamp, maxTimestamp }
}

/** A record with the offset and timestamp it already has: what compaction re-encodes. */
export interface PlacedRecord extends RecordInput {
  offset: number
  timestamp: number
}

/**
 * Encodes records that already have offsets and timestamps (the records compaction keeps
 * of a batch), placed at `baseOffset`: each record keeps its offset (as its offset delta,
 * so offsets between them are gaps) and timestamp, and the batch keeps `lastOffset` (the
 * batch's original last offset, even when that record is gone), so that offsets stay
 * strictly increasing from batch to batch. The base timestamp is the first record's. Kept
 * apart from encodeBatch so that the append path stays as it is.
 */
export function encodeBatchAt(
  baseOffset: number,
  lastOffset: number,
  records: readonly PlacedRecord[],
  maxBatchBytes: number,
): EncodedBatch {
  const count = records.length
  if (count === 0) throw invalidArgument('records', 'must hold at least one record')
  if (!Number.isSafeInteger(baseOffset) || baseOffset < 0) throw invalidArgument('baseOffset', 'must be a non-negative integer')
  if (!Number.isSafeInteger(lastOffset) || lastOffset - baseOffset > MAX_RECORDS_PER_BATCH - 1) {
    throw invalidArgument('lastOffset', `must be an integer within ${MAX_RECORDS_PER_BATCH - 1} of baseOffset`)
  }
  const sizes = new Int32Array(count)
  const baseTimestamp = records[0]!.timestamp
  let maxTimestamp = baseTimestamp
  let previousOffset = baseOffset - 1
  let total = BATCH_HEADER_BYTES
  for (let i = 0; i < count; i++) {
    const record = records[i]!
    checkBytes(`records[${i}].key`, record.key)
    checkBytes(`records[${i}].value`, record.value)
    if (!Number.isSafeInteger(record.timestamp)) throw invalidArgument(`records[${i}].timestamp`, 'must be an integer of milliseconds')
    if (!Number.isSafeInteger(record.offset) || record.offset <= previousOffset || record.offset > lastOffset) {
      throw invalidArgument(`records[${i}].offset`, `must increase and lie in [${baseOffset}, ${lastOffset}]`)
    }
    previousOffset = record.offset
    if (record.timestamp > maxTimestamp) maxTimestamp = record.timestamp
    const body =
      1 +
      zigzagVarlongSize(record.timestamp - baseTimestamp) +
      zigzagVarintSize(record.offset - baseOffset) +
      (record.key === null ? 1 : zigzagVarintSize(record.key.length) + record.key.length) +
      (record.value === null ? 1 : zigzagVarintSize(record.value.length) + record.value.length) +
      headersSize(record, i)
    sizes[i] = body
    total += zigzagVarintSize(body) + body
  }
  if (total > maxBatchBytes) {
    throw new SpoolError('RECORD_TOO_LARGE', `the re-encoded batch at offset ${baseOffset} takes ${total} bytes, over ${maxBatchBytes}`, {
      details: { maxBatchBytes, baseOffset },
    })
  }

  const out = Buffer.allocUnsafe(total)
  writeBatchHeader(out, count, baseTimestamp, maxTimestamp, total)
  writeInt64(out, OFFSET_BASE_OFFSET, baseOffset)
  out.writeInt32BE(lastOffset - baseOffset, OFFSET_LAST_OFFSET_DELTA)
  let pos = BATCH_HEADER_BYTES
  for (let i = 0; i < count; i++) {
    const record = records[i]!
    pos = writeZigzagVarint(out, pos, sizes[i]!)
    out[pos++] = 0
    pos = writeZigzagVarlong(out, pos, record.timestamp - baseTimestamp)
    pos = writeZigzagVarint(out, pos, record.offset - baseOffset)
    pos = writeBytesField(out, pos, record.key)
    pos = writeBytesField(out, pos, record.value)
    pos = writeHeaders(out, pos, record)
  }
  out.writeUInt32BE(crc32(out.subarray(CRC_START)), OFFSET_CRC)
  return { bytes: out, recordCount: count, baseTimestamp, maxTimestamp }
}

function writeBytesField(out: Buffer, pos: number, bytes: Buffer | null): number {
  if (bytes === null) return writeZigzagVarint(out, pos, -1)
  pos = writeZigzagVarint(out, pos, bytes.length)
  out.set(bytes, pos)
  return pos + bytes.length
}

function writeBatchHeader(out: Buffer, count: number, baseTimestamp: number, maxTimestamp: number, total: number): void {
  writeInt64(out, OFFSET_BASE_OFFSET, 0)
  out.writeInt32BE(total - BATCH_LOG_OVERHEAD_BYTES, OFFSET_BATCH_LENGTH)
  out.writeInt32BE(0, OFFSET_LEADER_EPOCH)
  out.writeInt8(BATCH_MAGIC, OFFSET_MAGIC)
  out.writeInt16BE(0, OFFSET_ATTRIBUTES)
  out.writeInt32BE(count - 1, OFFSET_LAST_OFFSET_DELTA)
  writeInt64(out, OFFSET_BASE_TIMESTAMP, baseTimestamp)
  writeInt64(out, OFFSET_MAX_TIMESTAMP, maxTimestamp)
  writeInt64(out, OFFSET_PRODUCER_ID, NO_PRODUCER_ID)
  out.writeInt16BE(NO_PRODUCER_EPOCH, OFFSET_PRODUCER_EPOCH)
  out.writeInt32BE(NO_SEQUENCE, OFFSET_BASE_SEQUENCE)
  out.writeInt32BE(count, OFFSET_RECORD_COUNT)
}

/** Places a batch at its offset. The base offset lies outside the CRC, so the CRC stands. */
export function setBatchBaseOffset(bytes: Buffer, baseOffset: number): void {
  writeInt64(bytes, OFFSET_BASE_OFFSET, baseOffset)
}
