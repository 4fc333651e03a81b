import path from 'node:path'
import { SpoolError, isSpoolError } from '../errors.js'
import { type BatchHeader, lastOffsetOf } from '../record/batch-decoder.js'
import { writeFileAtomic } from './atomic-file.js'
import type { StorageIO } from './io.js'
import type { Logger } from './logger.js'
import { PRODUCER_STATE_FILE } from './paths.js'
import type { ProducerBatch, SequenceVerdict } from './producer-sequence.js'
import { DEFAULT_PRODUCER_ID_EXPIRATION_MS, type PendingProducerAppends, ProducerStateTable } from './producer-state.js'

/**
 * The partition's guard against duplicates from idempotent producers: the producers'
 * state (producer-state.ts), loaded on the first batch that needs it, and kept on disk as
 * a snapshot written only where the log below it is durable.
 *
 * - Loaded on first need: by the first idempotent batch, and at the first roll,
 *   retention or compaction, which must not lose it.
 * - Loading = the snapshot (if it covers no more than the log holds now) + the headers of
 *   every batch after it. A snapshot is written at each roll (the sealed segment was just
 *   made durable, and the writer holds its turn, so the table covers exactly the log up to
 *   the new segment's base) and at a clean close: after a crash the scan reads at most the
 *   active segment.
 * - Retention and compaction change only sealed segments, and first make sure a durable
 *   snapshot covers them (coverSealed): a batch they delete is still remembered, as Kafka
 *   remembers a producer's last batches after its segments are gone. Without that, a
 *   retry of a batch whose segment was deleted would be stored again.
 * - A batch this partition refused after it passed its check (its write failed) leaves a
 *   hole in its producer's sequence: that producer's next batches are refused with the
 *   same cause, not a puzzling OUT_OF_ORDER_SEQUENCE, until it starts over at a new epoch
 *   (spool's producer does at once).
 */
export interface IdempotenceContext {
  io: StorageIO
  dir: string
  logger: Logger
  clock: () => number
  /** The offset after the last record readers may see. */
  highWatermark: () => number
  startOffset: () => number
  /** Visits every batch header from `offset` to the high watermark. */
  forEachBatchHeader: (offset: number, visit: (header: BatchHeader) => void) => Promise<void>
}

export function producerBatchOf(header: BatchHeader): ProducerBatch {
  return {
    producerId: header.producerId,
    producerEpoch: header.producerEpoch,
    baseSequence: header.baseSequence,
    recordCount: header.recordCount,
    lastOffsetDelta: header.lastOffsetDelta,
    timestamp: header.maxTimestamp,
  }
}

export class Idempotence {
  private table: ProducerStateTable | null = null
  private loading: Promise<ProducerStateTable> | null = null
  /** Per producer id: why this partition refused one of its batches (see above). */
  private readonly refusals = new Map<number, unknown>()
  /** The offset up to which the snapshot on disk covers the log (every batch below it is in it); -1 when unknown. */
  private snapshotCovers = -1

  constructor(private readonly ctx: IdempotenceContext) {}

  private get file(): string {
    return path.join(this.ctx.dir, PRODUCER_STATE_FILE)
  }

  /** The producers' state, loaded on first use. Call within the writer's turn: the log must not grow meanwhile. */
  state(): Promise<ProducerStateTable> {
    if (this.table !== null) return Promise.resolve(this.table)
    this.loading ??= this.load().then((table) => (this.table = table))
    return this.loading
  }

