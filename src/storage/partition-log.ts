import path from 'node:path'
import { validateClientBatch } from '../record/batch-validation.js'
import { SpoolError, invalidArgument, ioError } from '../errors.js'
import {
  DEFAULT_INDEX_INTERVAL_BYTES,
  DEFAULT_MAX_BATCH_BYTES,
  DEFAULT_SEGMENT_BYTES,
  DEFAULT_SEGMENT_MS,
  MAX_SEGMENT_BYTES,
  PUBLISH_MIN_INTERVAL_MS,
  RECOVERY_CHECKPOINT_BYTES,
  RECOVERY_CHECKPOINT_MS,
} from '../limits.js'
import type { RecordInput } from '../record/types.js'
import { type CompressionCodec, parseCompressionCodec } from '../record/compression/index.js'
import { integerIn, nonNegativeInteger } from '../validate.js'
import { createDirectoryDurably, fsyncDirectory, writeFileAtomic } from './atomic-file.js'
import { AppendSignal } from './append-signal.js'
import { Checkpointer } from './checkpointer.js'
import type { CompactionOptions, CompactionStats } from './cleaner.js'
import { type DirLock, acquirePartitionLock } from './dir-lock.js'
import { EpochHistory } from './epochs.js'
import { Idempotence } from './idempotence.js'
import { type QuarantinedRange, QuarantineGaps } from './quarantine-record.js'
import { type FlushPolicy, checkFlushPolicy } from './flush-policy.js'
import { type StorageIO, nodeIO } from './io.js'
import { type LogPosition, encodeLogPosition } from './log-files.js'
import type { ReadBuffers } from './log-scanner.js'
import { type BatchBytes, LogReader, type ReadOptions, type ReadResult } from './log-reader.js'
import { type AppendOptions, type AppendResult, LogWriter } from './log-writer.js'
import { type Logger, stderrLogger } from './logger.js'
import { LogFollower } from './log-follower.js'
import { Maintenance } from './maintenance.js'
import { CLEAN_SHUTDOWN_FILE } from './paths.js'
import { EndPublisher, type PublishedEnd, readPublishedEnd } from './published-end.js'
import { openLogDirectory } from './recovery.js'
import type { RetentionOptions, RetentionResult } from './retention.js'
import { type Scheduler, timerScheduler } from './scheduler.js'
import { Segment, type SegmentContext } from './segment.js'
import { SegmentList } from './segment-list.js'
import { type TimestampPolicy, type TimestampType, parseTimestampType } from './timestamp-policy.js'

export type { CompactionOptions, CompactionPhase, CompactionStats } from './cleaner.js'
export type { RetentionOptions, RetentionResult } from './retention.js'
export type { BatchBytes, ReadOptions, ReadResult } from './log-reader.js'
export type { AppendOptions, AppendResult } from './log-writer.js'

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
  /** Runs the interval flush and the checkpoint timer; injected so tests decide when time passes. */
  scheduler?: Scheduler
  /** 'create' (default): records keep the producer's timestamps; 'logAppend': the log stamps each batch (timestamp-policy.ts). */
  timestampType?: TimestampType
  /** Refuse records stamped more than this before the append time (INVALID_TIMESTAMP). Default null: any. */
  timestampBeforeMaxMs?: number | null
  /** Refuse records stamped more than this after the append time (INVALID_TIMESTAMP). Default null: any. */
  timestampAfterMaxMs?: number | null
  /** How batches are compressed on disk: a codec, or 'producer' (default): as each append asks. */
  compression?: CompressionCodec | 'producer'
}

interface ResolvedOptions {
  flush: FlushPolicy
  segmentBytes: number
  segmentMs: number
  maxBatchBytes: number
  recoveryCheckpointBytes: number
  recoveryCheckpointMs: number
  clock: () => number
  scheduler: Scheduler
  timestamps: TimestampPolicy
  compression: CompressionCodec | 'producer'
}

function optionalBound(field: string, value: unknown): number | null {
  return value === undefined || value === null ? null : nonNegativeInteger(field, value)
}


