import type { ReadBuffers } from './log-scanner.js'
import { SpoolError, invalidArgument, isSpoolError } from '../errors.js'
import { DEFAULT_READ_MAX_BYTES, SCAN_CHUNK_BYTES } from '../limits.js'
import { type BatchHeader, MalformedBatchError, decodeRecords, forEachRecordTime, inCurrentFormat, lastOffsetOf } from '../record/batch-decoder.js'
import { CURRENT_BATCH_FORMAT } from '../record/batch-format.js'
import type { RecordLabel, StoredRecord } from '../record/types.js'
import { integerIn, nonNegativeInteger } from '../validate.js'
import type { QuarantineGaps } from './quarantine-record.js'
import type { Segment, SegmentContext } from './segment.js'
import type { SegmentList } from './segment-list.js'
import { type BatchVisit, StaleIndexError, corruptBatchError, readSegmentBatches } from './segment-reader.js'

/**
 * The read path of a partition.
 *
 * Data path: find the segment holding the offset in the list → acquire it before the
 * first await (so retention or compaction retire it only after this read) → its sparse
 * index gives the position of a batch at or before the offset → whole batches are read,
 * each checked (offsets in order, CRC) before it is decoded → records from the offset on.
 *
 * Invariants:
 * - nothing past the high watermark is returned (on the active segment, nothing past
 *   its visible bytes): readers see only what is durable under the flush policy;
 * - a batch that fails a check is never decoded or returned: CORRUPT_BATCH names the
 *   file, position and offset. A read that gathered records before meeting it returns
 *   them, ending before the bad batch; the next read starts there and fails (one bad
 *   batch must not hide the healthy records before it). An index entry that points at
 *   the wrong batch is rebuilt once from the log (indexes are disposable), then the read
 *   is tried again;
 * - a read that starts inside the log returns at least one batch unless it is at the end;
 *   compaction gaps are stepped over, never reported as the end; a gap left by
 *   `spool segments repair` is stepped over too, with a warning the first time.
 */
export interface ReadView {
  readonly ctx: SegmentContext
  readonly segments: SegmentList
  readonly maxBatchBytes: number
  /** Ranges a repair quarantined: a read across one is warned about, once. */
  readonly gaps: QuarantineGaps
  /** The offset after the last visible record. */
  highWatermark(): number
  /** Throws CLOSED once the partition is closed: a read in progress stops at its next segment. */
  checkReadable(): void
  /** Rebuilds the active segment's indexes with no append being written meanwhile. */
  rebuildActive(task: () => Promise<void>): Promise<void>
}

export interface ReadOptions {
  maxBytes?: number
  /** Stamped onto every record returned (the client layer passes the topic and partition). */
  label?: RecordLabel
}

export interface ReadResult {
  records: StoredRecord[]
  /** Where the next read continues (past any compaction gap). */
  nextOffset: number
}

export interface BatchBytes {
  /** Whole stored batches, in offset order (views of what was read; not copied). */
  chunks: Buffer[]
  bytes: number
  /** The offset after the last batch returned. */
  nextOffset: number
}

type Visitor = (batch: BatchVisit) => 'take' | 'skip' | 'stop'

export class LogReader {
  constructor(private readonly view: ReadView) {}

  /**
   * OFFSET_OUT_OF_RANGE, carrying the current start and end offsets, unless `offset` lies
   * in [startOffset, endOffset] (the end itself is where the next record will be).
   */
  checkInRange(offset: number): void {
    const start = this.view.segments.first.baseOffset
    const end = this.view.highWatermark()
    if (offset >= start && offset <= end) return
    throw new SpoolError(
      'OFFSET_OUT_OF_RANGE',
      `offset ${offset} is outside the log [${start}, ${end}]; read from an offset in that range`,
      { details: { offset, startOffset: start, endOffset: end } },
    )
  }

  async read(fromOffset: number, options: ReadOptions = {}): Promise<ReadResult> {
    const { segments } = this.view
    this.view.checkReadable()
    nonNegativeInteger('fromOffset', fromOffset)
    const maxBytes = options.maxBytes === undefined ? DEFAULT_READ_MAX_BYTES : integerIn('maxBytes', options.maxBytes, 1, Number.MAX_SAFE_INTEGER)
    const end = this.view.highWatermark()
    this.checkInRange(fromOffset)
    const records: StoredRecord[] = []
    let nextOffset = fromOffset
    let budget = maxBytes
    // Segments are found by offset at each step: retention and compaction change the list.
    let segment: Segment | undefined = segments.holding(fromOffset)
    while (segment !== undefined && nextOffset < end && budget > 0) {
      if (records.length > 0) this.view.checkReadable()
      nextOffset = Math.max(nextOffset, segment.baseOffset)
      const taken = await this.readFromSegment(segment, nextOffset, budget, records, end, options.label)
      nextOffset = taken.nextOffset
      budget -= taken.bytes
      if (taken.full) break
      segment = segments.after(segment.baseOffset)
    }
    this.view.gaps.noteRead(fromOffset, nextOffset)
    return { records, nextOffset }
  }