  private async load(): Promise<ProducerStateTable> {
    const end = this.ctx.highWatermark()
    let table = ProducerStateTable.empty()
    let from = this.ctx.startOffset()
    const bytes = await this.ctx.io.readFileIfExists(this.file).catch(() => null)
    const snapshot = bytes === null ? null : ProducerStateTable.decodeSnapshot(bytes)
    if (snapshot !== null && snapshot.coversUpTo <= end) {
      table = snapshot.table
      from = Math.max(from, snapshot.coversUpTo)
      this.snapshotCovers = snapshot.coversUpTo
    } else if (bytes !== null) {
      this.ctx.logger.warn(`${this.file}: ${snapshot === null ? 'damaged' : `covers offsets past the log's end ${end}`}; rebuilding producer state from the log`)
    }
    try {
      await this.ctx.forEachBatchHeader(from, (header) => {
        if (header.producerId >= 0) table.replay(producerBatchOf(header), header.baseOffset, lastOffsetOf(header))
      })
    } catch (error) {
      // Damage stops the scan; the producers met after it are unknown, so their next batch is accepted as new.
      if (!isSpoolError(error, 'CORRUPT_BATCH')) throw error
      this.ctx.logger.warn(`${this.ctx.dir}: producer state rebuilt only up to damage: ${error.message}`)
    }
    return table
  }

  /**
   * The verdict on one batch of a group, against the table and the group's earlier
   * batches; throws SpoolError when it must be refused.
   */
  check(pending: PendingProducerAppends, batch: ProducerBatch): SequenceVerdict {
    try {
      return pending.check(batch)
    } catch (error) {
      const refusal = this.refusals.get(batch.producerId)
      if (refusal !== undefined && isSpoolError(error, 'OUT_OF_ORDER_SEQUENCE')) {
        throw new SpoolError(
          'OUT_OF_ORDER_SEQUENCE',
          `producer ${batch.producerId}: an earlier batch to ${this.ctx.dir} failed (${(refusal as Error).message}), so this one cannot follow it; send it again at a new epoch`,
          { cause: refusal, details: { producerId: batch.producerId } },
        )
      }
      throw error
    }
  }

  /** A batch that passed its check was not written: remember why, for its producer's next batches. */
  refused(producerId: number, cause: unknown): void {
    this.refusals.set(producerId, cause)
  }

  /** A producer's batch was written at a new epoch: its old refusals no longer explain anything. */
  accepted(producerId: number): void {
    if (this.refusals.size > 0) this.refusals.delete(producerId)
  }

  /**
   * Writes the snapshot, covering the log up to `coversUpTo`, which the caller has made
   * durable and which the table covers exactly (call within the writer's turn). Loads
   * the state first if it is not. A failure is only a longer scan at the next load (the
   * old snapshot, or none, stays valid), so it is reported, not thrown.
   */
  async snapshot(coversUpTo: number): Promise<void> {
    try {
      await this.writeSnapshot(coversUpTo)
    } catch (error) {
      this.ctx.logger.warn(`${this.file}: could not write the producer state snapshot: ${(error as Error).message}`)
    }
  }

  /** At a clean close: a snapshot only if the state was loaded (else the one on disk, or none, is still a valid start). */
  async snapshotIfLoaded(coversUpTo: number): Promise<void> {
    if (this.table !== null) await this.snapshot(coversUpTo)
  }

  /**
   * At the roll that moves a partition from format v1 to v2: no batch before `coversUpTo`
   * has a producer (v1 never wrote one), so the state starts empty there, unscanned.
   */
  async startAt(coversUpTo: number): Promise<void> {
    if (this.table === null && this.loading === null) this.table = ProducerStateTable.empty()
    await this.snapshot(coversUpTo)
  }

  /** Whether the snapshot on disk covers the log up to `offset`. */
  covers(offset: number): boolean {
    return this.snapshotCovers >= offset
  }

  /**
   * Makes the snapshot on disk cover the log up to `coversUpTo` (durable, and within the
   * writer's turn, as for snapshot()), before retention or compaction changes segments
   * below it; throws when it cannot, so that they do not.
   */
  async cover(coversUpTo: number): Promise<void> {
    if (!this.covers(coversUpTo)) await this.writeSnapshot(coversUpTo)
  }

  private async writeSnapshot(coversUpTo: number): Promise<void> {
    const table = await this.state()
    table.expire(this.ctx.clock(), DEFAULT_PRODUCER_ID_EXPIRATION_MS)
    await writeFileAtomic(this.ctx.io, this.file, table.encodeSnapshot(coversUpTo))
    this.snapshotCovers = coversUpTo
  }
}
