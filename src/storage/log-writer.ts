import { SpoolError, ioError } from '../errors.js'
import { MAX_SEGMENT_OFFSET_SPAN } from '../limits.js'
import { BatchArena } from '../record/batch-arena.js'
import { batchChecksumFormat, readBatchHeader } from '../record/batch-decoder.js'
import {
  type EncodedBatch,
  NO_PRODUCER,
  type ProducerIdentity,
  compressBatch,
  encodeBatch,
  setBatchBaseOffset,
  setBatchLeaderEpoch,
  stampLogAppendTime,
} from '../record/batch-encoder.js'
import { BATCH_HEADER_BYTES } from '../record/batch-format.js'
import type { CompressionCodec } from '../record/compression/index.js'
import type { RecordInput } from '../record/types.js'
import { Serial } from '../concurrency/serial.js'
import { fsyncDirectory, writeFullySync } from './atomic-file.js'
import { FileSync } from './file-sync.js'
import type { FlushPolicy } from './flush-policy.js'
import type { Idempotence } from './idempotence.js'
import type { LogPosition } from './log-files.js'
import type { ProducerBatch, SequenceVerdict } from './producer-sequence.js'
import { type TimestampPolicy, checkTimestamps } from './timestamp-policy.js'
import { Segment, type SegmentContext } from './segment.js'
import type { SegmentList } from './segment-list.js'

/**
 * One arena for every writer of the process, made at the first append. An arena a writer
 * held a 4 MiB slab: a spool whose 1,000 partitions had each been written once held
 * 3.9 GiB of buffers (bench W7's process). Writers release what they carved after each
 * write, so one slab serves them all; a slab that fills while batches of it still wait
 * (an fsync in flight) is left to them and a new one is started.
 */
let arenaOfProcess: BatchArena | null = null
function sharedArena(): BatchArena {
  return (arenaOfProcess ??= new BatchArena())
}

/**
 * The write path of a partition, and the only code that moves the active segment.
 *
 * Data path: `append(records)` encodes on the caller's turn (into a reusable arena) and
 * queues → the writer's turn takes every queued append, assigns offsets, and writes them
 * with one writev into the active segment → index entries → under flush 'always', the
 * fdatasync that covers them, through the segment's FileSync (shared with checkpoints
 * and `flush()`: group commit) → visible: the high watermark moves, the appends resolve,
 * the partition is told (`onVisible`).
 *
 * Invariants, each kept here and nowhere else:
 * - offsets are assigned here only, contiguously, in queue order, and never given twice;
 * - an append resolves only once durable under the policy ('always': an fsync that began
 *   after its write covered it; otherwise: written), and readers never see past that
 *   point (`highWatermark`, the active segment's `visibleBytes`);
 * - after any failed fsync of the active segment, or a failed write that could not be cut
 *   back off the file, the partition is failed: nothing more is acknowledged until it is
 *   reopened from disk;
 * - a roll makes the old segment durable, creates the new one (never over existing data)
 *   and makes its directory entry durable, and only then seals the old one and switches:
 *   a crash at any step leaves the old segment whole and the last one active.
 */
export interface WriterOptions {
  flush: FlushPolicy
  segmentBytes: number
  segmentMs: number
  maxBatchBytes: number
  clock: () => number
  /** The log incarnation stamped on every batch written (epochs.ts). */
  epoch: number
  timestamps: TimestampPolicy
}

export interface AppendOptions {
  /** An idempotent producer's id, epoch and base sequence: a batch it sends again is not stored twice. */
  producer?: ProducerIdentity
  /** How the batch's records are compressed on disk. Default 'none'. */
  compression?: CompressionCodec
}

export interface AppendResult {
  baseOffset: number
  lastOffset: number
  /** The time the log stamped the batch with, on a topic of log-append time. */
  logAppendTime?: number
}

export interface WriterEvents {
  /**
   * Runs once, before the first write: a partition opened after a clean shutdown keeps
   * its clean-shutdown marker (and writes nothing) until something is appended.
   */
  beforeFirstWrite(): Promise<void>
  /** Records up to `endOffset` became visible; `bytes` were added to the log. */
  onVisible(endOffset: number, bytes: number): void
  /** `old` was sealed and a new active segment started. */
  onRolled(old: Segment): void
  /** The queue is drained: no append is being written until the next one comes. */
  onIdle(): void
}

interface PendingAppend {
  batch: EncodedBatch
  /** Its producer, when idempotent: the batch is checked against the producers' state. */
  producer: ProducerBatch | null
  resolve: (result: AppendResult) => void
  reject: (error: unknown) => void
}

