/**
 * The fetcher: reads ahead from the partitions this member owns into its prefetch buffer,
 * so that delivery seldom waits for the disk, and stops when the buffer is full.
 *
 * The data path, for one partition:
 *
 *   partition log — durable records only (contract 3): a read never passes what is visible
 *     │  read from `fetchOffset`, at most the bytes the credit leaves (and the log's read size)
 *     ▼
 *   admit — keep the records that fit the credit, in records and bytes
 *     │  `fetchOffset` moves past what was kept, and only past that
 *     ▼
 *   PrefetchBuffer — chunks of one partition each, in offset order, stamped with its epoch
 *     │  delivery takes a chunk (or part of one), which gives the credit back
 *     ▼
 *   delivery (delivery.ts)
 *
 * Invariants:
 * - Bounded read-ahead (contract 8): what the buffer holds stays within maxPrefetchRecords
 *   and maxPrefetchBytes, as `recordBytes` counts a record; the one exception is a single
 *   record larger than the bound while nothing else is buffered, so that it still moves.
 *   A member whose application stops taking records stops reading. The bytes are the
 *   memory really held: records that would keep a mostly-dropped read buffer alive are
 *   copied out first, the others counted at what they keep alive (retained-memory.ts);
 *   a read may overshoot the credit by what its records keep beyond their own bytes.
 * - Order: per partition, chunks enter the buffer in offset order, with no gap and no
 *   overlap; `fetchOffset` is moved here alone, except that a seek or a rewind, which
 *   first discards what was read ahead, sets it.
 * - Epochs: a read that a seek, pause, revoke or loss overtook is thrown away, and chunks
 *   read before a seek or a loss are discarded, never delivered.
 * - A damaged batch (CORRUPT_BATCH) stops its partition alone, for this ownership of it:
 *   see `stopAtDamage`. Any other read error fails the consumer.
 * - One read at a time, taking the partitions with something to read in turn. Between
 *   reads it sleeps until woken: by an append past a `fetchOffset`, by credit given back,
 *   an assignment, a seek, a pause or resume, or close.
 */
import { type SpoolError, isSpoolError } from '../../errors.js'
import { DEFAULT_READ_MAX_BYTES } from '../../limits.js'
import type { Logger } from '../../storage/logger.js'
import type { PartitionLog } from '../../storage/partition-log.js'
import type { ResolvedConsumerOptions } from '../consumer-options.js'
import { Notifier } from '../notifier.js'
import { type FetchedChunk, PrefetchBuffer, recordBytes } from './prefetch-buffer.js'
import { type ConsumedRecord, readLabelled } from '../reader.js'
import type { Lifecycle } from './lifecycle.js'
import type { OwnedPartition, OwnedPartitions } from './owned-partitions.js'
import { startOffset } from './reset-policy.js'
import { toKeep } from './retained-memory.js'

type Credit = { records: number; bytes: number }

/** Before the first read: a guess at the large end, so that the first read is not cut short. */
const INITIAL_BYTES_PER_RECORD = 1024
/** A read may take a little more than the credit's records, so that it is rarely cut short of them. */
const READ_ESTIMATE_MARGIN = 1.1
/** What a record adds to its batch beyond its key, value and headers (length, attributes, deltas, varints). */
const RECORD_FRAMING_ESTIMATE_BYTES = 8

export interface FetcherContext {
  options: ResolvedConsumerOptions
  logger: Logger
  partitions: OwnedPartitions
  lifecycle: Lifecycle
  /** Records were added to the buffer. */
  onBuffered: () => void
}

export class Fetcher {
  private readonly buffer: PrefetchBuffer
  /** State changed in a way the fetcher cares about: an append, credit, assignment, seek, pause, resume, close. */
  private readonly woken = new Notifier()
  private turn = 0
  /** Partitions stopped at a damaged batch, per ownership (a new assignment is a new object, and tries again). */
  private readonly damaged = new WeakSet<OwnedPartition>()
  /** What a record took in the last read (its own bytes plus framing): sizes the next read to the credit. */
  private bytesPerRecord = INITIAL_BYTES_PER_RECORD

