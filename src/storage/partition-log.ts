import path from 'node:path'
import { SpoolError, invalidArgument, ioError } from '../errors.js'
import {
  DEFAULT_INDEX_INTERVAL_BYTES,
  DEFAULT_MAX_BATCH_BYTES,
  DEFAULT_READ_MAX_BYTES,
  DEFAULT_SEGMENT_BYTES,
  DEFAULT_SEGMENT_MS,
  MAX_SEGMENT_BYTES,
  MAX_SEGMENT_OFFSET_SPAN,
  RECOVERY_CHECKPOINT_BYTES,
  RECOVERY_CHECKPOINT_MS,
  SCAN_CHUNK_BYTES,
} from '../limits.js'
import { decodeRecords, lastOffsetOf, MalformedBatchError, forEachRecordTime } from '../record/batch-decoder.js'
import { BatchArena } from '../record/batch-arena.js'
import { type EncodedBatch, encodeBatch, setBatchBaseOffset } from '../record/batch-encoder.js'
import type { RecordInput, RecordLabel, StoredRecord } from '../record/types.js'
import { fsyncDirectory, writeFileAtomic, writeFullySync } from './atomic-file.js'
import {
  type CompactionOptions,
  type CompactionPhase,
  type CompactionStats,
  type CleanedSegment,
  KeyMap,
  commitCleaned,
  installSwap,
  mapSegment,
  writeCleanedSegment,
} from './cleaner.js'
import { type DirLock, acquireDirLock } from './dir-lock.js'
import { type FlushPolicy, checkFlushPolicy } from './flush-policy.js'
import { type StorageIO, nodeIO } from './io.js'
import { type LogPosition, encodeLogPosition } from './log-files.js'
import { type Logger, stderrLogger } from './logger.js'
import { CLEAN_SHUTDOWN_FILE, RECOVERY_CHECKPOINT_FILE } from './paths.js'
import { openLogDirectory } from './recovery.js'
import { type RetentionOptions, type RetentionResult, checkRetentionOptions, deleteSegments, expiredSegments } from './retention.js'
import { Segment, type SegmentContext } from './segment.js'
import { type BatchVisit, StaleIndexError, corruptBatchError, readSegmentBatches } from './segment-reader.js'
import { integerIn, nonNegativeInteger } from '../validate.js'

export type { CompactionOptions, CompactionPhase, CompactionStats } from './cleaner.js'
export type { RetentionOptions, RetentionResult } from './retention.js'

export interface PartitionLogOptions {
  /** Default 'always': an acknowledged append survives a crash. */
  flush?: FlushPolicy
  segmentBytes?: number
  segmentMs?: number
  indexIntervalBytes?: number
  maxBatchBytes?: number
  /** Inspect only: no lock, no repair, no writes. */
  readOnly?: boolean
  /** Take the directory lock (default: yes, unless read-only). A spool that locks its data directory passes false. */
  lock?: boolean
  /** Offset of the first record of a new, empty log. */
  initialOffset?: number
  recoveryCheckpointBytes?: number
  recoveryCheckpointMs?: number
  io?: StorageIO
  logger?: Logger
  /** Milliseconds since the epoch; injected so tests control segment rolls. */
  clock?: () => number
}

export interface AppendResult {
  baseOffset: number
  lastOffset: number
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

interface PendingAppend {
  batch: EncodedBatch
  resolve: (result: AppendResult) => void
  reject: (error: unknown) => void
}

interface ResolvedOptions {
  flush: FlushPolicy
  segmentBytes: number
  segmentMs: number
  maxBatchBytes: number
  recoveryCheckpointBytes: number
  recoveryCheckpointMs: number
  clock: () => number
}

function positiveInteger(field: string, value: unknown, fallback: number, max = Number.MAX_SAFE_INTEGER): number {
  return value === undefined ? fallback : integerIn(field, value, 1, max)
}

/**
 * One partition: an append-only sequence of segments in a directory. Appends are
 * serialized through one writer loop that takes every append queued since its last turn
 * and writes them with one writev, then (flush 'always') one fdatasync: group commit.
 * Readers see only what is durable under the flush policy (contract 3).
 */
export class PartitionLog {
  private readonly segments: Segment[]
  private active: Segment
  private nextOffset: number
  private highWatermark: number
  private queue: PendingAppend[] = []
  private writing: Promise<void> | null = null
  private failure: SpoolError | null = null
  private closed = false
  private bytesSinceCheckpoint = 0
  private checkpointing: Promise<void> | null = null
  private checkpointAgain = false
  private readonly sealedSinceCheckpoint: Segment[] = []
  private flushedBytes = 0
  private readonly timers: NodeJS.Timeout[] = []
  private readonly appendListeners = new Set<(endOffset: number) => void>()
  private readonly closeListeners = new Set<() => void>()
  private readonly arena = new BatchArena()
  /** Retention and compaction run one at a time, beside appends and reads. */
  private maintenance: Promise<unknown> = Promise.resolve()
  private readonly allocateBatch = (size: number): Buffer => this.arena.allocate(size)

