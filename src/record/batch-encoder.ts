import {
  ATTRIBUTES_COMPRESSION_MASK,
  ATTRIBUTES_LOG_APPEND_TIME,
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
  NO_TIMESTAMP,
} from './batch-format.js'
import { type CompressionCodec, codecId, compress } from './compression/index.js'
import { crc32c } from './crc32c.js'
import { writeInt64 } from './int64.js'
import type { RecordInput } from './types.js'
import { MAX_RECORDS_PER_BATCH } from '../limits.js'
import { writeZigzagVarint, writeZigzagVarlong, zigzagVarintSize, zigzagVarlongSize } from './varint.js'
import { SpoolError, invalidArgument } from '../errors.js'

/** A batch encoded once, written as is. Its base offset is patched in when it is placed. */
export interface EncodedBatch {
  bytes: Buffer
  recordCount: number
  maxTimestamp: number
  /** The smallest record timestamp other than NO_TIMESTAMP; NO_TIMESTAMP when every record has none. */
  minTimestamp: number
}

/** Who wrote a batch, for idempotence: Kafka's producer id, epoch and base sequence. */
export interface ProducerIdentity {
  producerId: number
  producerEpoch: number
  baseSequence: number
}

export const NO_PRODUCER: ProducerIdentity = { producerId: NO_PRODUCER_ID, producerEpoch: NO_PRODUCER_EPOCH, baseSequence: NO_SEQUENCE }

/** A timestamp a record may carry: milliseconds since the epoch, or Kafka's NO_TIMESTAMP (-1). */
function validTimestamp(timestamp: number): boolean {
  return Number.isSafeInteger(timestamp) && timestamp >= NO_TIMESTAMP
}

/** Record body sizes of the batch being encoded; reused so encoding allocates one buffer. */
let bodySizes = new Int32Array(1024)

/** The field names of records[index], built only when an error needs them. */
function field(index: number, name: string): string {
  return `records[${index}].${name}`
}

function checkBytes(index: number, name: string, bytes: unknown): void {
  if (bytes !== null && !(bytes instanceof Uint8Array)) throw invalidArgument(field(index, name), 'must be a Buffer or null')
}

function bytesFieldSize(bytes: Buffer | null): number {
  return bytes === null ? 1 : zigzagVarintSize(bytes.length) + bytes.length
}

function headersSize(record: RecordInput, index: number): number {
  const headers = record.headers
  if (headers === undefined || headers.length === 0) return 1
  let size = zigzagVarintSize(headers.length)
  for (let h = 0; h < headers.length; h++) {
    const header = headers[h]!
    if (typeof header.key !== 'string') throw invalidArgument(field(index, `headers[${h}].key`), 'must be a string')
    checkBytes(index, `headers[${h}].value`, header.value)
    const keyBytes = Buffer.byteLength(header.key)
    size += zigzagVarintSize(keyBytes) + keyBytes + bytesFieldSize(header.value)
  }
  return size
}

/** Checks the record's bytes and returns the size of its body (what its length prefix counts). */
function recordBodySize(record: RecordInput, index: number, timestampDelta: number, offsetDelta: number): number {
  checkBytes(index, 'key', record.key)
  checkBytes(index, 'value', record.value)
  return (
    1 + // record attributes
    zigzagVarlongSize(timestampDelta) +
    zigzagVarintSize(offsetDelta) +
    bytesFieldSize(record.key) +
    bytesFieldSize(record.value) +
    headersSize(record, index)
  )
}

function writeRecord(out: Buffer, pos: number, body: number, record: RecordInput, timestampDelta: number, offsetDelta: number): number {
  pos = writeZigzagVarint(out, pos, body)
  out[pos++] = 0 // record attributes: unused in v2
  pos = writeZigzagVarlong(out, pos, timestampDelta)
  pos = writeZigzagVarint(out, pos, offsetDelta)
  pos = writeBytesField(out, pos, record.key)
  pos = writeBytesField(out, pos, record.value)
  return writeHeaders(out, pos, record)
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
    pos = writeBytesField(out, pos, header.value)
  }
  return pos
}

function writeBytesField(out: Buffer, pos: number, bytes: Buffer | null): number {
  if (bytes === null) return writeZigzagVarint(out, pos, -1)
  pos = writeZigzagVarint(out, pos, bytes.length)
  out.set(bytes, pos)
  return pos + bytes.length
}

