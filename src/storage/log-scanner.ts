import { BATCH_HEADER_BYTES, BATCH_MAGIC, OFFSET_MAGIC } from '../record/batch-format.js'
import { type BatchHeader, batchCrcValid, headerProblem, lastOffsetOf, readBatchHeader } from '../record/batch-decoder.js'
import { SCAN_CHUNK_BYTES } from '../limits.js'
import type { StorageIO } from './io.js'
import { offsetOrderProblem } from './segment-reader.js'

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

/** A window of a file held in memory while it is walked, read in chunks of about SCAN_CHUNK_BYTES. */
export class FileWindow {
  private chunk: Buffer = Buffer.alloc(0)
  private start = 0

  constructor(
    protected readonly io: StorageIO,
    protected readonly fd: number,
    private readonly sizeBytes: number,
  ) {}

  /** Makes [position, position + length) readable (clipped to the file) and returns the buffer and where `position` is in it. */
  async at(position: number, length: number): Promise<{ buf: Buffer; at: number }> {
    if (position < this.start || position + length > this.start + this.chunk.length) {
      this.chunk = await this.load(position, Math.min(Math.max(SCAN_CHUNK_BYTES, length), this.sizeBytes - position))
      this.start = position
    }
    return { buf: this.chunk, at: position - this.start }
  }

  /** The `want` bytes at `position` (fewer where the file ends), in a buffer of their own. */
  protected load(position: number, want: number): Promise<Buffer> {
    return readAt(this.io, this.fd, position, want)
  }
}

/**
 * Walks the batches of one `.log` from a position, reading in large chunks, and stops at
 * the first thing that is not a whole, valid batch: a short header, a header that cannot
 * be ours, a batch running past the end of the file, a bad CRC, or offsets out of order.
 * Offsets lie outside the CRC, so a batch is also blamed when it overlaps the batch after
 * it while that one fits after the batch before (the rule the reader applies, in
 * segment-reader.ts): a base offset raised by a bit flip then stops the scan at the
 * damaged batch, not at the good one after it.
 */
export async function scanBatches(io: StorageIO, fd: number, options: ScanOptions): Promise<ScanResult> {
  const result: ScanResult = {
    validEndPosition: options.fromPosition,
    nextOffset: options.minBaseOffset,
    batches: 0,
    problem: null,
  }
  const window = new FileWindow(io, fd, options.sizeBytes)
  const limit = options.maxOffsetExclusive ?? Number.MAX_SAFE_INTEGER
  let position = options.fromPosition
  while (position < options.sizeBytes) {
    const remaining = options.sizeBytes - position
    if (remaining < BATCH_HEADER_BYTES) {
      result.problem = `${remaining} trailing bytes are shorter than a batch header`
      break
    }
    const head = await window.at(position, BATCH_HEADER_BYTES)
    const header = readBatchHeader(head.buf, head.at)
    const problem = headerProblem(header, options.maxBatchBytes)
    if (problem !== null) {
      result.problem = `the batch at ${position}: ${problem}`
      break
    }
    if (header.sizeBytes > remaining) {
      result.problem = `the batch at ${position} needs ${header.sizeBytes} bytes but the file ends after ${remaining}`
      break
    }
    if (options.checkCrc) {
      const whole = await window.at(position, header.sizeBytes)
      if (!batchCrcValid(whole.buf, whole.at, header)) {
        result.problem = `the batch at ${position} (offset ${header.baseOffset}) fails its CRC`
        break
      }
    }
    const next = position + header.sizeBytes
    const orderProblem = offsetOrderProblem(header.baseOffset, lastOffsetOf(header), result.nextOffset - 1, limit, await baseOffsetAt(window, next, options.sizeBytes))
    if (orderProblem !== null) {
      result.problem = `the batch at ${position}: ${orderProblem}`
      break
    }
    options.onBatch?.(position, header)
    position = next
    result.validEndPosition = position
    result.nextOffset = lastOffsetOf(header) + 1
    result.batches++
  }
  return result
}