  /**
   * The stored bytes of whole batches from the one holding `fromOffset` on, up to the
   * high watermark, stopping near `maxBytes` (at least one batch, as Kafka's KIP-74): what
   * a Fetch sends as it is, never decoded. Each batch was CRC-checked on the way; one of
   * format v1 is sent with its CRC-32C computed (clients check CRC-32C). A read that meets
   * a damaged batch after gathering some returns those, as `read` does.
   */
  async readBatchBytes(fromOffset: number, maxBytes: number, buffers?: ReadBuffers): Promise<BatchBytes> {
    const { segments } = this.view
    this.view.checkReadable()
    nonNegativeInteger('fromOffset', fromOffset)
    integerIn('maxBytes', maxBytes, 1, Number.MAX_SAFE_INTEGER)
    const end = this.view.highWatermark()
    this.checkInRange(fromOffset)
    const chunks: Buffer[] = []
    let bytes = 0
    let nextOffset = fromOffset
    let segment: Segment | undefined = segments.holding(fromOffset)
    while (segment !== undefined && nextOffset < end && bytes < maxBytes) {
      nextOffset = Math.max(nextOffset, segment.baseOffset)
      const from = nextOffset
      let full: boolean
      try {
        full = await this.scanSegment(segment, from, maxBytes - bytes, buffers, ({ buf, at, header, format }) => {
          if (header.baseOffset >= end) return 'stop'
          const last = lastOffsetOf(header)
          if (last < from) return 'skip'
          const stored = buf.subarray(at, at + header.sizeBytes)
          chunks.push(format === CURRENT_BATCH_FORMAT ? stored : inCurrentFormat(stored))
          bytes += header.sizeBytes
          nextOffset = last + 1
          return 'take'
        })
      } catch (error) {
        if (chunks.length === 0 || !isSpoolError(error, 'CORRUPT_BATCH')) throw error
        break
      }
      if (full) break
      segment = segments.after(segment.baseOffset)
    }
    return { chunks, bytes, nextOffset }
  }

  private async readFromSegment(
    segment: Segment,
    fromOffset: number,
    maxBytes: number,
    out: StoredRecord[],
    endOffset: number,
    label: RecordLabel | undefined,
  ): Promise<{ nextOffset: number; bytes: number; full: boolean }> {
    let nextOffset = fromOffset
    let bytes = 0
    const visit: Visitor = ({ buf, at, position, header }) => {
      if (header.baseOffset >= endOffset) return 'stop'
      const last = lastOffsetOf(header)
      if (last < fromOffset) return 'skip'
      const before = out.length
      try {
        decodeRecords(buf, at, header, fromOffset, out, label)
      } catch (error) {
        out.length = before // no record of a malformed batch is served, not even its first ones
        if (error instanceof MalformedBatchError) throw corruptBatchError(segment, position, header.baseOffset, error.message)
        throw error
      }
      nextOffset = last + 1
      // A batch whose records from `fromOffset` on were compacted away: read on, so that
      // a read returns nothing only at the end of the log.
      if (out.length === before) return 'skip'
      bytes += header.sizeBytes
      return 'take'
    }
    let full: boolean
    try {
      full = await this.scanSegment(segment, fromOffset, maxBytes, undefined, visit)
    } catch (error) {
      // Records gathered before the damage are returned, ending before the bad batch
      // (`nextOffset` is past the last batch taken); the next read starts there and fails.
      if (out.length === 0 || !isSpoolError(error, 'CORRUPT_BATCH')) throw error
      full = true
    }
    return { nextOffset, bytes, full }
  }

  /**
   * Reads a segment's batches from the one holding `offset`. Callers come here straight
   * from finding `segment` in the list, with no await between, so that the segment is
   * held (acquired) before retention, compaction or close can retire it.
   */
  scanSegment(segment: Segment, offset: number, maxBytes: number, buffers: ReadBuffers | undefined, visit: Visitor): Promise<boolean> {
    return segment.whileHeld(() => this.scanHeldSegment(segment, offset, maxBytes, visit, buffers))
  }