function tooLarge(message: string, details: Record<string, unknown>): SpoolError {
  return new SpoolError('RECORD_TOO_LARGE', message, { details })
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
  producer: ProducerIdentity = NO_PRODUCER,
): EncodedBatch {
  const count = records.length
  if (count === 0) throw invalidArgument('records', 'must hold at least one record')
  if (bodySizes.length < count) bodySizes = new Int32Array(Math.max(count, bodySizes.length * 2))

  const baseTimestamp = records[0]!.timestamp ?? now
  let maxTimestamp = baseTimestamp
  let minTimestamp = Number.POSITIVE_INFINITY
  let total = BATCH_HEADER_BYTES
  for (let i = 0; i < count; i++) {
    const record = records[i]!
    const timestamp = record.timestamp ?? now
    if (record.timestamp !== undefined && !validTimestamp(timestamp)) {
      throw invalidArgument(field(i, 'timestamp'), 'must be a non-negative integer of milliseconds, or -1 for none')
    }
    if (timestamp > maxTimestamp) maxTimestamp = timestamp
    if (timestamp !== NO_TIMESTAMP && timestamp < minTimestamp) minTimestamp = timestamp
    const body = recordBodySize(record, i, timestamp - baseTimestamp, i)
    bodySizes[i] = body
    total += zigzagVarintSize(body) + body
    if (total > maxBatchBytes) {
      throw tooLarge(`the batch grows past ${maxBatchBytes} bytes at record ${i}; send fewer or smaller records, or raise maxBatchBytes`, {
        maxBatchBytes,
        recordIndex: i,
      })
    }
  }

  const out = allocate(total)
  writeBatchHeader(out, { baseOffset: 0, lastOffsetDelta: count - 1, count, baseTimestamp, maxTimestamp, total, producer })
  let pos = BATCH_HEADER_BYTES
  for (let i = 0; i < count; i++) {
    const record = records[i]!
    pos = writeRecord(out, pos, bodySizes[i]!, record, (record.timestamp ?? now) - baseTimestamp, i)
  }
  stampCrc(out)
  return { bytes: out, recordCount: count, maxTimestamp, minTimestamp: minTimestamp === Number.POSITIVE_INFINITY ? NO_TIMESTAMP : minTimestamp }
}

/** Computes and writes the batch's checksum: CRC-32C of everything from the attributes on. */
export function stampCrc(bytes: Buffer): void {
  bytes.writeUInt32BE(crc32c(bytes.subarray(CRC_START)), OFFSET_CRC)
}

/**
 * The batch with its records compressed by `codec` (a new buffer; `batch` is left as it
 * was, for the caller to release): the header is the same but for the batch length, the
 * codec bits of the attributes and the CRC. 'none' returns the batch itself.
 */
export function compressBatch(batch: EncodedBatch, codec: CompressionCodec): EncodedBatch {
  if (codec === 'none') return batch
  const plain = batch.bytes
  const records = compress(codec, plain.subarray(BATCH_HEADER_BYTES))
  const out = Buffer.allocUnsafe(BATCH_HEADER_BYTES + records.length)
  plain.copy(out, 0, 0, BATCH_HEADER_BYTES)
  records.copy(out, BATCH_HEADER_BYTES)
  out.writeInt32BE(out.length - BATCH_LOG_OVERHEAD_BYTES, OFFSET_BATCH_LENGTH)
  out.writeInt16BE((out.readInt16BE(OFFSET_ATTRIBUTES) & ~ATTRIBUTES_COMPRESSION_MASK) | codecId(codec), OFFSET_ATTRIBUTES)
  stampCrc(out)
  return { ...batch, bytes: out }
}

/**
 * Stamps a batch with the time the log appended it (Kafka's LogAppendTime): the
 * timestamp-type bit of the attributes, and that time as the batch's max timestamp, which
 * readers then give every record. Both lie inside the CRC, so it is computed again.
 */