  /** Starts reading ahead; it goes on until the consumer closes. */
  constructor(private readonly ctx: FetcherContext) {
    this.buffer = new PrefetchBuffer(ctx.options.maxPrefetchRecords, ctx.options.maxPrefetchBytes)
    void this.loop()
  }

  /** Records read ahead and not yet taken. */
  get buffered(): Credit {
    return { records: this.buffer.records, bytes: this.buffer.bytes }
  }

  wake(): void {
    this.woken.notify()
  }

  /** Wakes the fetcher each time `log` grows past `fetchOffset()`; returns the function that stops it. */
  wakeOnAppend(log: PartitionLog, fetchOffset: () => number): () => void {
    return log.onAppend((endOffset) => {
      if (endOffset > fetchOffset()) this.wake()
    })
  }

  private async loop(): Promise<void> {
    const { partitions, lifecycle } = this.ctx
    while (!lifecycle.closed) {
      const credit = this.buffer.credit()
      const ready = credit === null ? [] : partitions.all().filter((p) => partitions.consumable(p) && !this.damaged.has(p) && p.fetchOffset < p.log.endOffset)
      if (credit === null || ready.length === 0) {
        await this.woken.wait()
        continue
      }
      const p = ready[this.turn++ % ready.length]!
      let starved = false
      try {
        starved = await this.fetch(p, credit)
      } catch (error) {
        this.fetchFailed(p, error)
      }
      // The next record does not fit the credit left: reading it again at once would spin
      // (and starve the event loop) until the application takes from the buffer.
      if (starved && !this.creditGrewSince(credit)) await this.woken.wait()
    }
  }

  /** Whether the application took from the buffer while a read was in flight (its wake-up came before we could wait). */
  private creditGrewSince(before: Credit): boolean {
    const now = this.buffer.credit()
    return now !== null && (now.bytes > before.bytes || now.records > before.records)
  }

  /** Reads ahead on `p`; true when it read records but the credit left took none of them. */
  private async fetch(p: OwnedPartition, credit: Credit): Promise<boolean> {
    const { partitions } = this.ctx
    const epoch = p.epoch
    const from = p.fetchOffset
    const { records, nextOffset } = await readLabelled(p.log, from, { maxBytes: this.readBytes(credit), label: p })
    // A seek, pause, revoke or loss while reading: what was read is not wanted.
    if (!partitions.isCurrent(p, epoch) || !partitions.consumable(p) || p.fetchOffset !== from) return false
    const admitted = this.admit(records, credit)
    if (admitted.count === 0) return records.length > 0
    this.bytesPerRecord = admitted.payload / admitted.count + RECORD_FRAMING_ESTIMATE_BYTES
    const taken = admitted.count === records.length ? records : records.slice(0, admitted.count)
    p.fetchOffset = admitted.count === records.length ? nextOffset : records[admitted.count]!.offset
    this.buffer.push({ key: p.key, epoch, ...toKeep(taken, admitted.payload) })
    this.ctx.onBuffered()
    return false
  }

  /**
   * How much to read for `credit`: no more than its records are expected to take, at the
   * bytes a record took in recent reads. Reading a full 1 MiB for a credit of a few
   * thousand records decoded records only to drop them (and read them again next time):
   * under fan-out, that waste and its garbage were most of the work.
   */
  private readBytes(credit: Credit): number {
    const expected = credit.records * this.bytesPerRecord * READ_ESTIMATE_MARGIN
    return Math.max(1, Math.min(credit.bytes, DEFAULT_READ_MAX_BYTES, Math.ceil(expected)))
  }