  private constructor(
    readonly dir: string,
    private readonly ctx: SegmentContext,
    private readonly options: ResolvedOptions,
    segments: Segment[],
    end: LogPosition,
    private readonly lock: DirLock | null,
  ) {
    this.segments = segments
    this.active = segments[segments.length - 1]!
    this.nextOffset = end.nextOffset
    this.highWatermark = end.nextOffset
    this.flushedBytes = this.active.sizeBytes
  }

  static async open(dir: string, options: PartitionLogOptions = {}): Promise<PartitionLog> {
    const readOnly = options.readOnly ?? false
    const resolved: ResolvedOptions = {
      flush: checkFlushPolicy(options.flush ?? 'always'),
      segmentBytes: positiveInteger('segmentBytes', options.segmentBytes, DEFAULT_SEGMENT_BYTES, MAX_SEGMENT_BYTES),
      segmentMs: positiveInteger('segmentMs', options.segmentMs, DEFAULT_SEGMENT_MS),
      maxBatchBytes: positiveInteger('maxBatchBytes', options.maxBatchBytes, DEFAULT_MAX_BATCH_BYTES, MAX_SEGMENT_BYTES),
      recoveryCheckpointBytes: positiveInteger('recoveryCheckpointBytes', options.recoveryCheckpointBytes, RECOVERY_CHECKPOINT_BYTES),
      recoveryCheckpointMs: positiveInteger('recoveryCheckpointMs', options.recoveryCheckpointMs, RECOVERY_CHECKPOINT_MS),
      clock: options.clock ?? Date.now,
    }
    const ctx: SegmentContext = {
      io: options.io ?? nodeIO,
      dir,
      readOnly,
      maxBatchBytes: resolved.maxBatchBytes,
      indexIntervalBytes: positiveInteger('indexIntervalBytes', options.indexIntervalBytes, DEFAULT_INDEX_INTERVAL_BYTES),
      logger: options.logger ?? stderrLogger,
    }
    if (!readOnly) {
      try {
        await ctx.io.mkdirp(dir)
      } catch (error) {
        throw ioError('creating directory', dir, error)
      }
    }
    const lock = !readOnly && (options.lock ?? true) ? await acquireDirLock(dir, ctx.io) : null
    try {
      const initialOffset = options.initialOffset === undefined ? 0 : nonNegativeInteger('initialOffset', options.initialOffset)
      const opened = await openLogDirectory(ctx, initialOffset)
      if (opened.segments.length === 0) {
        // A read-only open of a directory with no segments: an empty log.
        return new PartitionLog(dir, ctx, resolved, [new Segment(ctx, initialOffset)], opened.end, lock)
      }
      const log = new PartitionLog(dir, ctx, resolved, opened.segments, opened.end, lock)
      if (!readOnly) await log.startWriting(opened.recovered)
      return log
    } catch (error) {
      await lock?.release()
      throw error
    }
  }

