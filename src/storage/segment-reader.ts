import type { ReadBuffers } from './log-scanner.js'
import { SpoolError } from '../errors.js'
import { BATCH_HEADER_BYTES, BATCH_MAGIC, OFFSET_MAGIC } from '../record/batch-format.js'
import { type BatchHeader, batchChecksumFormat, computeBatchCrc, headerProblem, lastOffsetOf, readBatchHeader } from '../record/batch-decoder.js'
import { type BatchFormat, CURRENT_BATCH_FORMAT } from '../record/batch-format.js'
import { readInt64 } from '../record/int64.js'
import type { Segment } from './segment.js'

export interface BatchVisit {
  buf: Buffer
  /** Where the batch starts in `buf`. */
  at: number
  /** Where the batch starts in the `.log`. */
  position: number
  header: BatchHeader
  /** Which checksum it carries: 1 for a batch written before format v2 (CRC-32). */
  format: BatchFormat
}

export interface SegmentReadOptions {
  fromPosition: number
  /** Bytes past this are not read (the end of the segment, or of what is visible). */
  limit: number
  /** Stop once the batches taken add up to this many bytes (at least one batch is taken). */
  maxBytes: number
  maxBatchBytes: number
  /** The first batch read must start at this offset (when reading from an index entry). */
  expectedFirstOffset?: number
  /** Every batch starts at or above this offset (the segment's base offset). */
  minBaseOffset: number
  /** Every batch ends below this offset (the next segment's base, or the log's end). */
  offsetLimit: number
  /** 'take' counts the batch against `maxBytes`; 'skip' does not; 'stop' ends the read. */
  visit: (batch: BatchVisit) => 'take' | 'skip' | 'stop'
  /** Read (and read ahead) into the caller's buffers (segment.read). */
  buffers?: ReadBuffers
}

/** A read ahead sized by the batch before it reads 1/32 more (within a Fetch's pooled read buffer at 1 MB batches). */
const READ_AHEAD_SLACK_DIVISOR = 32

export function corruptBatchError(segment: Segment, position: number, offset: number, why: string): SpoolError {
  return new SpoolError(
    'CORRUPT_BATCH',
    `corrupt batch in ${segment.paths.log} at byte ${position} (offset ${offset}): ${why}; ` +
      'run `spool segments verify` to see the damage, then `spool segments repair` to move it aside (or restore the partition)',
    { details: { file: segment.paths.log, position, offset } },
  )
}

/** Thrown when an index entry does not point at the batch it names: the caller rebuilds. */
export class StaleIndexError extends Error {}

/**
 * Reads whole, CRC-checked batches of one segment with as few positioned reads as it can:
 * one read covers the requested range; a batch larger than the range is read whole.
 * A batch that fails its checks is never handed on: CORRUPT_BATCH names file, position, offset.
 * Resolves true when it stopped because the budget was used up (the segment may hold more),
 * false at the segment's limit or when the visitor said stop.
 */
export async function readSegmentBatches(segment: Segment, options: SegmentReadOptions): Promise<boolean> {
  let position = options.fromPosition
  let budget = options.maxBytes
  let expectedOffset = options.expectedFirstOffset
  // The base offset lies outside the CRC (as in Kafka), so offsets are checked by order:
  // each batch starts above the previous one's last offset and ends below the limit.
  let previousLast = (expectedOffset ?? options.minBaseOffset) - 1
  while (position + BATCH_HEADER_BYTES <= options.limit) {
    // A read ahead sized for a batch larger than the budget (see readAheadFrom) is taken whole.
    const want = Math.max(readLength(position, budget, options.limit), segment.readAheadLengthAt(position))
    let { buf, checkedBytes } = await segment.readChunk(position, want, options.buffers)
    if (buf.length < BATCH_HEADER_BYTES) throw corruptBatchError(segment, position, expectedOffset ?? -1, 'the file is shorter than expected')
    let at = 0
    while (at + BATCH_HEADER_BYTES <= buf.length) {
      const header = readBatchHeader(buf, at)
      const batchPosition = position + at
      const problem = headerProblem(header, options.maxBatchBytes)
      if (expectedOffset !== undefined && (problem !== null || header.baseOffset !== expectedOffset)) {
        throw new StaleIndexError(`the index entry for offset ${expectedOffset} at byte ${batchPosition} does not point at that batch`)
      }
      expectedOffset = undefined
      if (problem !== null) throw corruptBatchError(segment, batchPosition, header.baseOffset, problem)
      if (batchPosition + header.sizeBytes > options.limit) {
        throw corruptBatchError(segment, batchPosition, header.baseOffset, 'the batch runs past the end of the segment')
      }
      if (budget < options.maxBytes && header.sizeBytes > budget) {
        // Only the first batch may exceed the budget; the next call starts at this one.
        readAheadFrom(segment, batchPosition, options)
        return true
      }
      if (at + header.sizeBytes > buf.length) {
        if (budget < options.maxBytes) {
          // The budget's worth of whole batches is taken: the next call starts at this one.
          readAheadFrom(segment, batchPosition, options)
          return true
        }
        if (at > 0) break // the next read starts at this batch
        buf = await segment.read(batchPosition, Math.min(header.sizeBytes + BATCH_HEADER_BYTES, options.limit - batchPosition), options.buffers)
        checkedBytes = 0
      }
      const format = at + header.sizeBytes <= checkedBytes ? CURRENT_BATCH_FORMAT : batchChecksumFormat(buf, at, header)
      if (format === null) throw corruptBatchError(segment, batchPosition, header.baseOffset, 'CRC mismatch')
      const last = lastOffsetOf(header)
      const orderProblem = offsetOrderProblem(header.baseOffset, last, previousLast, options.offsetLimit, nextBaseOffset(buf, at + header.sizeBytes))
      if (orderProblem !== null) throw corruptBatchError(segment, batchPosition, header.baseOffset, orderProblem)
      previousLast = last
      const verdict = options.visit({ buf, at, position: batchPosition, header, format })
      if (verdict === 'stop') return false
      at += header.sizeBytes
      if (verdict === 'take') {
        budget -= header.sizeBytes
        if (budget <= 0) {
          // A batch over the whole budget is likely followed by others of its size (one
          // producer's batches): read ahead enough for one, not a budget's worth and again.
          readAheadFrom(segment, batchPosition + header.sizeBytes, options, header.sizeBytes)
          return true
        }
      }
    }
    position += at
  }
  return false
}