export class LogWriter {
  private queue: PendingAppend[] = []
  private looping = false
  private readonly turns = new Serial()
  private activeSync: FileSync
  private nextOffsetValue: number
  private highWatermarkValue: number
  private failure: SpoolError | null = null
  private wroteOnce = false
  /** Where the active segment is cut back to at close, after a failed fsync (see cutBackAfterFailure). */
  private pendingCut: { segment: Segment; bytes: number } | null = null
  /** The process's arena, once this writer encoded a batch (see sharedArena): a read-only or idle partition makes none. */
  private arena: BatchArena | null = null
  private readonly allocateBatch = (size: number): Buffer => (this.arena ??= sharedArena()).allocate(size)

  constructor(
    private readonly ctx: SegmentContext,
    private readonly options: WriterOptions,
    private readonly segments: SegmentList,
    end: LogPosition,
    private readonly events: WriterEvents,
    /** Whether the active segment is known to be on disk whole (a clean shutdown synced it). */
    durableAtOpen: boolean,
    private readonly idempotence: Idempotence,
  ) {
    this.nextOffsetValue = end.nextOffset
    this.highWatermarkValue = end.nextOffset
    this.activeSync = this.syncFor(segments.active, durableAtOpen)
  }

  /** The offset the next record gets. */
  get nextOffset(): number {
    return this.nextOffsetValue
  }

  /** The offset after the last record readers may see. */
  get highWatermark(): number {
    return this.highWatermarkValue
  }

  /**
   * Read-only logs only: the writer in another process published records up to
   * `endOffset`, and the follower (log-follower.ts) indexed them: readers may see them.
   */
  followTo(endOffset: number): void {
    if (!this.ctx.readOnly) throw new Error('only a read-only log follows another process')
    this.nextOffsetValue = endOffset
    this.highWatermarkValue = endOffset
  }

  /** Why the partition stopped accepting appends, or null. */
  get failed(): SpoolError | null {
    return this.failure
  }

  /** Where the log ends now: what a recovery point or clean-shutdown marker records. */
  endPosition(): LogPosition {
    const active = this.segments.active
    return {
      segmentBase: active.baseOffset,
      position: active.sizeBytes,
      nextOffset: this.nextOffsetValue,
      maxTimestamp: active.maxTimestamp,
      rollStartMs: active.rollStartMs,
    }
  }

  append(records: readonly RecordInput[], options: AppendOptions = {}): Promise<AppendResult> {
    const now = this.options.clock()
    const identity = options.producer ?? NO_PRODUCER
    const plain = encodeBatch(records, now, this.options.maxBatchBytes, this.allocateBatch, identity)
    let batch = plain
    try {
      checkTimestamps(this.options.timestamps, plain, now)
      batch = compressBatch(plain, options.compression ?? 'none')
    } finally {
      if (batch !== plain) this.arena?.release(plain.bytes)
    }
    return this.enqueue(batch, identity)
  }

  /**
   * Appends a batch already encoded and checked (record-batch-validation.ts: a Kafka
   * client's, stored byte for byte but for its base offset and leader epoch).
   */
  appendEncoded(batch: EncodedBatch, identity: ProducerIdentity): Promise<AppendResult> {
    try {
      checkTimestamps(this.options.timestamps, batch, this.options.clock())
    } catch (error) {
      return Promise.reject(error)
    }
    return this.enqueue(batch, identity)
  }

  private enqueue(batch: EncodedBatch, identity: ProducerIdentity): Promise<AppendResult> {
    const producer = identity.producerId < 0 ? null : producerBatch(identity, batch)
    return new Promise<AppendResult>((resolve, reject) => {
      this.queue.push({ batch, producer, resolve, reject })
      this.startLoop()
    })
  }

  /** Makes everything written so far durable (`flush()`, the interval timer, checkpoints, close). */
  syncWritten(): Promise<void> {
    return this.failing(this.activeSync.syncWritten())
  }

  /** Makes `position` of the log durable, if it is in the active segment (sealed ones were synced at their roll). */
  syncTo(position: LogPosition): Promise<void> {
    if (position.segmentBase !== this.segments.active.baseOffset) return Promise.resolve()
    return this.failing(this.activeSync.syncTo(position.position))
  }

  /** A failed fsync is reported as what it did to the partition: PARTITION_FAILED. */
  private async failing(sync: Promise<void>): Promise<void> {
    const segment = this.segments.active
    try {
      await sync
    } catch (error) {
      throw this.fail(segment, error)
    }
  }

  /** Runs `task` between the writer's turns: no append is being written meanwhile. */
  whileNotWriting<T>(task: () => Promise<T>): Promise<T> {
    return this.turns.run(task)
  }

  /** Settles once every queued append has been written or rejected. */
  async drained(): Promise<void> {
    await this.turns.drained()
    await this.activeSync.idle()
  }