  /** After open: record where the log is, forget the clean-shutdown marker, start the timers. */
  private async startWriting(recovered: boolean): Promise<void> {
    if (recovered) {
      // What recovery scanned may sit only in the page cache: make it durable before the
      // recovery point vouches for it.
      await this.syncOrFail(this.active)
      await this.active.persistIndexes()
    }
    await this.writeRecoveryPoint(this.endPosition())
    await this.ctx.io.unlink(path.join(this.dir, CLEAN_SHUTDOWN_FILE)).catch(() => undefined)
    await fsyncDirectory(this.ctx.io, this.dir)
    const flush = this.options.flush
    if (typeof flush === 'object') this.every(flush.intervalMs, () => this.flushActive())
    this.every(this.options.recoveryCheckpointMs, () => {
      if (this.bytesSinceCheckpoint > 0) this.checkpointInBackground()
    })
  }

  private every(ms: number, task: () => Promise<void> | void): void {
    const timer = setInterval(() => void task(), ms)
    timer.unref()
    this.timers.push(timer)
  }

  /** The first offset still in the log. */
  get startOffset(): number {
    return this.segments[0]!.baseOffset
  }

  /** The offset after the last record readers can see (the high watermark). */
  get endOffset(): number {
    return this.highWatermark
  }

  get segmentCount(): number {
    return this.segments.length
  }

  /** The segments, oldest first (for inspection; do not modify). */
  get segmentList(): readonly Segment[] {
    return this.segments
  }

  /** Bytes of all segment files' logs (sealed ones are stat'ed, not loaded). */
  async sizeBytes(): Promise<number> {
    let total = 0
    for (const segment of this.segments) total += await segment.logSizeBytes()
    return total
  }

  /**
   * Resolves true once the end offset passes `offset` — woken by the append itself, no
   * polling — or false when the log closes or `signal` aborts first.
   */
  waitForAppend(offset: number, signal?: AbortSignal): Promise<boolean> {
    if (this.highWatermark > offset) return Promise.resolve(true)
    if (this.closed || signal?.aborted === true) return Promise.resolve(false)
    return new Promise((resolve) => {
      const finish = (appended: boolean): void => {
        this.appendListeners.delete(listener)
        this.closeListeners.delete(onClose)
        signal?.removeEventListener('abort', onClose)
        resolve(appended)
      }
      const listener = (endOffset: number): void => {
        if (endOffset > offset) finish(true)
      }
      const onClose = (): void => finish(false)
      this.appendListeners.add(listener)
      this.closeListeners.add(onClose)
      signal?.addEventListener('abort', onClose, { once: true })
    })
  }

  /**
   * Calls `listener` with the new end offset each time records become visible, until the
   * returned function is called: a subscription for readers that wait again and again.
   */
  onAppend(listener: (endOffset: number) => void): () => void {
    this.appendListeners.add(listener)
    return () => this.appendListeners.delete(listener)
  }

  append(records: readonly RecordInput[]): Promise<AppendResult> {
    try {
      this.checkWritable()
      if (!Array.isArray(records)) throw invalidArgument('records', 'must be an array of records')
      const batch = encodeBatch(records, this.options.clock(), this.options.maxBatchBytes, this.allocateBatch)
      return new Promise<AppendResult>((resolve, reject) => {
        this.queue.push({ batch, resolve, reject })
        this.writing ??= this.runWriter()
      })
    } catch (error) {
      return Promise.reject(error)
    }
  }

  private checkWritable(): void {
    if (this.closed) throw new SpoolError('CLOSED', `the log in ${this.dir} is closed; open it again to write`)
    if (this.ctx.readOnly) throw invalidArgument('append', `is not allowed: ${this.dir} was opened read-only`)
    if (this.failure !== null) throw this.failure
  }

  private async runWriter(): Promise<void> {
    try {
      while (this.queue.length > 0) {
        const requests = this.queue
        this.queue = []
        let i = 0
        while (i < requests.length) {
          if (this.failure !== null) {
            for (const request of requests.slice(i)) request.reject(this.failure)
            break
          }
          if (this.shouldRoll(this.active.sizeBytes, requests[i]!.batch)) {
            try {
              await this.roll()
            } catch (error) {
              for (const request of requests.slice(i)) request.reject(error)
              break
            }
          }
          let j = i + 1
          let size = this.active.sizeBytes + requests[i]!.batch.bytes.length
          while (j < requests.length && !this.shouldRoll(size, requests[j]!.batch)) {
            size += requests[j]!.batch.bytes.length
            j++
          }
          await this.writeGroup(requests.slice(i, j))
          i = j
        }
      }
    } finally {
      this.writing = null
    }
  }

