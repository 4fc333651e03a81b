import { invalidArgument } from '../errors.js'
import { Serial } from '../concurrency/serial.js'
import {
  type CleanedSegment,
  type CompactionOptions,
  type CompactionPhase,
  type CompactionStats,
  KeyMap,
  commitCleaned,
  installSwap,
  mapSegment,
  writeCleanedSegment,
} from './cleaner.js'
import type { Checkpointer } from './checkpointer.js'
import { type RetentionOptions, type RetentionResult, checkRetentionOptions, deleteSegments, expiredSegments } from './retention.js'
import type { Segment, SegmentContext } from './segment.js'
import type { SegmentList } from './segment-list.js'

/** What maintenance needs of the partition. */
export interface MaintenanceView {
  readonly ctx: SegmentContext
  readonly segments: SegmentList
  readonly checkpointer: Checkpointer
  readonly maxBatchBytes: number
  readonly clock: () => number
  highWatermark(): number
  /** Throws unless appends are allowed (open, writable, not failed). */
  checkWritable(): void
  /** Whether the partition is closing: a compaction stops at its next segment. */
  closing(): boolean
  /** Bytes of all segments' logs. */
  sizeBytes(): Promise<number>
}

/**
 * Retention and compaction of one partition, one at a time, beside appends and reads.
 * Both change only sealed segments whose indexes a checkpoint has persisted, and change
 * the segment list in single synchronous steps (see SegmentList); a reader holding a
 * segment they retire finishes on it first.
 */
export class Maintenance {
  private readonly tasks = new Serial()

  constructor(private readonly view: MaintenanceView) {}

  /** Settles once no retention or compaction runs (never rejects). */
  drained(): Promise<void> {
    return this.tasks.drained()
  }

  /**
   * Deletes the sealed segments at the start of the log that the retention policy expires
   * (see retention.ts); the start offset moves to the first segment left.
   */
  applyRetention(options: RetentionOptions): Promise<RetentionResult> {
    const policy = checkRetentionOptions(options, this.view.clock)
    return this.exclusive(async () => {
      const sealed = await this.settledSealedSegments()
      const expired = await expiredSegments(sealed, () => this.view.sizeBytes(), policy)
      // Out of the list first (synchronously, all at once): no new read can find them.
      this.view.segments.removeHead(expired.segments.length)
      await deleteSegments(this.view.ctx, expired.segments)
      return { deletedSegments: expired.segments.length, deletedBytes: expired.bytes, startOffset: this.view.segments.first.baseOffset }
    })
  }

  /**
   * Compacts the sealed segments (see cleaner.ts): keeps each key's latest record, drops
   * tombstones older than `deleteRetentionMs`, keeps records without a key, and never
   * renumbers. The active segment is read but not changed.
   */
  compact(options: CompactionOptions): Promise<CompactionStats> {
    const { now, deleteRetentionMs } = options
    if (!Number.isSafeInteger(now)) throw invalidArgument('now', 'must be an integer of milliseconds')
    if (!Number.isSafeInteger(deleteRetentionMs) || deleteRetentionMs < 0) {
      throw invalidArgument('deleteRetentionMs', 'must be a non-negative integer')
    }
    return this.exclusive(() => this.compactNow(options))
  }

  private exclusive<T>(task: () => Promise<T>): Promise<T> {
    return this.tasks.run(() => {
      this.view.checkWritable()
      return task()
    })
  }

  /** The sealed segments whose indexes the checkpoint has persisted (a segment sealed since may still be written by it). */
  private async settledSealedSegments(): Promise<Segment[]> {
    await this.view.checkpointer.checkpoint()
    const { segments, checkpointer } = this.view
    const settled: Segment[] = []
    for (const segment of segments.all) {
      if (segment === segments.active || checkpointer.unsettled(segment)) break
      settled.push(segment)
    }
    return settled
  }

  private async compactNow(options: CompactionOptions): Promise<CompactionStats> {
    const { ctx, segments } = this.view
    const stats: CompactionStats = { segmentsCleaned: 0, recordsRemoved: 0, tombstonesRemoved: 0, bytesBefore: 0, bytesAfter: 0 }
    const phase = async (name: CompactionPhase, baseOffset: number): Promise<void> => {
      await options.onPhase?.(name, baseOffset)
    }
    const cleanable = await this.settledSealedSegments()
    if (cleanable.length === 0) return stats
    const map = await this.mapKeys(cleanable.length, options.now - options.deleteRetentionMs)
    await phase('map-built', -1)
    // Rewrite, oldest first (the order that keeps every crash point safe).
    for (const [i, old] of cleanable.entries()) {
      if (map.drops[i] === 0) continue
      if (this.view.closing()) break
      const on = (name: CompactionPhase): Promise<void> => phase(name, old.baseOffset)
      const cleaned: CleanedSegment = await old.whileHeld(async () => {
        await old.ensureLoaded()
        return writeCleanedSegment(ctx, old, map, on)
      })
      try {
        await commitCleaned(ctx, old.paths, on)
      } catch (error) {
        await cleaned.segment.close().catch(() => undefined)
        throw error
      }
      // The only synchronous step: new reads find the cleaned segment, which reads
      // through its own fd whatever the files are named.
      segments.replace(old, cleaned.segment)
      stats.segmentsCleaned++
      stats.recordsRemoved += cleaned.recordsRemoved
      stats.tombstonesRemoved += cleaned.tombstonesRemoved
      stats.bytesBefore += old.sizeBytes
      stats.bytesAfter += cleaned.segment.sizeBytes
      await on('swapped-in-memory')
      // Reads in flight finish on the old fd before the old files are replaced.
      await old.retire()
      await installSwap(ctx, old.paths, on)
    }
    return stats
  }

  /** Maps every key to its latest offset over the whole log as it is now. */
  private async mapKeys(cleanableCount: number, tombstoneHorizon: number): Promise<KeyMap> {
    const { segments } = this.view
    const end = this.view.highWatermark()
    const map = new KeyMap(cleanableCount, tombstoneHorizon)
    let index = 0
    for (let segment: Segment | undefined = segments.first; segment !== undefined && segment.baseOffset < end; segment = segments.after(segment.baseOffset)) {
      const held = segment
      await held.whileHeld(async () => {
        await held.ensureLoaded()
        await mapSegment(map, held, index++, segments.visibleLimit(held), end, this.view.maxBatchBytes)
      })
    }
    map.finish()
    return map
  }
}