  /** Stops the partition (see the invariants above); the first cause is kept. */
  fail(segment: Segment, cause: unknown): SpoolError {
    this.failure ??= new SpoolError(
      'PARTITION_FAILED',
      `${this.ctx.dir} stopped accepting appends after an I/O failure on ${segment.paths.log}; close and reopen it to recover from disk`,
      { cause, details: { dir: this.ctx.dir, file: segment.paths.log } },
    )
    return this.failure
  }

  private syncFor(segment: Segment, durable: boolean): FileSync {
    const bytesAtOpen = segment.sizeBytes
    const sync: FileSync = new FileSync(this.ctx.io, () => segment.fd, bytesAtOpen, durable, (error) => {
      this.fail(segment, error)
      this.pendingCut ??= { segment, bytes: Math.max(sync.durable, bytesAtOpen) }
    })
    return sync
  }

  /**
   * After a failed fsync the pages past the last good one may never reach the disk, yet
   * the page cache still serves them: a reopen in this process would recover them, vouch
   * for them with a new recovery point, and find zeros after the next power cut. So when
   * the partition closes (its readers gone), the file is cut back to what this process's
   * fsyncs covered — never below what it held at open, which an earlier process may have
   * acknowledged. Nothing cut was acknowledged under 'always'; under the other policies,
   * losing a tail is what they allow, and the next open starts a new epoch (epochs.ts).
   */
  async cutBackAfterFailure(): Promise<void> {
    const cut = this.pendingCut
    if (cut === null) return
    this.pendingCut = null
    try {
      await this.ctx.io.ftruncate(cut.segment.fd, cut.bytes)
    } catch (error) {
      this.ctx.logger.warn(`${cut.segment.paths.log}: could not cut back to byte ${cut.bytes} after a failed fsync: ${(error as Error).message}`)
    }
  }

  private startLoop(): void {
    if (this.looping) return
    this.looping = true
    void this.turns.run(async () => {
      try {
        while (this.queue.length > 0) await this.writeQueued()
      } finally {
        this.looping = false
        this.events.onIdle()
      }
    })
  }

  /** One turn: everything queued, cut into groups that each fit the active segment. */
  private async writeQueued(): Promise<void> {
    const requests = this.queue
    this.queue = []
    if (!this.wroteOnce) {
      try {
        await this.events.beforeFirstWrite()
      } catch (error) {
        return rejectAll(requests, error)
      }
      this.wroteOnce = true
      try {
        // A segment is written in one format: one written before format v2 is not appended to.
        if (await this.activeIsOlderFormat()) await this.roll({ fromFormatV1: true })
      } catch (error) {
        return rejectAll(requests, error)
      }
    }
    let i = 0
    while (i < requests.length) {
      if (this.failure !== null) return rejectAll(requests.slice(i), this.failure)
      if (this.shouldRoll(this.segments.active.sizeBytes, requests[i]!.batch)) {
        try {
          await this.roll()
        } catch (error) {
          return rejectAll(requests.slice(i), error)
        }
      }
      let j = i + 1
      let size = this.segments.active.sizeBytes + requests[i]!.batch.bytes.length
      while (j < requests.length && !this.shouldRoll(size, requests[j]!.batch)) {
        size += requests[j]!.batch.bytes.length
        j++
      }
      await this.writeGroup(requests.slice(i, j))
      i = j
    }
  }

  private shouldRoll(segmentSize: number, batch: EncodedBatch): boolean {
    if (segmentSize === 0) return false
    const active = this.segments.active
    return (
      segmentSize + batch.bytes.length > this.options.segmentBytes ||
      this.options.clock() - active.rollStartMs >= this.options.segmentMs ||
      this.nextOffsetValue + batch.recordCount - active.baseOffset > MAX_SEGMENT_OFFSET_SPAN
    )
  }

  /** Whether the active segment holds batches of format v1 (CRC-32): read from its first batch. */
  private async activeIsOlderFormat(): Promise<boolean> {
    const active = this.segments.active
    if (active.sizeBytes < BATCH_HEADER_BYTES) return false
    const head = await active.read(0, BATCH_HEADER_BYTES)
    const header = readBatchHeader(head, 0)
    if (header.sizeBytes > active.sizeBytes || header.sizeBytes < BATCH_HEADER_BYTES) return false
    const first = await active.read(0, header.sizeBytes)
    return batchChecksumFormat(first, 0, header) === 1
  }