  /** Runs `task` while no append is being written; appends queue up and resume after it. */
  private async whileNotWriting(task: () => Promise<void>): Promise<void> {
    while (this.writing !== null) await this.writing
    const run = task().finally(() => {
      this.writing = null
      if (this.queue.length > 0) this.writing = this.runWriter()
    })
    this.writing = run.catch(() => undefined)
    await run
  }

  private shouldRoll(segmentSize: number, batch: EncodedBatch): boolean {
    if (segmentSize === 0) return false
    const active = this.active
    return (
      segmentSize + batch.bytes.length > this.options.segmentBytes ||
      this.options.clock() - active.rollStartMs >= this.options.segmentMs ||
      this.nextOffset + batch.recordCount - active.baseOffset > MAX_SEGMENT_OFFSET_SPAN
    )
  }

  /** Writes appends that all fit in the active segment: one writev, one fdatasync at most. */
  private async writeGroup(requests: PendingAppend[]): Promise<void> {
    const segment = this.active
    const startPosition = segment.sizeBytes
    const buffers: Buffer[] = []
    const results: AppendResult[] = []
    let offset = this.nextOffset
    for (const { batch } of requests) {
      setBatchBaseOffset(batch.bytes, offset)
      results.push({ baseOffset: offset, lastOffset: offset + batch.recordCount - 1 })
      buffers.push(batch.bytes)
      offset += batch.recordCount
    }
    try {
      writeFullySync(this.ctx.io, segment.fd, buffers, startPosition)
    } catch (error) {
      for (const buffer of buffers) this.arena.release(buffer)
      await this.undoWrite(segment, startPosition, error)
      const spoolError = ioError('appending to', segment.paths.log, error)
      for (const request of requests) request.reject(spoolError)
      return
    }
    for (const buffer of buffers) this.arena.release(buffer)
    if (segment.rollStartMs < 0) segment.rollStartMs = this.options.clock()
    let position = startPosition
    for (let k = 0; k < requests.length; k++) {
      const { batch } = requests[k]!
      const result = results[k]!
      segment.indexBatch(position, {
        baseOffset: result.baseOffset,
        lastOffset: result.lastOffset,
        maxTimestamp: batch.maxTimestamp,
        sizeBytes: batch.bytes.length,
      })
      position += batch.bytes.length
    }
    segment.sizeBytes = position
    this.nextOffset = offset
    if (this.options.flush === 'always') {
      try {
        await this.ctx.io.fdatasync(segment.fd)
        this.flushedBytes = position
      } catch (error) {
        this.fail(segment, error)
        for (const request of requests) request.reject(this.failure)
        return
      }
    }
    segment.visibleBytes = position
    this.highWatermark = offset
    this.bytesSinceCheckpoint += position - startPosition
    for (let k = 0; k < requests.length; k++) requests[k]!.resolve(results[k]!)
    for (const listener of this.appendListeners) listener(offset)
    if (this.bytesSinceCheckpoint >= this.options.recoveryCheckpointBytes) this.checkpointInBackground()
  }

  /** A failed write must leave no part of its batches: cut the file back to where it was. */
  private async undoWrite(segment: Segment, position: number, cause: unknown): Promise<void> {
    try {
      await this.ctx.io.ftruncate(segment.fd, position)
    } catch {
      this.fail(segment, cause)
    }
  }

  /**
   * After a failed fsync the page cache can no longer be trusted to match the disk (the
   * lesson of PostgreSQL's fsyncgate): stop appending until the log is reopened from disk.
   */
  private fail(segment: Segment, cause: unknown): void {
    this.failure ??= new SpoolError(
      'PARTITION_FAILED',
      `${this.dir} stopped accepting appends after an I/O failure on ${segment.paths.log}; close and reopen it to recover from disk`,
      { cause, details: { dir: this.dir, file: segment.paths.log } },
    )
  }