export function stampLogAppendTime(bytes: Buffer, now: number): void {
  bytes.writeInt16BE(bytes.readInt16BE(OFFSET_ATTRIBUTES) | ATTRIBUTES_LOG_APPEND_TIME, OFFSET_ATTRIBUTES)
  writeInt64(bytes, OFFSET_MAX_TIMESTAMP, now)
  stampCrc(bytes)
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
 * strictly increasing from batch to batch. The base timestamp is the first record's.
 */
export function encodeBatchAt(
  baseOffset: number,
  lastOffset: number,
  records: readonly PlacedRecord[],
  maxBatchBytes: number,
  producer: ProducerIdentity = NO_PRODUCER,
): EncodedBatch {
  const count = records.length
  if (count === 0) throw invalidArgument('records', 'must hold at least one record')
  if (!Number.isSafeInteger(baseOffset) || baseOffset < 0) throw invalidArgument('baseOffset', 'must be a non-negative integer')
  if (!Number.isSafeInteger(lastOffset) || lastOffset - baseOffset > MAX_RECORDS_PER_BATCH - 1) {
    throw invalidArgument('lastOffset', `must be an integer within ${MAX_RECORDS_PER_BATCH - 1} of baseOffset`)
  }
  if (bodySizes.length < count) bodySizes = new Int32Array(Math.max(count, bodySizes.length * 2))
  const baseTimestamp = records[0]!.timestamp
  let maxTimestamp = baseTimestamp
  let minTimestamp = Number.POSITIVE_INFINITY
  let previousOffset = baseOffset - 1
  let total = BATCH_HEADER_BYTES
  for (let i = 0; i < count; i++) {
    const record = records[i]!
    if (!validTimestamp(record.timestamp)) throw invalidArgument(field(i, 'timestamp'), 'must be an integer of milliseconds, or -1 for none')
    if (record.timestamp !== NO_TIMESTAMP && record.timestamp < minTimestamp) minTimestamp = record.timestamp
    if (!Number.isSafeInteger(record.offset) || record.offset <= previousOffset || record.offset > lastOffset) {
      throw invalidArgument(field(i, 'offset'), `must increase and lie in [${baseOffset}, ${lastOffset}]`)
    }
    previousOffset = record.offset
    if (record.timestamp > maxTimestamp) maxTimestamp = record.timestamp
    const body = recordBodySize(record, i, record.timestamp - baseTimestamp, record.offset - baseOffset)
    bodySizes[i] = body
    total += zigzagVarintSize(body) + body
  }
  if (total > maxBatchBytes) {
    throw tooLarge(`the re-encoded batch at offset ${baseOffset} takes ${total} bytes, over ${maxBatchBytes}`, { maxBatchBytes, baseOffset })
  }

  const out = Buffer.allocUnsafe(total)
  writeBatchHeader(out, { baseOffset, lastOffsetDelta: lastOffset - baseOffset, count, baseTimestamp, maxTimestamp, total, producer })
  let pos = BATCH_HEADER_BYTES
  for (let i = 0; i < count; i++) {
    const record = records[i]!
    pos = writeRecord(out, pos, bodySizes[i]!, record, record.timestamp - baseTimestamp, record.offset - baseOffset)
  }
  stampCrc(out)
  return { bytes: out, recordCount: count, maxTimestamp, minTimestamp: minTimestamp === Number.POSITIVE_INFINITY ? NO_TIMESTAMP : minTimestamp }
}

interface BatchHeaderFields {
  baseOffset: number
  lastOffsetDelta: number
  count: number
  baseTimestamp: number
  maxTimestamp: number
  /** Whole batch size in bytes. */
  total: number
  producer: ProducerIdentity
}

function writeBatchHeader(out: Buffer, h: BatchHeaderFields): void {
  writeInt64(out, OFFSET_BASE_OFFSET, h.baseOffset)
  out.writeInt32BE(h.total - BATCH_LOG_OVERHEAD_BYTES, OFFSET_BATCH_LENGTH)
  out.writeInt32BE(0, OFFSET_LEADER_EPOCH)
  out.writeInt8(BATCH_MAGIC, OFFSET_MAGIC)
  out.writeInt16BE(0, OFFSET_ATTRIBUTES)
  out.writeInt32BE(h.lastOffsetDelta, OFFSET_LAST_OFFSET_DELTA)
  writeInt64(out, OFFSET_BASE_TIMESTAMP, h.baseTimestamp)
  writeInt64(out, OFFSET_MAX_TIMESTAMP, h.maxTimestamp)
  writeInt64(out, OFFSET_PRODUCER_ID, h.producer.producerId)
  out.writeInt16BE(h.producer.producerEpoch, OFFSET_PRODUCER_EPOCH)
  out.writeInt32BE(h.producer.baseSequence, OFFSET_BASE_SEQUENCE)
  out.writeInt32BE(h.count, OFFSET_RECORD_COUNT)
}

/** Places a batch at its offset. The base offset lies outside the CRC, so the CRC stands. */
export function setBatchBaseOffset(bytes: Buffer, baseOffset: number): void {
  writeInt64(bytes, OFFSET_BASE_OFFSET, baseOffset)
}

/**
 * Stamps the log incarnation that wrote the batch into its partitionLeaderEpoch field
 * (Kafka's leader epoch; outside the CRC, like the base offset), set at write time.
 */
export function setBatchLeaderEpoch(bytes: Buffer, epoch: number): void {
  bytes.writeInt32BE(epoch, OFFSET_LEADER_EPOCH)
}