function positiveInteger(field: string, value: unknown, fallback: number, max = Number.MAX_SAFE_INTEGER): number {
  return value === undefined ? fallback : integerIn(field, value, 1, max)
}

function resolveOptions(options: PartitionLogOptions): ResolvedOptions {
  return {
    flush: checkFlushPolicy(options.flush ?? 'always'),
    segmentBytes: positiveInteger('segmentBytes', options.segmentBytes, DEFAULT_SEGMENT_BYTES, MAX_SEGMENT_BYTES),
    segmentMs: positiveInteger('segmentMs', options.segmentMs, DEFAULT_SEGMENT_MS),
    maxBatchBytes: positiveInteger('maxBatchBytes', options.maxBatchBytes, DEFAULT_MAX_BATCH_BYTES, MAX_SEGMENT_BYTES),
    recoveryCheckpointBytes: positiveInteger('recoveryCheckpointBytes', options.recoveryCheckpointBytes, RECOVERY_CHECKPOINT_BYTES),
    recoveryCheckpointMs: positiveInteger('recoveryCheckpointMs', options.recoveryCheckpointMs, RECOVERY_CHECKPOINT_MS),
    clock: options.clock ?? Date.now,
    scheduler: options.scheduler ?? timerScheduler,
    timestamps: {
      type: options.timestampType === undefined ? 'create' : parseTimestampType(options.timestampType),
      beforeMaxMs: optionalBound('timestampBeforeMaxMs', options.timestampBeforeMaxMs),
      afterMaxMs: optionalBound('timestampAfterMaxMs', options.timestampAfterMaxMs),
    },
    compression: options.compression === undefined || options.compression === 'producer' ? 'producer' : parseCompressionCodec(options.compression, 'compression'),
  }
}

/**
 * One partition: an append-only sequence of segments in a directory. This class opens
 * and closes it and routes each call to the part that owns it:
 * - LogWriter (log-writer.ts): appends, the active segment, rolls, and every fsync of the
 *   active segment (through FileSync);
 * - LogReader (log-reader.ts): reads, lookups by timestamp, lag in bytes;
 * - Checkpointer (checkpointer.ts): the recovery point;
 * - Maintenance (maintenance.ts): retention and compaction;
 * - recovery.ts: what an open finds and repairs.
 */
export class PartitionLog {
  private closed = false
  /** Whether the clean-shutdown marker of the last close is still in place (nothing written since). */
  private markerPresent: boolean
  private readonly stopTimers: Array<() => void> = []
  private readonly signal = new AppendSignal()
  private readonly writer: LogWriter
  private readonly reader: LogReader
  private readonly checkpointer: Checkpointer
  private readonly maintenance: Maintenance
  private readonly idempotence: Idempotence
  /** Writable logs: tells readers in other processes how far they may read (published-end.ts). */
  private readonly publisher: EndPublisher | null
  /** Read-only logs: follows the writer in another process while someone waits at the end (log-follower.ts). */
  private readonly follower: LogFollower | null
  private lastPublishedAt = -Infinity
  /** A group became visible since the last publish (visibleEndMoved). */
  private publishPending = false

