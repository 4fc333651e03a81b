import { invalidArgument } from '../errors.js'
import { Serial } from '../concurrency/serial.js'
import type { CompactionOptions, CompactionStats } from './cleaner.js'
import { KEY_MAP_ENTRY_BYTES } from './cleaner-key-map.js'
import { runCompaction } from './cleaner-run.js'
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
   * Compacts the sealed segments when enough of them is dirty (see cleaner-run.ts and
   * cleaner.ts): keeps each key's latest record, drops tombstones `deleteRetentionMs`
   * after the clean that first kept them, keeps records without a key, and never
   * renumbers. The active segment is read but not changed.
   */
  compact(options: CompactionOptions): Promise<CompactionStats> {
    const { now, deleteRetentionMs, minDirtyRatio, keyMapBytes } = options
    if (!Number.isSafeInteger(now)) throw invalidArgument('now', 'must be an integer of milliseconds')
    if (!Number.isSafeInteger(deleteRetentionMs) || deleteRetentionMs < 0) {
      throw invalidArgument('deleteRetentionMs', 'must be a non-negative integer')
    }
    if (minDirtyRatio !== undefined && !(minDirtyRatio >= 0 && minDirtyRatio <= 1)) {
      throw invalidArgument('minDirtyRatio', 'must be a number from 0 to 1')
    }
    if (keyMapBytes !== undefined && !(Number.isSafeInteger(keyMapBytes) && keyMapBytes >= 2 * KEY_MAP_ENTRY_BYTES)) {
      throw invalidArgument('keyMapBytes', `must be an integer of at least ${2 * KEY_MAP_ENTRY_BYTES} bytes`)
    }
    return this.exclusive(async () => runCompaction(this.view, await this.settledSealedSegments(), options))
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
}
