import path from 'node:path'
import { Coalesced } from '../concurrency/coalesced.js'
import { writeFileAtomic } from './atomic-file.js'
import { type LogPosition, encodeLogPosition } from './log-files.js'
import { RECOVERY_CHECKPOINT_FILE } from './paths.js'
import type { Segment, SegmentContext } from './segment.js'

/** What the checkpointer needs of the writer. */
export interface CheckpointSource {
  endPosition(): LogPosition
  /** Makes the log durable up to `position` (one fsync path: see FileSync). */
  syncTo(position: LogPosition): Promise<void>
  segmentAt(position: LogPosition): Segment | undefined
}

/**
 * Moves the recovery point (contract 4): recovery after a crash scans only from it, so
 * it may name only what is durable. One checkpoint: persist the index entries of the
 * segments sealed since the last one, make the log durable up to the target (through the
 * writer's FileSync, never an fsync of its own), persist the target segment's index
 * entries, then write the point atomically. Checkpoints run one at a time, beside
 * appends; a request while one runs is served by one more run after it.
 */
export class Checkpointer {
  private bytesSinceCheckpoint = 0
  private readonly sealedSinceCheckpoint: Segment[] = []
  private readonly runs = new Coalesced(() => this.once())

  constructor(
    private readonly ctx: SegmentContext,
    private readonly source: CheckpointSource,
    private readonly everyBytes: number,
  ) {}

  /** After an append became visible. */
  appended(bytes: number): void {
    this.bytesSinceCheckpoint += bytes
    if (this.bytesSinceCheckpoint >= this.everyBytes) this.inBackground()
  }

  /** After a roll: the old segment's last index entries are persisted by the next checkpoint. */
  sealed(segment: Segment): void {
    this.sealedSinceCheckpoint.push(segment)
    this.inBackground()
  }

  /** The timer's turn: checkpoint if anything was appended since the last one. */
  tick(): void {
    if (this.bytesSinceCheckpoint > 0) this.inBackground()
  }

  checkpoint(): Promise<void> {
    return this.runs.request()
  }

  /** Settles when no checkpoint runs (never rejects). */
  async idle(): Promise<void> {
    await this.runs.running?.catch(() => undefined)
  }

  /** Whether `segment` is sealed but its indexes are not yet on disk (maintenance leaves it alone). */
  unsettled(segment: Segment): boolean {
    return this.sealedSinceCheckpoint.includes(segment)
  }

  /** Records `position` as the recovery point (also used at open, after recovery made it durable). */
  writeRecoveryPoint(position: LogPosition): Promise<void> {
    return writeFileAtomic(this.ctx.io, path.join(this.ctx.dir, RECOVERY_CHECKPOINT_FILE), encodeLogPosition(position))
  }

  private inBackground(): void {
    this.checkpoint().catch((error: unknown) => {
      this.ctx.logger.warn(`${this.ctx.dir}: recovery checkpoint failed: ${(error as Error).message}`)
    })
  }

  private async once(): Promise<void> {
    const target = this.source.endPosition()
    const covered = this.bytesSinceCheckpoint
    // A sealed segment leaves this list only once its indexes are on disk, so a failed
    // checkpoint is retried by the next one before the recovery point moves past it.
    while (this.sealedSinceCheckpoint.length > 0) {
      await this.sealedSinceCheckpoint[0]!.persistIndexes()
      this.sealedSinceCheckpoint.shift()
    }
    await this.source.syncTo(target)
    await this.source.segmentAt(target)?.persistIndexes()
    await this.writeRecoveryPoint(target)
    this.bytesSinceCheckpoint = Math.max(0, this.bytesSinceCheckpoint - covered)
  }
}