  private constructor(
    readonly dir: string,
    private readonly ctx: SegmentContext,
    private readonly options: ResolvedOptions,
    private readonly segments: SegmentList,
    end: LogPosition,
    clean: boolean,
    private readonly epochs: EpochHistory,
    private readonly gaps: QuarantineGaps,
    private readonly lock: DirLock | null,
    publishedAtOpen: PublishedEnd | null,
  ) {
    this.markerPresent = clean
    this.publisher = ctx.readOnly ? null : new EndPublisher(ctx.io, dir, ctx.logger)
    this.follower = ctx.readOnly
      ? new LogFollower({
          ctx,
          segments,
          signal: this.signal,
          highWatermark: () => this.writer.highWatermark,
          followTo: (endOffset) => {
            this.writer.followTo(endOffset)
            this.signal.appended(endOffset, ctx.logger)
          },
          epoch: epochs.current,
          publishedAtOpen,
        })
      : null
    this.idempotence = new Idempotence({
      io: ctx.io,
      dir,
      logger: ctx.logger,
      clock: options.clock,
      highWatermark: () => this.writer.highWatermark,
      startOffset: () => this.startOffset,
      forEachBatchHeader: (offset, visit) => this.reader.forEachBatchHeader(offset, visit),
    })
    this.writer = new LogWriter(ctx, { ...options, epoch: epochs.current }, segments, end, {
      beforeFirstWrite: () => this.forgetCleanShutdown(),
      onVisible: (endOffset, bytes) => {
        this.visibleEndMoved()
        this.checkpointer.appended(bytes)
        this.signal.appended(endOffset, ctx.logger)
      },
      onRolled: (old) => this.checkpointer.sealed(old),
      onIdle: () => {
        if (this.publishPending) this.publishVisibleEnd()
      },
    }, clean, this.idempotence)
    this.checkpointer = new Checkpointer(ctx, {
      endPosition: () => this.writer.endPosition(),
      syncTo: (position) => this.writer.syncTo(position),
      segmentAt: (position) => {
        const segment = this.segments.holding(position.segmentBase)
        return segment.baseOffset === position.segmentBase ? segment : undefined
      },
    }, options.recoveryCheckpointBytes)
    this.reader = new LogReader({
      ctx,
      segments,
      maxBatchBytes: options.maxBatchBytes,
      gaps,
      highWatermark: () => this.writer.highWatermark,
      checkReadable: () => this.checkReadable(),
      rebuildActive: (task) => this.writer.whileNotWriting(task),
    })
    this.maintenance = new Maintenance({
      ctx,
      segments,
      checkpointer: this.checkpointer,
      maxBatchBytes: options.maxBatchBytes,
      clock: options.clock,
      highWatermark: () => this.writer.highWatermark,
      checkWritable: () => this.checkWritable(),
      closing: () => this.closed,
      sizeBytes: () => this.sizeBytes(),
    })
  }

  static async open(dir: string, options: PartitionLogOptions = {}): Promise<PartitionLog> {
    const readOnly = options.readOnly ?? false
    const resolved = resolveOptions(options)
    const ctx: SegmentContext = {
      io: options.io ?? nodeIO,
      dir,
      readOnly,
      maxBatchBytes: resolved.maxBatchBytes,
      indexIntervalBytes: positiveInteger('indexIntervalBytes', options.indexIntervalBytes, DEFAULT_INDEX_INTERVAL_BYTES),
      logger: options.logger ?? stderrLogger,
    }
    if (!readOnly) await createDirectoryDurably(ctx.io, dir)
    const lock = !readOnly && (options.lock ?? true) ? await acquirePartitionLock(dir, ctx.io) : null
    try {
      const initialOffset = options.initialOffset === undefined ? 0 : nonNegativeInteger('initialOffset', options.initialOffset)
      // Read before the segments: a read-only open serves nothing past what the writer had published.
      const publishedEnd = readOnly ? await readPublishedEnd(ctx.io, dir) : null
      const opened = await openLogDirectory(ctx, initialOffset, { flush: resolved.flush, publishedEnd })
      // A read-only open of a directory with no segments: an empty log.
      const segments = new SegmentList(opened.segments.length > 0 ? opened.segments : [new Segment(ctx, initialOffset)])
      const epochs = await EpochHistory.load(ctx.io, dir, segments.first.baseOffset)
      // Offsets past the recovered end may have been handed out before the crash: a new incarnation.
      if (opened.recovered && !readOnly) await epochs.bump(ctx.io, dir, opened.end.nextOffset)
      const gaps = await QuarantineGaps.load(ctx.io, dir, ctx.logger)
      const log = new PartitionLog(dir, ctx, resolved, segments, opened.end, opened.clean, epochs, gaps, lock, publishedEnd)
      if (!readOnly) await log.startWriting(opened.recovered)
      return log
    } catch (error) {
      await lock?.release()
      throw error
    }
  }