  /** Reads from the index entry at or before `offset`, repairing a stale index once. */
  private async scanHeldSegment(segment: Segment, offset: number, maxBytes: number, visit: Visitor, buffers?: ReadBuffers): Promise<boolean> {
    const { segments, ctx } = this.view
    await segment.ensureLoaded()
    for (let attempt = 0; ; attempt++) {
      const entry = segment.offsetIndex.lookup(offset)
      const limit = segments.offsetLimitOf(segment, this.view.highWatermark())
      try {
        return await readSegmentBatches(segment, {
          fromPosition: entry.position,
          limit: segments.visibleLimit(segment),
          minBaseOffset: segment.baseOffset,
          offsetLimit: limit,
          maxBytes,
          maxBatchBytes: this.view.maxBatchBytes,
          ...(entry.position > 0 ? { expectedFirstOffset: entry.offset } : {}),
          visit,
          ...(buffers === undefined ? {} : { buffers }),
        })
      } catch (error) {
        if (!(error instanceof StaleIndexError)) throw error
        if (attempt > 0) throw corruptBatchError(segment, entry.position, entry.offset, error.message)
        ctx.logger.warn(`${segment.paths.index}: ${error.message}; rebuilding`)
        if (segment === segments.active && !ctx.readOnly) await this.view.rebuildActive(() => segment.rebuildIndexes(limit))
        else await segment.rebuildIndexes(limit)
      }
    }
  }

  /**
   * Visits the header of every batch that ends at or after `offset`, up to the high
   * watermark, in order: what rebuilding the producers' state reads. Headers only: no
   * record is decoded.
   */
  async forEachBatchHeader(offset: number, visit: (header: BatchHeader) => void): Promise<void> {
    const { segments } = this.view
    let next = Math.max(offset, segments.first.baseOffset)
    while (next < this.view.highWatermark()) {
      const segment = segments.holding(next)
      const more = await this.scanSegment(segment, next, SCAN_CHUNK_BYTES, undefined, ({ header }) => {
        const last = lastOffsetOf(header)
        if (last >= next) {
          visit(header)
          next = last + 1
        }
        return 'take'
      })
      if (!more) {
        const following = segments.after(segment.baseOffset)
        if (following === undefined) return
        next = Math.max(next, following.baseOffset)
      }
    }
  }

  /** The first offset whose record timestamp is at or after `timestamp`, or null if none is. */
  async offsetForTimestamp(timestamp: number): Promise<number | null> {
    const { segments } = this.view
    this.view.checkReadable()
    if (typeof timestamp !== 'number' || !Number.isSafeInteger(timestamp)) throw invalidArgument('timestamp', 'must be an integer of milliseconds')
    const end = this.view.highWatermark()
    if (end === segments.first.baseOffset) return null
    for (let segment: Segment | undefined = segments.first; segment !== undefined; segment = segments.after(segment.baseOffset)) {
      const held = segment
      const found = await held.whileHeld(async () => {
        // The largest timestamp comes from the time index's last entry: segments before
        // the one that holds `timestamp` are skipped without being opened.
        if ((await held.largestTimestamp()) < timestamp) return null
        await held.ensureLoaded()
        return this.firstAtOrAfter(held, timestamp, end)
      })
      if (found !== null) return found
      this.view.checkReadable()
    }
    return null
  }

  private async firstAtOrAfter(segment: Segment, timestamp: number, end: number): Promise<number | null> {
    const from = segment.timeIndex.offsetBefore(timestamp) ?? segment.baseOffset
    let found: number | null = null
    await this.scanHeldSegment(segment, from, SCAN_CHUNK_BYTES, ({ buf, at, header }) => {
      if (header.baseOffset >= end) return 'stop'
      if (header.maxTimestamp < timestamp) return 'skip'
      forEachRecordTime(buf, at, header, (offset, recordTimestamp) => {
        if (recordTimestamp < timestamp || offset < from) return true
        found = offset
        return false
      })
      return found === null ? 'skip' : 'stop'
    })
    return found
  }

  /**
   * Bytes of log from the batch holding `offset` to the visible end: how far behind a
   * reader at `offset` is, in bytes (0 at or past the end).
   */
  async bytesFrom(offset: number): Promise<number> {
    const { segments } = this.view
    this.view.checkReadable()
    nonNegativeInteger('offset', offset)
    const end = this.view.highWatermark()
    if (offset >= end) return 0
    const from = Math.max(offset, segments.first.baseOffset)
    let segment: Segment | undefined = segments.holding(from)
    let position = -1
    await this.scanSegment(segment, from, SCAN_CHUNK_BYTES, undefined, ({ position: at, header }) => {
      if (header.baseOffset >= end) return 'stop'
      if (lastOffsetOf(header) < from) return 'skip'
      position = at
      return 'stop'
    })
    let total = position < 0 ? 0 : segments.visibleLimit(segment) - position
    for (segment = segments.after(segment.baseOffset); segment !== undefined; segment = segments.after(segment.baseOffset)) {
      total += segment === segments.active ? segment.visibleBytes : await segment.logSizeBytes()
    }
    return total
  }
}
