import { BATCH_HEADER_BYTES } from '../record/batch-format.js'
import { type BatchHeader, batchCrcValid, headerProblem, lastOffsetOf, readBatchHeader } from '../record/batch-decoder.js'
import { SCAN_CHUNK_BYTES } from '../limits.js'
import type { StorageIO } from './io.js'

export interface ScanOptions {
  /** Byte position of the first batch to scan. */
  fromPosition: number
  /** End of the file: nothing at or past it is read. */
  sizeBytes: number
  /** Offsets must not go backwards: the first batch's base offset is at least this. */
  minBaseOffset: number
  /** Every batch must end below this offset (the next segment's base), when known. */
  maxOffsetExclusive?: number
  maxBatchBytes: number
  /** Verify each batch's CRC (recovery) or only its header (index rebuild of a sealed segment). */
  checkCrc: boolean
  onBatch?: (position: number, header: BatchHeader) => void
}

export interface ScanResult {
  /** Position just after the last valid batch. */
  validEndPosition: number
  /** Offset after the last valid batch (or `minBaseOffset` when there is none). */
  nextOffset: number
  batches: number
  /** Why the scan stopped before `sizeBytes`, or null when the whole range was valid. */
  problem: string | null
}

/**
 * Walks the batches of one `.log` from a position, reading in large chunks, and stops at
 * the first thing that is not a whole, valid batch: a short header, a header that cannot
 * be ours, a batch running past the end of the file, a bad CRC, or offsets going back.
 */
export async function scanBatches(io: StorageIO, fd: number, options: ScanOptions): Promise<ScanResult> {
  const result: ScanResult = {
    validEndPosition: options.fromPosition,
    nextOffset: options.minBaseOffset,
    batches: 0,
    problem: null,
  }
  let chunk: Buffer = Buffer.alloc(0)
  let chunkStart = options.fromPosition
  let position = options.fromPosition
  while (position < options.sizeBytes) {
    const remaining = options.sizeBytes - position
    if (remaining < BATCH_HEADER_BYTES) {
      result.problem = `${remaining} trailing bytes are shorter than a batch header`
      break
    }
    if (position + BATCH_HEADER_BYTES > chunkStart + chunk.length) {
      chunk = await readAt(io, fd, position, Math.min(SCAN_CHUNK_BYTES, remaining))
      chunkStart = position
    }
    const header = readBatchHeader(chunk, position - chunkStart)
    const problem = headerProblem(header, options.maxBatchBytes)
    if (problem !== null) {
      result.problem = problem
      break
    }
    if (header.sizeBytes > remaining) {
      result.problem = `the batch at ${position} needs ${header.sizeBytes} bytes but the file ends after ${remaining}`
      break
    }
    if (header.baseOffset < result.nextOffset) {
      result.problem = `the batch at ${position} has base offset ${header.baseOffset}, below ${result.nextOffset}`
      break
    }
    if (options.maxOffsetExclusive !== undefined && lastOffsetOf(header) >= options.maxOffsetExclusive) {
      result.problem = `the batch at ${position} ends at offset ${lastOffsetOf(header)}, at or past ${options.maxOffsetExclusive}`
      break
    }
    if (options.checkCrc) {
      if (position + header.sizeBytes > chunkStart + chunk.length) {
        chunk = await readAt(io, fd, position, Math.min(Math.max(SCAN_CHUNK_BYTES, header.sizeBytes), remaining))
        chunkStart = position
      }
      if (!batchCrcValid(chunk, position - chunkStart, header)) {
        result.problem = `the batch at ${position} (offset ${header.baseOffset}) fails its CRC`
        break
      }
    }
    options.onBatch?.(position, header)
    position += header.sizeBytes
    result.validEndPosition = position
    result.nextOffset = lastOffsetOf(header) + 1
    result.batches++
  }
  return result
}

/** One positioned read of `length` bytes (fewer only at end of file). */
export async function readAt(io: StorageIO, fd: number, position: number, length: number): Promise<Buffer> {
  const buffer = Buffer.allocUnsafe(length)
  let filled = 0
  while (filled < length) {
    const n = await io.read(fd, buffer, filled, length - filled, position + filled)
    if (n === 0) break
    filled += n
  }
  return filled === length ? buffer : buffer.subarray(0, filled)
}

/** readAt on the calling thread. */
export function readAtSync(io: StorageIO, fd: number, position: number, length: number): Buffer {
  const buffer = Buffer.allocUnsafe(length)
  let filled = 0
  while (filled < length) {
    const n = io.readSync(fd, buffer, filled, length - filled, position + filled)
    if (n === 0) break
    filled += n
  }
  return filled === length ? buffer : buffer.subarray(0, filled)
}