  /**
   * After open. A recovered (or new) log is made durable and gets a recovery point at
   * once. A log shut down cleanly is left as it is — files, recovery point and clean-shutdown marker —
   * until its first append (forgetCleanShutdown) or for good if none comes: opening and
   * closing a partition nobody writes costs no write and no fsync.
   */
  private async startWriting(recovered: boolean): Promise<void> {
    if (!this.markerPresent) {
      if (recovered) {
        // What recovery scanned may sit only in the page cache: make it durable before the
        // recovery point vouches for it.
        await this.writer.syncWritten()
        await this.segments.active.persistIndexes()
      }
      await this.checkpointer.writeRecoveryPoint(this.writer.endPosition())
      await this.ctx.io.unlink(path.join(this.dir, CLEAN_SHUTDOWN_FILE)).catch(() => undefined)
      // Also makes a new active segment's name durable before anything is appended to it.
      await fsyncDirectory(this.ctx.io, this.dir)
      // What recovery kept (made durable above) may be more than the last writer published.
      await this.startPublishing()
    }
    const { flush, scheduler, recoveryCheckpointMs } = this.options
    if (typeof flush === 'object') {
      this.stopTimers.push(scheduler.every(flush.intervalMs, () => void this.writer.syncWritten().catch(() => undefined)))
    }
    this.stopTimers.push(scheduler.every(recoveryCheckpointMs, () => this.checkpointer.tick()))
  }

  /**
   * Removes the clean-shutdown marker, durably, before anything changes the log: after a
   * crash, a marker that still matched the files would be trusted, and under flush 'never'
   * the records appended since (acknowledged, then lost) would go unnoticed by the epochs.
   */
  private async forgetCleanShutdown(): Promise<void> {
    if (!this.markerPresent) return
    await this.ctx.io.unlink(path.join(this.dir, CLEAN_SHUTDOWN_FILE)).catch(() => undefined)
    await fsyncDirectory(this.ctx.io, this.dir)
    this.markerPresent = false
    await this.startPublishing()
  }

  /** Opens `published-end` and publishes the end as it is (all durable: recovered and synced, or shut down cleanly). */
  private async startPublishing(): Promise<void> {
    await this.publisher?.open()
    this.publishVisibleEnd()
  }

  /**
   * A group became visible (durable under the policy): publish it (one pwrite, no fsync:
   * published-end.ts) — at once, unless the last publish is under PUBLISH_MIN_INTERVAL_MS
   * old: then when the writer's queue drains, or with a later group. A stream of small
   * appends costs a pwrite a millisecond, not one each; readers never see less than a
   * millisecond-old end while appends go on, and the last one when they stop.
   */
  private visibleEndMoved(): void {
    if (this.options.clock() - this.lastPublishedAt >= PUBLISH_MIN_INTERVAL_MS) this.publishVisibleEnd()
    else this.publishPending = true
  }

  private publishVisibleEnd(): void {
    if (this.publisher === null) return
    this.publishPending = false
    this.lastPublishedAt = this.options.clock()
    const active = this.segments.active
    this.publisher.publish({ segmentBase: active.baseOffset, position: active.visibleBytes, nextOffset: this.writer.highWatermark, epoch: this.epochs.current })
  }

  /** The first offset still in the log. */
  get startOffset(): number {
    return this.segments.first.baseOffset
  }

  /** The offset after the last record readers can see (the high watermark). */
  get endOffset(): number {
    return this.writer.highWatermark
  }

  /** The incarnation of the log now: it grows at every open that had to recover (epochs.ts). */
  get epoch(): number {
    return this.epochs.current
  }

  /** The incarnation that wrote `offset`. */
  epochOf(offset: number): number {
    return this.epochs.epochOf(offset)
  }

  /**
   * Where this log diverged from what a reader saw who stopped at `offset` in `epoch`
   * (records after it were lost in a crash and their offsets reused), or null.
   */
  divergence(offset: number, epoch: number): number | null {
    return this.epochs.divergence(offset, epoch)
  }

