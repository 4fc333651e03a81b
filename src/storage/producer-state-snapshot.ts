import { MAX_PRODUCER_EPOCH, MAX_SEQUENCE } from '../record/batch-format.js'
import { crc32 } from '../record/crc32.js'
import { readInt64, writeInt64 } from '../record/int64.js'

/**
 * The binary snapshot of a partition's idempotent-producer state (producer-state.ts),
 * so that an open reads it instead of scanning the log for producer ids. Big-endian:
 *
 *   0   magic          uint32  0x53505053 ('SPPS')
 *   4   version        uint16  1
 *   6   coversUpTo     int64   every batch below this log offset is in the snapshot
 *   14  producerCount  uint32
 *   18  producers, least recently used first (so a decode keeps the eviction order):
 *         producerId     int64   >= 0
 *         producerEpoch  int16   >= 0
 *         batchCount     uint8   1..PRODUCER_BATCHES_RETAINED
 *         batches, oldest first, 32 bytes each:
 *           firstSeq     int32   >= 0
 *           lastSeq      int32   >= 0
 *           firstOffset  int64   (the batch's base offset)
 *           lastOffset   int64   >= firstOffset
 *           timestamp    int64
 *   end-4  crc          uint32  CRC-32 (IEEE) of every byte before it
 *
 * A producer takes 11 + 32 × batches bytes: at most 171, so a full table
 * (MAX_PRODUCERS_PER_PARTITION) is about 1.7 MB. int64 fields hold JS numbers, exact
 * below 2^53 (src/record/int64.ts). A decode checks the CRC, then every field's range and
 * that the producers fill the buffer exactly: anything else is a torn or foreign file.
 */
export const PRODUCER_SNAPSHOT_MAGIC = 0x53505053
export const PRODUCER_SNAPSHOT_VERSION = 1
/** Kafka's ProducerStateEntry.NUM_BATCHES_TO_RETAIN: the batches per producer whose retries are recognised. */
export const PRODUCER_BATCHES_RETAINED = 5

const HEADER_BYTES = 18
const PRODUCER_HEADER_BYTES = 11
const BATCH_BYTES = 32
const CRC_BYTES = 4
const INT32_MAX = MAX_SEQUENCE
const INT16_MAX = MAX_PRODUCER_EPOCH

/** One batch of a producer, as retained: its sequence range and where it went in the log. */
export interface RetainedBatch {
  firstSeq: number
  lastSeq: number
  firstOffset: number
  lastOffset: number
  timestamp: number
}

/** What a partition keeps of one producer id: its epoch and its last batches (oldest first, never empty). */
export interface ProducerEntry {
  epoch: number
  batches: RetainedBatch[]
}

export function encodeProducerSnapshot(producers: ReadonlyMap<number, ProducerEntry>, coversUpTo: number): Buffer {
  let size = HEADER_BYTES + CRC_BYTES
  for (const entry of producers.values()) size += PRODUCER_HEADER_BYTES + BATCH_BYTES * entry.batches.length
  const out = Buffer.alloc(size)
  out.writeUInt32BE(PRODUCER_SNAPSHOT_MAGIC, 0)
  out.writeUInt16BE(PRODUCER_SNAPSHOT_VERSION, 4)
  writeInt64(out, 6, coversUpTo)
  out.writeUInt32BE(producers.size, 14)
  let at = HEADER_BYTES
  for (const [producerId, entry] of producers) {
    writeInt64(out, at, producerId)
    out.writeInt16BE(entry.epoch, at + 8)
    out.writeUInt8(entry.batches.length, at + 10)
    at += PRODUCER_HEADER_BYTES
    for (const batch of entry.batches) {
      out.writeInt32BE(batch.firstSeq, at)
      out.writeInt32BE(batch.lastSeq, at + 4)
      writeInt64(out, at + 8, batch.firstOffset)
      writeInt64(out, at + 16, batch.lastOffset)
      writeInt64(out, at + 24, batch.timestamp)
      at += BATCH_BYTES
    }
  }
  out.writeUInt32BE(crc32(out.subarray(0, at)), at)
  return out
}

/** The producers and coverage of a snapshot, or null when it is torn, damaged or not one. Never throws. */
export function decodeProducerSnapshot(bytes: Buffer): { producers: Map<number, ProducerEntry>; coversUpTo: number } | null {
  try {
    return decode(bytes)
  } catch {
    return null
  }
}

function decode(bytes: Buffer): { producers: Map<number, ProducerEntry>; coversUpTo: number } | null {
  if (bytes.length < HEADER_BYTES + CRC_BYTES) return null
  const body = bytes.length - CRC_BYTES
  if (crc32(bytes.subarray(0, body)) !== bytes.readUInt32BE(body)) return null
  if (bytes.readUInt32BE(0) !== PRODUCER_SNAPSHOT_MAGIC || bytes.readUInt16BE(4) !== PRODUCER_SNAPSHOT_VERSION) return null
  const coversUpTo = readInt64(bytes, 6)
  const count = bytes.readUInt32BE(14)
  if (!isOffset(coversUpTo)) return null
  // Each producer takes at least one header and one batch: a count that cannot fit is damage.
  if (count > (body - HEADER_BYTES) / (PRODUCER_HEADER_BYTES + BATCH_BYTES)) return null
  const producers = new Map<number, ProducerEntry>()
  let at = HEADER_BYTES
  for (let i = 0; i < count; i++) {
    if (at + PRODUCER_HEADER_BYTES > body) return null
    const producerId = readInt64(bytes, at)
    const epoch = bytes.readInt16BE(at + 8)
    const batchCount = bytes.readUInt8(at + 10)
    at += PRODUCER_HEADER_BYTES
    if (!isOffset(producerId) || producers.has(producerId) || epoch < 0 || epoch > INT16_MAX) return null
    if (batchCount < 1 || batchCount > PRODUCER_BATCHES_RETAINED || at + batchCount * BATCH_BYTES > body) return null
    const batches: RetainedBatch[] = []
    for (let b = 0; b < batchCount; b++, at += BATCH_BYTES) {
      const batch: RetainedBatch = {
        firstSeq: bytes.readInt32BE(at),
        lastSeq: bytes.readInt32BE(at + 4),
        firstOffset: readInt64(bytes, at + 8),
        lastOffset: readInt64(bytes, at + 16),
        timestamp: readInt64(bytes, at + 24),
      }
      if (!isValidBatch(batch)) return null
      batches.push(batch)
    }
    producers.set(producerId, { epoch, batches })
  }
  return at === body ? { producers, coversUpTo } : null
}

function isOffset(value: number): boolean {
  return Number.isSafeInteger(value) && value >= 0
}

function isValidBatch(batch: RetainedBatch): boolean {
  return (
    batch.firstSeq >= 0 &&
    batch.firstSeq <= INT32_MAX &&
    batch.lastSeq >= 0 &&
    batch.lastSeq <= INT32_MAX &&
    isOffset(batch.firstOffset) &&
    isOffset(batch.lastOffset) &&
    batch.lastOffset >= batch.firstOffset &&
    Number.isSafeInteger(batch.timestamp)
  )
}