/** The base offset of a header of ours at `position`, if a whole one is there. */
async function baseOffsetAt(window: FileWindow, position: number, sizeBytes: number): Promise<number | null> {
  if (position + BATCH_HEADER_BYTES > sizeBytes) return null
  const { buf, at } = await window.at(position, BATCH_HEADER_BYTES)
  return buf[at + OFFSET_MAGIC] === BATCH_MAGIC ? readBatchHeader(buf, at).baseOffset : null
}

export interface SearchOptions {
  /** First byte position to try. */
  fromPosition: number
  /** End of the file: the search never reads past it. */
  sizeBytes: number
  /** A batch found must start at or above this offset (offsets never go back). */
  minBaseOffset: number
  /** …and end below this one, when known (the next segment's base). */
  maxOffsetExclusive?: number
  maxBatchBytes: number
}

export interface FoundBatch {
  position: number
  header: BatchHeader
}

/**
 * The first whole, CRC-valid batch at or after `fromPosition` whose offsets fit: the
 * evidence that damage before it is not a torn tail. Every byte position is tried, since
 * a damaged batch may not say where the next one starts. It costs one pass over the bytes
 * from `fromPosition` to `sizeBytes` (read once, in chunks of about SCAN_CHUNK_BYTES) and
 * a CRC only where a whole header passes every check; the caller bounds it by what it
 * passes as `sizeBytes`.
 */
export async function findValidBatch(io: StorageIO, fd: number, options: SearchOptions): Promise<FoundBatch | null> {
  const window = new FileWindow(io, fd, options.sizeBytes)
  const limit = options.maxOffsetExclusive ?? Number.MAX_SAFE_INTEGER
  let position = options.fromPosition
  while (position + BATCH_HEADER_BYTES <= options.sizeBytes) {
    // One chunk of candidate positions, with the header bytes of the last one.
    const span = Math.min(SCAN_CHUNK_BYTES, options.sizeBytes - BATCH_HEADER_BYTES + 1 - position)
    const { buf, at } = await window.at(position, span + BATCH_HEADER_BYTES - 1)
    for (let i = 0; i < span; i++) {
      if (buf[at + i + OFFSET_MAGIC] !== BATCH_MAGIC) continue // the cheap test first
      const candidate = position + i
      const header = readBatchHeader(buf, at + i)
      if (headerProblem(header, options.maxBatchBytes) !== null) continue
      if (candidate + header.sizeBytes > options.sizeBytes) continue
      if (header.baseOffset < options.minBaseOffset || lastOffsetOf(header) >= limit) continue
      const bytes = at + i + header.sizeBytes <= buf.length ? buf.subarray(at + i, at + i + header.sizeBytes) : await readAt(io, fd, candidate, header.sizeBytes)
      if (batchCrcValid(bytes, 0, header)) return { position: candidate, header }
    }
    position += span
  }
  return null
}

/** One positioned read of `length` bytes (fewer only at end of file). */
/** Where a read puts its bytes: a new buffer by default; a pool's, for reads whose buffers are given back (Kafka fetches). */
export type ReadAllocator = (size: number) => Buffer

/**
 * Buffers a reader takes back after use (a Kafka fetch: src/kafka/handlers/read-buffers.ts),
 * for reads and for the read ahead of them. A buffer read ahead is no reader's until one
 * takes it: `lend` makes it, `adopt` hands it to the reader that took it.
 */
export interface ReadBuffers {
  allocate: ReadAllocator
  lend: ReadAllocator
  adopt(buffer: Buffer): void
}

export async function readAt(io: StorageIO, fd: number, position: number, length: number, allocate: ReadAllocator = Buffer.allocUnsafe): Promise<Buffer> {
  const buffer = allocate(length)
  let filled = 0
  while (filled < length) {
    const n = await io.read(fd, buffer, filled, length - filled, position + filled)
    if (n === 0) break
    filled += n
  }
  return filled === length ? buffer : buffer.subarray(0, filled)
}

/** readAt on the calling thread. */
export function readAtSync(io: StorageIO, fd: number, position: number, length: number, allocate: ReadAllocator = Buffer.allocUnsafe): Buffer {
  const buffer = allocate(length)
  let filled = 0
  while (filled < length) {
    const n = io.readSync(fd, buffer, filled, length - filled, position + filled)
    if (n === 0) break
    filled += n
  }
  return filled === length ? buffer : buffer.subarray(0, filled)
}