  /** Offset ranges that `spool segments repair` moved out of the log (reads skip them, with a warning). */
  get quarantined(): readonly QuarantinedRange[] {
    return this.gaps.ranges
  }

  get segmentCount(): number {
    return this.segments.length
  }

  /** The segments, oldest first (for inspection; do not modify). */
  get segmentList(): readonly Segment[] {
    return this.segments.all
  }

  /** Bytes of all segment files' logs (sealed ones are stat'ed, not loaded). */
  async sizeBytes(): Promise<number> {
    let total = 0
    for (const segment of this.segments.all) total += await segment.logSizeBytes()
    return total
  }

  /**
   * Resolves true once the end offset passes `offset` — woken by the append itself, no
   * polling — or false when the log closes or `signal` aborts first. A read-only log
   * follows the writer in another process meanwhile (log-follower.ts: woken by a watch of
   * the directory, within milliseconds, or by a poll every FOLLOW_POLL_MS), and rejects
   * if it cannot (OFFSET_OUT_OF_RANGE when the writer lost records this log showed).
   */
  waitForAppend(offset: number, signal?: AbortSignal): Promise<boolean> {
    if (this.writer.highWatermark > offset) return Promise.resolve(true)
    if (this.closed || signal?.aborted === true) return Promise.resolve(false)
    if (this.follower !== null) return this.follower.waitPast(offset, signal)
    return this.signal.waitPast(offset, signal)
  }

  /**
   * Calls `listener` with the new end offset each time records become visible, until the
   * returned function is called: a subscription for readers that wait again and again.
   * A read-only log follows its writer (as waitForAppend) while subscribed. `onClose` is
   * called if the log closes meanwhile (at once if it is closed already): no append will come.
   */
  onAppend(listener: (endOffset: number) => void, onClose?: () => void): () => void {
    if (this.closed && onClose !== undefined) queueMicrotask(onClose)
    const unsubscribe = this.signal.subscribe(listener, onClose)
    const release = this.follower?.hold()
    return () => {
      release?.()
      return unsubscribe()
    }
  }

  /**
   * Appends records as one batch. `options.producer` makes it idempotent: a batch its
   * producer sends again resolves with the offsets it got the first time, unstored.
   */
  append(records: readonly RecordInput[], options: AppendOptions = {}): Promise<AppendResult> {
    try {
      this.checkWritable()
      if (!Array.isArray(records)) throw invalidArgument('records', 'must be an array of records')
      const topicCodec = this.options.compression
      const compression = topicCodec === 'producer' ? options.compression : topicCodec
      return this.writer.append(records, compression === undefined ? options : { ...options, compression })
    } catch (error) {
      return Promise.reject(error)
    }
  }

  /**
   * Appends a record batch that arrived as bytes (a Kafka client's Produce): checked whole
   * first (batch-validation.ts), then stored as it is, with its base offset and leader
   * epoch assigned — unless the log forces a codec the batch is not in: then its records
   * are compressed again, as Kafka does for a topic's compression.type. Idempotent when
   * the batch carries a producer id, as `append` with `producer`.
   */
  appendBatch(bytes: Buffer, options: { maxRecordBytes?: number } = {}): Promise<AppendResult> {
    try {
      this.checkWritable()
      const validated = validateClientBatch(bytes, {
        maxBatchBytes: this.options.maxBatchBytes,
        maxRecordBytes: options.maxRecordBytes ?? Number.POSITIVE_INFINITY,
      })
      const forced = this.options.compression
      if (forced === 'producer' || forced === validated.codec) return this.writer.appendEncoded(validated.batch, validated.producer)
      return this.writer.append(validated.records, { producer: validated.producer, compression: forced })
    } catch (error) {
      return Promise.reject(error)
    }
  }

  private checkWritable(): void {
    if (this.closed) throw new SpoolError('CLOSED', `the log in ${this.dir} is closed; open it again to write`)
    if (this.ctx.readOnly) throw invalidArgument('append', `is not allowed: ${this.dir} was opened read-only`)
    const failure = this.writer.failed
    if (failure !== null) throw failure
  }