  private async roll(): Promise<void> {
    const old = this.active
    if (this.options.flush !== 'always' && this.flushedBytes < old.sizeBytes) {
      // Seal only what is on disk, so the next recovery point may name the new segment.
      await this.syncOrFail(old)
    }
    old.seal()
    const segment = await Segment.create(this.ctx, this.nextOffset)
    if (this.options.flush === 'always') await fsyncDirectory(this.ctx.io, this.dir)
    this.segments.push(segment)
    this.active = segment
    this.flushedBytes = 0
    this.sealedSinceCheckpoint.push(old)
    this.checkpointInBackground()
  }

  private async syncOrFail(segment: Segment): Promise<void> {
    try {
      await this.ctx.io.fdatasync(segment.fd)
    } catch (error) {
      this.fail(segment, error)
      throw this.failure
    }
  }

  /** The timer of flush { intervalMs }: fsync what was written since the last one. */
  private async flushActive(): Promise<void> {
    const segment = this.active
    const written = segment.sizeBytes
    if (this.closed || this.failure !== null || written <= this.flushedBytes) return
    await this.syncOrFail(segment).catch(() => undefined)
    if (segment === this.active && this.failure === null) this.flushedBytes = Math.max(this.flushedBytes, written)
  }

  /** Forces everything written so far to disk, whatever the flush policy. */
  async flush(): Promise<void> {
    this.checkWritable()
    await this.writing
    await this.syncOrFail(this.active)
    this.flushedBytes = this.active.sizeBytes
  }

  private endPosition(): LogPosition {
    const active = this.active
    return {
      segmentBase: active.baseOffset,
      position: active.sizeBytes,
      nextOffset: this.nextOffset,
      maxTimestamp: active.maxTimestamp,
      rollStartMs: active.rollStartMs,
    }
  }

  private checkpointInBackground(): void {
    this.checkpoint().catch((error: unknown) => {
      this.ctx.logger.warn(`${this.dir}: recovery checkpoint failed: ${(error as Error).message}`)
    })
  }

  /**
   * Moves the recovery point up to what is written now: fsync the sealed segments and the
   * active one, persist their index entries, then record the point. Runs beside appends.
   */
  private checkpoint(): Promise<void> {
    if (this.checkpointing !== null) {
      this.checkpointAgain = true
      return this.checkpointing
    }
    this.checkpointing = (async () => {
      do {
        this.checkpointAgain = false
        const target = this.endPosition()
        const segment = this.active
        const bytesCovered = this.bytesSinceCheckpoint
        // A sealed segment leaves the list only once its indexes are on disk, so a failed
        // checkpoint is retried by the next one before the recovery point moves past it.
        while (this.sealedSinceCheckpoint.length > 0) {
          await this.sealedSinceCheckpoint[0]!.persistIndexes()
          this.sealedSinceCheckpoint.shift()
        }
        if (this.flushedBytes < target.position && segment === this.active) {
          await this.syncOrFail(segment)
          if (segment === this.active) this.flushedBytes = Math.max(this.flushedBytes, target.position)
        }
        await segment.persistIndexes()
        await this.writeRecoveryPoint(target)
        this.bytesSinceCheckpoint = Math.max(0, this.bytesSinceCheckpoint - bytesCovered)
      } while (this.checkpointAgain)
    })().finally(() => {
      this.checkpointing = null
    })
    return this.checkpointing
  }

  private writeRecoveryPoint(position: LogPosition): Promise<void> {
    return writeFileAtomic(this.ctx.io, path.join(this.dir, RECOVERY_CHECKPOINT_FILE), encodeLogPosition(position))
  }

  private segmentIndexFor(offset: number): number {
    let low = 0
    let high = this.segments.length - 1
    while (low < high) {
      const mid = (low + high + 1) >>> 1
      if (this.segments[mid]!.baseOffset <= offset) low = mid
      else high = mid - 1
    }
    return low
  }

  /** The first segment of the list that starts after `baseOffset`. */
  private segmentAfter(baseOffset: number): Segment | undefined {
    const i = this.segmentIndexFor(baseOffset)
    return this.segments[this.segments[i]!.baseOffset > baseOffset ? i : i + 1]
  }