/**
 * Starts reading what the next call, with a whole budget again, will ask for, if there is
 * more: at least a batch of `batchBytes` (a little more: one producer's batches differ by
 * a few bytes of varints) and a header.
 */
function readAheadFrom(segment: Segment, next: number, options: SegmentReadOptions, batchBytes = 0): void {
  if (next + BATCH_HEADER_BYTES > options.limit) return
  const expected = batchBytes === 0 ? 0 : batchBytes + Math.ceil(batchBytes / READ_AHEAD_SLACK_DIVISOR) + BATCH_HEADER_BYTES
  const length = Math.max(readLength(next, options.maxBytes, options.limit), Math.min(options.limit - next, expected))
  segment.readAheadFrom(next, length, options.buffers, (buf) => checkedPrefix(buf, options.maxBatchBytes))
}

/**
 * How many bytes from the start of `buf` are whole batches of the current format whose
 * CRC-32C holds: the check a read ahead does as its bytes arrive, so that the reader that
 * takes them (a Fetch waiting to answer) does not. Everything else (offsets, order, the
 * limits of the read) is still checked by the reader; a batch this stops at is checked
 * there in full and reported there.
 */
function checkedPrefix(buf: Buffer, maxBatchBytes: number): number {
  let at = 0
  while (at + BATCH_HEADER_BYTES <= buf.length) {
    const header = readBatchHeader(buf, at)
    if (headerProblem(header, maxBatchBytes) !== null || at + header.sizeBytes > buf.length) break
    if (computeBatchCrc(buf, at, header.sizeBytes) !== header.crc) break // CRC-32C only: a v1 batch is left to the reader
    at += header.sizeBytes
  }
  return at
}

/** One header more than the budget, so that each batch can be checked against the next. */
function readLength(position: number, budget: number, limit: number): number {
  return Math.min(limit - position, Math.max(budget, BATCH_HEADER_BYTES) + BATCH_HEADER_BYTES)
}

/** The base offset of the batch starting at `at`, if a whole header of ours is there. */
function nextBaseOffset(buf: Buffer, at: number): number | null {
  if (at + BATCH_HEADER_BYTES > buf.length || buf[at + OFFSET_MAGIC] !== BATCH_MAGIC) return null
  return readInt64(buf, at)
}

/**
 * Why a batch's offsets cannot be right, or null. A batch is blamed when it does not
 * start above the previous batch, ends at or past the limit, or overlaps a next batch
 * that itself fits after the previous one (so the damage is here, not there) — unless it
 * starts right after the previous one: the base offset is the only offset field outside
 * the CRC, and this one has the expected value, so the next batch's base is the wrong
 * one (say, a bit flip that sent it back into this batch's offsets). Reads, recovery,
 * verify and repair all blame the same batch by this one rule.
 */
export function offsetOrderProblem(base: number, last: number, previousLast: number, limit: number, nextBase: number | null): string | null {
  if (base <= previousLast) return `base offset ${base} is not above the previous batch's last offset ${previousLast}`
  if (last >= limit) return `the batch ends at offset ${last}, at or past ${limit} where the next segment or the log's end is`
  if (nextBase !== null && base !== previousLast + 1 && nextBase <= last && nextBase > previousLast) return `the batch ends at offset ${last}, over the next batch at ${nextBase}`
  return null
}