  private checkReadable(): void {
    if (this.closed) throw new SpoolError('CLOSED', `the log in ${this.dir} is closed`)
  }

  /** Forces everything written so far to disk, whatever the flush policy. */
  async flush(): Promise<void> {
    this.checkWritable()
    await this.writer.whileNotWriting(() => this.writer.syncWritten())
  }

  checkInRange(offset: number): void {
    this.reader.checkInRange(offset)
  }

  /**
   * Records from `fromOffset` on, whole batches, stopping near `maxBytes` (at least one
   * batch is returned). At the end of the log: no records. Outside the log: OFFSET_OUT_OF_RANGE.
   */
  read(fromOffset: number, options: ReadOptions = {}): Promise<ReadResult> {
    return this.reader.read(fromOffset, options)
  }

  /**
   * Stored batches from the one holding `fromOffset` on, as bytes (at least one batch
   * unless at the end; then about `maxBytes`): what a Kafka Fetch sends unchanged.
   */
  readBatchBytes(fromOffset: number, maxBytes: number, buffers?: ReadBuffers): Promise<BatchBytes> {
    return this.reader.readBatchBytes(fromOffset, maxBytes, buffers)
  }

  /** The first offset whose record timestamp is at or after `timestamp`, or null if none is. */
  offsetForTimestamp(timestamp: number): Promise<number | null> {
    return this.reader.offsetForTimestamp(timestamp)
  }

  /** Bytes of log from the batch holding `offset` to the visible end (0 at or past the end). */
  bytesFrom(offset: number): Promise<number> {
    return this.reader.bytesFrom(offset)
  }

  /** Deletes the sealed segments at the start that the retention policy expires (see retention.ts). */
  async applyRetention(options: RetentionOptions): Promise<RetentionResult> {
    this.checkWritable()
    await this.coverSealedSegments()
    return this.maintenance.applyRetention(options)
  }

  /** Compacts the sealed segments (see cleaner.ts and maintenance.ts). */
  async compact(options: CompactionOptions): Promise<CompactionStats> {
    this.checkWritable()
    await this.coverSealedSegments()
    return this.maintenance.compact(options)
  }

  /**
   * Before retention or compaction removes batches of sealed segments, the producers'
   * state that remembers them must be on disk (idempotence.ts). Rolls snapshot it, so
   * this writes only when no roll did since the open.
   */
  private coverSealedSegments(): Promise<void> {
    const sealedEnd = this.segments.active.baseOffset
    if (this.segments.length === 1 || this.idempotence.covers(sealedEnd)) return Promise.resolve()
    return this.writer.whileNotWriting(async () => {
      await this.writer.syncWritten()
      await this.idempotence.cover(this.writer.nextOffset)
    })
  }

  /**
   * Waits for appends in flight, makes everything durable, persists the indexes, records
   * the recovery point and the clean-shutdown marker, waits for reads in flight, and
   * releases the directory.
   */
  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    for (const stop of this.stopTimers) stop()
    this.signal.closed()
    await this.follower?.close()
    try {
      if (!this.ctx.readOnly) {
        await this.maintenance.drained() // a compaction stops at its next segment once it sees `closed`
        await this.writer.drained()
        await this.checkpointer.idle()
        if (this.writer.failed === null && !this.markerPresent) {
          await this.checkpointer.checkpoint()
          // Everything is durable now: the producers' state covers the whole log.
          await this.idempotence.snapshotIfLoaded(this.writer.nextOffset)
          await writeFileAtomic(this.ctx.io, path.join(this.dir, CLEAN_SHUTDOWN_FILE), encodeLogPosition(this.writer.endPosition()))
        }
      }
    } finally {
      // Reads in flight finish on their segments before anything changes under them.
      for (const segment of this.segments.all) await segment.readersGone()
      if (!this.ctx.readOnly) {
        await this.writer.drained()
        await this.writer.cutBackAfterFailure()
      }
      for (const segment of this.segments.all) await segment.retire().catch(() => undefined)
      await this.publisher?.close()
      await this.lock?.release()
    }
  }
}