  /** Offsets of `segment` lie below this: the next segment's base, or the log's end. */
  private offsetLimitOf(segment: Segment): number {
    if (segment === this.active) return this.nextOffset
    return this.segmentAfter(segment.baseOffset)?.baseOffset ?? this.nextOffset
  }

  private visibleLimit(segment: Segment): number {
    return segment === this.active ? segment.visibleBytes : segment.sizeBytes
  }

  private checkReadable(): void {
    if (this.closed) throw new SpoolError('CLOSED', `the log in ${this.dir} is closed`)
  }

  /**
   * OFFSET_OUT_OF_RANGE, carrying the current start and end offsets, unless `offset` lies
   * in [startOffset, endOffset] (the end itself is where the next record will be).
   */
  checkInRange(offset: number): void {
    const start = this.startOffset
    const end = this.highWatermark
    if (offset >= start && offset <= end) return
    throw new SpoolError(
      'OFFSET_OUT_OF_RANGE',
      `offset ${offset} is outside the log [${start}, ${end}]; read from an offset in that range`,
      { details: { offset, startOffset: start, endOffset: end } },
    )
  }

  /**
   * Records from `fromOffset` on, whole batches, stopping near `maxBytes` (at least one
   * batch is returned). At the end of the log: no records. Outside the log: OFFSET_OUT_OF_RANGE.
   */
  async read(fromOffset: number, options: ReadOptions = {}): Promise<ReadResult> {
    this.checkReadable()
    nonNegativeInteger('fromOffset', fromOffset)
    const maxBytes = positiveInteger('maxBytes', options.maxBytes, DEFAULT_READ_MAX_BYTES)
    const end = this.highWatermark
    this.checkInRange(fromOffset)
    const records: StoredRecord[] = []
    let nextOffset = fromOffset
    let budget = maxBytes
    // Segments are found by offset at each step: retention and compaction change the list.
    let segment: Segment | undefined = this.segments[this.segmentIndexFor(fromOffset)]
    while (segment !== undefined && nextOffset < end && budget > 0) {
      nextOffset = Math.max(nextOffset, segment.baseOffset)
      const taken = await this.readFromSegment(segment, nextOffset, budget, records, end, options.label)
      nextOffset = taken.nextOffset
      budget -= taken.bytes
      if (taken.full) break
      segment = this.segmentAfter(segment.baseOffset)
    }
    return { records, nextOffset }
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
    const visit = ({ buf, at, position, header }: BatchVisit): 'take' | 'skip' | 'stop' => {
      if (header.baseOffset >= endOffset) return 'stop'
      const last = lastOffsetOf(header)
      if (last < fromOffset) return 'skip'
      const before = out.length
      try {
        decodeRecords(buf, at, header, fromOffset, out, label)
      } catch (error) {
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
    const full = await this.scanSegment(segment, fromOffset, maxBytes, visit)
    return { nextOffset, bytes, full }
  }

  /**
   * Reads a segment's batches from the one holding `offset`, repairing a stale index once.
   * Callers come here straight from finding `segment` in the list, with no await between,
   * so that the segment is held (acquired) before retention or compaction can retire it.
   */
  private async scanSegment(
    segment: Segment,
    offset: number,
    maxBytes: number,
    visit: (batch: BatchVisit) => 'take' | 'skip' | 'stop',
  ): Promise<boolean> {
    segment.acquire()
    try {
      return await this.scanHeldSegment(segment, offset, maxBytes, visit)
    } finally {
      segment.release()
    }
  }

  private async scanHeldSegment(
    segment: Segment,
    offset: number,
    maxBytes: number,
    visit: (batch: BatchVisit) => 'take' | 'skip' | 'stop',
  ): Promise<boolean> {
    await segment.ensureLoaded()
    for (let attempt = 0; ; attempt++) {
      const entry = segment.offsetIndex.lookup(offset)
      try {
        return await readSegmentBatches(segment, {
          fromPosition: entry.position,
          limit: this.visibleLimit(segment),
          minBaseOffset: segment.baseOffset,
          offsetLimit: this.offsetLimitOf(segment),
          maxBytes,
          maxBatchBytes: this.options.maxBatchBytes,
          ...(entry.position > 0 ? { expectedFirstOffset: entry.offset } : {}),
          visit,
        })
      } catch (error) {
        if (!(error instanceof StaleIndexError)) throw error
        if (attempt > 0) throw corruptBatchError(segment, entry.position, entry.offset, error.message)
        this.ctx.logger.warn(`${segment.paths.index}: ${error.message}; rebuilding`)
        const limit = this.offsetLimitOf(segment)
        if (segment === this.active && !this.ctx.readOnly) await this.whileNotWriting(() => segment.rebuildIndexes(limit))
        else await segment.rebuildIndexes(limit)
      }
    }
  }

  /** The first offset whose record timestamp is at or after `timestamp`, or null if none is. */
  async offsetForTimestamp(timestamp: number): Promise<number | null> {
    this.checkReadable()
    if (typeof timestamp !== 'number' || !Number.isSafeInteger(timestamp)) throw invalidArgument('timestamp', 'must be an integer of milliseconds')
    const end = this.highWatermark
    if (end === this.startOffset) return null
    for (let segment = this.segments[0]; segment !== undefined; segment = this.segmentAfter(segment.baseOffset)) {
      segment.acquire()
      try {
        await segment.ensureLoaded()
        if (segment.maxTimestamp < timestamp) continue
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
        if (found !== null) return found
      } finally {
        segment.release()
      }
    }
    return null
  }

  /**
   * Bytes of log from the batch holding `offset` to the visible end: how far behind a
   * reader at `offset` is, in bytes (0 at or past the end).
   */
  async bytesFrom(offset: number): Promise<number> {
    this.checkReadable()
    nonNegativeInteger('offset', offset)
    const end = this.highWatermark
    if (offset >= end) return 0
    const from = Math.max(offset, this.startOffset)
    let segment: Segment | undefined = this.segments[this.segmentIndexFor(from)]!
    let position = -1
    await this.scanSegment(segment, from, SCAN_CHUNK_BYTES, ({ position: at, header }) => {
      if (header.baseOffset >= end) return 'stop'
      if (lastOffsetOf(header) < from) return 'skip'
      position = at
      return 'stop'
    })
    let total = position < 0 ? 0 : this.visibleLimit(segment) - position
    for (segment = this.segmentAfter(segment.baseOffset); segment !== undefined; segment = this.segmentAfter(segment.baseOffset)) {
      total += segment === this.active ? segment.visibleBytes : await segment.logSizeBytes()
    }
    return total
  }

  /** Runs retention and compaction one at a time. */
  private exclusive<T>(task: () => Promise<T>): Promise<T> {
    const run = this.maintenance.then(() => {
      this.checkWritable()
      return task()
    })
    this.maintenance = run.catch(() => undefined)
    return run
  }

  /**
   * The sealed segments retention and compaction may change: those whose indexes the
   * checkpoint has persisted (a segment sealed since is still written to by it).
   */
  private async settledSealedSegments(): Promise<Segment[]> {
    await this.checkpoint()
    const settled: Segment[] = []
    for (const segment of this.segments) {
      if (segment === this.active || this.sealedSinceCheckpoint.includes(segment)) break
      settled.push(segment)
    }
    return settled
  }

  /**
   * Deletes the sealed segments at the start of the log that the retention policy expires
   * (see retention.ts); the start offset moves to the first segment left. Reads below it
   * then fail with OFFSET_OUT_OF_RANGE; reads in flight on a deleted segment finish first.
   */
  applyRetention(options: RetentionOptions): Promise<RetentionResult> {
    try {
      this.checkWritable()
      const policy = checkRetentionOptions(options, this.options.clock)
      return this.exclusive(async () => {
        const sealed = await this.settledSealedSegments()
        const expired = await expiredSegments(sealed, () => this.sizeBytes(), policy)
        // Out of the list first (synchronously, all at once): no new read can find them.
        this.segments.splice(0, expired.segments.length)
        await deleteSegments(this.ctx, expired.segments)
        return { deletedSegments: expired.segments.length, deletedBytes: expired.bytes, startOffset: this.startOffset }
      })
    } catch (error) {
      return Promise.reject(error)
    }
  }

  /**
   * Compacts the sealed segments (see cleaner.ts): keeps each key's latest record, drops
   * tombstones older than `deleteRetentionMs`, keeps records without a key, and never
   * renumbers. The active segment is read but not changed. Appends and reads go on
   * meanwhile; a reader holding a segment being replaced finishes on its old file.
   */
  compact(options: CompactionOptions): Promise<CompactionStats> {
    try {
      this.checkWritable()
      const { now, deleteRetentionMs } = options
      if (!Number.isSafeInteger(now)) throw invalidArgument('now', 'must be an integer of milliseconds')
      if (!Number.isSafeInteger(deleteRetentionMs) || deleteRetentionMs < 0) {
        throw invalidArgument('deleteRetentionMs', 'must be a non-negative integer')
      }
      return this.exclusive(() => this.compactNow(options))
    } catch (error) {
      return Promise.reject(error)
    }
  }

  private async compactNow(options: CompactionOptions): Promise<CompactionStats> {
    const stats: CompactionStats = { segmentsCleaned: 0, recordsRemoved: 0, tombstonesRemoved: 0, bytesBefore: 0, bytesAfter: 0 }
    const phase = async (name: CompactionPhase, baseOffset: number): Promise<void> => {
      await options.onPhase?.(name, baseOffset)
    }
    const cleanable = await this.settledSealedSegments()
    if (cleanable.length === 0) return stats
    // Map every key to its latest offset over the whole log as it is now.
    const end = this.highWatermark
    const map = new KeyMap(cleanable.length, options.now - options.deleteRetentionMs)
    let index = 0
    for (let segment = this.segments[0]; segment !== undefined && segment.baseOffset < end; segment = this.segmentAfter(segment.baseOffset)) {
      segment.acquire()
      try {
        await segment.ensureLoaded()
        await mapSegment(map, segment, index++, this.visibleLimit(segment), end, this.options.maxBatchBytes)
      } finally {
        segment.release()
      }
    }
    map.finish()
    await phase('map-built', -1)
    // Rewrite, oldest first (the order that keeps every crash point safe).
    for (const [i, old] of cleanable.entries()) {
      if (map.drops[i] === 0) continue
      if (this.closed) break
      const on = (name: CompactionPhase): Promise<void> => phase(name, old.baseOffset)
      old.acquire()
      let cleaned: CleanedSegment
      try {
        await old.ensureLoaded()
        cleaned = await writeCleanedSegment(this.ctx, old, map, on)
      } finally {
        old.release()
      }
      try {
        await commitCleaned(this.ctx, old.paths, on)
      } catch (error) {
        await cleaned.segment.close().catch(() => undefined)
        throw error
      }
      // The only synchronous step: new reads find the cleaned segment, which reads
      // through its own fd whatever the files are named.
      this.segments[this.segments.indexOf(old)] = cleaned.segment
      stats.segmentsCleaned++
      stats.recordsRemoved += cleaned.recordsRemoved
      stats.tombstonesRemoved += cleaned.tombstonesRemoved
      stats.bytesBefore += old.sizeBytes
      stats.bytesAfter += cleaned.segment.sizeBytes
      await on('swapped-in-memory')
      // Reads in flight finish on the old fd before the old files are replaced.
      await old.retire()
      await installSwap(this.ctx, old.paths, on)
    }
    return stats
  }

  /**
   * Waits for appends in flight, makes everything durable, persists the indexes, records
   * the recovery point and the clean-shutdown marker, and releases the directory.
   */
  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    for (const timer of this.timers) clearInterval(timer)
    for (const listener of [...this.closeListeners]) listener()
    try {
      if (!this.ctx.readOnly) {
        await this.maintenance // a compaction stops at its next segment once it sees `closed`
        while (this.writing !== null) await this.writing
        await this.checkpointing?.catch(() => undefined)
        if (this.failure === null) {
          await this.checkpoint()
          await writeFileAtomic(this.ctx.io, path.join(this.dir, CLEAN_SHUTDOWN_FILE), encodeLogPosition(this.endPosition()))
        }
      }
    } finally {
      for (const segment of this.segments) await segment.close().catch(() => undefined)
      await this.lock?.release()
    }
  }
}