  /**
   * How many of `records`, from the first, fit the credit (at least one when nothing is
   * buffered, so a record larger than the bound still moves), and their own bytes.
   */
  private admit(records: readonly ConsumedRecord[], credit: Credit): { count: number; payload: number } {
    let count = 0
    let payload = 0
    for (const record of records) {
      const size = recordBytes(record)
      const fits = count < credit.records && payload + size <= credit.bytes
      if (!fits && !(count === 0 && this.buffer.empty)) break
      count++
      payload += size
      if (!fits) break
    }
    return { count, payload }
  }

  private fetchFailed(p: OwnedPartition, error: unknown): void {
    const { options, logger, partitions, lifecycle } = this.ctx
    if (lifecycle.closed || partitions.get(p.key) !== p) return
    if (isSpoolError(error, 'OFFSET_OUT_OF_RANGE') && options.resetPolicy !== 'error') {
      // Retention removed what this member had not read yet.
      const reset = startOffset(options, logger, p, p.log, undefined)
      logger.warn(`${p.topic}-${p.partition}: offset ${p.fetchOffset} is no longer in the log; group "${options.group}" goes on from ${reset}`)
      this.seek(p, reset)
      return
    }
    if (isSpoolError(error, 'CORRUPT_BATCH')) {
      this.stopAtDamage(p, error)
      return
    }
    lifecycle.fail(error)
  }

  /**
   * A damaged batch stops this partition only. Skipping it would lose records on a guess
   * (contract 5), and failing the consumer would stop every healthy partition with it —
   * and again at each restart. Stopped, the partition's commit stays before the damage, so
   * nothing is lost: a seek (past the damage, or to it after a repair) or a move to
   * another member reads it again. Unlike a pause, what was read ahead before the damage
   * is still delivered, and the application's own pause and resume stay its own.
   */
  private stopAtDamage(p: OwnedPartition, error: SpoolError): void {
    const { options, logger } = this.ctx
    this.damaged.add(p)
    logger.warn(
      `${p.topic}-${p.partition}: ${error.message}; group "${options.group}" stops reading this partition at offset ${p.fetchOffset} (its other partitions go on) until it is sought, past the damage or after a repair`,
    )
    const listener = options.onPartitionError
    if (listener === undefined) return
    const tp = { topic: p.topic, partition: p.partition }
    Promise.resolve()
      .then(() => listener(tp, error))
      .catch((thrown: unknown) => logger.warn(`the onPartitionError listener of group "${options.group}" threw: ${String(thrown)}`))
  }

  /**
   * Removes and returns up to `maxRecords` read-ahead records of one partition that may be
   * handed out now, oldest chunk first; the credit they held goes back to reading ahead.
   */
  take(maxRecords: number): FetchedChunk | null {
    const { partitions } = this.ctx
    const chunk = this.buffer.take(
      maxRecords,
      (c) => {
        const p = partitions.get(c.key)
        return p !== undefined && partitions.consumable(p)
      },
      (c) => {
        const p = partitions.get(c.key)
        return p === undefined || p.epoch !== c.epoch
      },
    )
    if (chunk !== null) this.wake()
    return chunk
  }

  /** A seek: everything restarts at `offset` (see `OwnedPartitions.reposition`), and what was read ahead is discarded; a partition stopped at damage reads again. */
  seek(p: OwnedPartition, offset: number): void {
    this.damaged.delete(p)
    this.ctx.partitions.reposition(p, offset)
    this.discard(p.key)
  }

  /**
   * Discards what was read ahead of a partition that stays where it is (paused, or the
   * rest of a handout put back): reading resumes at `from` (default: where it was), or
   * earlier, at the first record discarded.
   */
  rewind(key: string, from?: number): void {
    const dropped = this.buffer.drop(key)
    const p = this.ctx.partitions.get(key)
    if (p !== undefined) p.fetchOffset = Math.min(from ?? p.fetchOffset, dropped ?? Infinity)
    this.wake()
  }

  /** Discards what was read ahead of a partition being given up, lost or sought. */
  discard(key: string): void {
    this.buffer.drop(key)
    this.wake()
  }
}