  /** Appends that all fit in the active segment: one writev, one fsync at most. */
  private async writeGroup(group: PendingAppend[]): Promise<void> {
    const segment = this.segments.active
    const sync = this.activeSync
    const startPosition = segment.sizeBytes
    const pending = group.some((request) => request.producer !== null) ? (await this.idempotence.state()).startAppend() : null
    const now = this.options.clock()
    const requests: PendingAppend[] = []
    const buffers: Buffer[] = []
    const results: AppendResult[] = []
    const duplicates: Array<{ request: PendingAppend; result: AppendResult }> = []
    let offset = this.nextOffsetValue
    const logAppendTime = this.options.timestamps.type === 'logAppend'
    for (const request of group) {
      const { batch, producer } = request
      const result: AppendResult = { baseOffset: offset, lastOffset: offset + batch.recordCount - 1 }
      if (logAppendTime) result.logAppendTime = now
      // The producers' state keeps the time the batch carries in the log, as a rebuild from the log finds it.
      if (logAppendTime && producer !== null) producer.timestamp = now
      if (pending !== null && producer !== null) {
        let verdict: SequenceVerdict
        try {
          verdict = this.idempotence.check(pending, producer)
        } catch (error) {
          this.arena?.release(batch.bytes)
          request.reject(error)
          continue
        }
        if (verdict.kind === 'duplicate') {
          this.arena?.release(batch.bytes)
          duplicates.push({ request, result: { baseOffset: verdict.baseOffset, lastOffset: verdict.lastOffset } })
          continue
        }
        pending.add(producer, result.baseOffset, result.lastOffset)
      }
      setBatchBaseOffset(batch.bytes, offset)
      setBatchLeaderEpoch(batch.bytes, this.options.epoch)
      if (logAppendTime) {
        stampLogAppendTime(batch.bytes, now)
        batch.maxTimestamp = now
      }
      requests.push(request)
      results.push(result)
      buffers.push(batch.bytes)
      offset += batch.recordCount
    }
    const refuse = (error: unknown): void => {
      for (const { producer } of requests) if (producer !== null) this.idempotence.refused(producer.producerId, error)
      rejectAll(requests, error)
      rejectAll(duplicates.map((duplicate) => duplicate.request), error)
    }
    if (requests.length === 0) {
      // Every batch was a duplicate (already visible: each group is, before the next is written) or refused.
      for (const { request, result } of duplicates) request.resolve(result)
      return
    }
    try {
      writeFullySync(this.ctx.io, segment.fd, buffers, startPosition)
    } catch (error) {
      await this.undoWrite(segment, sync, startPosition, error)
      return refuse(ioError('appending to', segment.paths.log, error))
    } finally {
      for (const buffer of buffers) this.arena?.release(buffer)
    }
    if (segment.rollStartMs < 0) segment.startRollClock(this.options.clock())
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
    segment.grewTo(position)
    sync.written(position)
    this.nextOffsetValue = offset
    if (this.options.flush === 'always') {
      try {
        await this.failing(sync.syncTo(position))
      } catch (error) {
        return refuse(error)
      }
    }
    // A failed fsync elsewhere (the interval timer, a checkpoint) may have come meanwhile.
    if (this.failure !== null) return refuse(this.failure)
    if (pending !== null) {
      pending.commit()
      for (const { producer } of requests) if (producer !== null) this.idempotence.accepted(producer.producerId)
    }
    segment.showUpTo(position)
    this.highWatermarkValue = offset
    for (let k = 0; k < requests.length; k++) requests[k]!.resolve(results[k]!)
    for (const { request, result } of duplicates) request.resolve(result)
    this.events.onVisible(offset, position - startPosition)
  }

  /** A failed write must leave no part of its batches: cut the file back to where it was. */
  private async undoWrite(segment: Segment, sync: FileSync, position: number, cause: unknown): Promise<void> {
    try {
      await this.ctx.io.ftruncate(segment.fd, position)
      sync.written(position)
    } catch {
      this.fail(segment, cause)
    }
  }

  private async roll({ fromFormatV1 = false } = {}): Promise<void> {
    const old = this.segments.active
    await this.syncWritten()
    const segment = await Segment.create(this.ctx, this.nextOffsetValue)
    try {
      // The new segment's name must be durable before a recovery point can name it.
      await fsyncDirectory(this.ctx.io, this.ctx.dir)
    } catch (error) {
      await segment.close().catch(() => undefined)
      throw error
    }
    old.seal()
    this.segments.push(segment)
    this.activeSync = this.syncFor(segment, true)
    this.events.onRolled(old)
    // The sealed segment is durable and the writer holds its turn: the producers' state
    // covers exactly the log so far. Before format v2 no batch had a producer: nothing to scan.
    if (fromFormatV1) await this.idempotence.startAt(this.nextOffsetValue)
    else await this.idempotence.snapshot(this.nextOffsetValue)
  }
}

function producerBatch(identity: ProducerIdentity, batch: EncodedBatch): ProducerBatch {
  return {
    producerId: identity.producerId,
    producerEpoch: identity.producerEpoch,
    baseSequence: identity.baseSequence,
    recordCount: batch.recordCount,
    lastOffsetDelta: batch.recordCount - 1,
    timestamp: batch.maxTimestamp,
  }
}

function rejectAll(requests: readonly PendingAppend[], error: unknown): void {
  for (const request of requests) request.reject(error)
}
