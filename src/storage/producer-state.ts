import { invalidArgument } from '../errors.js'
import { APPEND, type ProducerBatch, type SequenceVerdict, applied, newestOf, verdict } from './producer-sequence.js'
import { type ProducerEntry, decodeProducerSnapshot, encodeProducerSnapshot } from './producer-state-snapshot.js'

export { type ProducerBatch, type SequenceVerdict, lastSequenceOf, nextSequence } from './producer-sequence.js'
export { PRODUCER_BATCHES_RETAINED, type ProducerEntry, type RetainedBatch } from './producer-state-snapshot.js'

/**
 * The idempotent producers of one partition (Kafka's ProducerStateManager, without
 * transactions): for each producer id, its epoch and its last PRODUCER_BATCHES_RETAINED
 * batches, so that a retried batch is answered with the offsets it was first written at
 * instead of being written twice, and a batch after a gap is refused.
 *
 * Rules for a batch of an idempotent producer (producerId >= 0), as Kafka's
 * ProducerAppendInfo after KIP-360:
 * - an unknown producer id (never seen, expired, evicted, or its batches truncated away)
 *   may start at any sequence: its state may have been dropped, so none is expected;
 * - an epoch below the known one is a fenced, older instance: PRODUCER_FENCED;
 * - an epoch above it (the producer bumped it) must start at sequence 0;
 * - at the same epoch, a batch whose (first, last) sequence equals a retained batch's is
 *   a duplicate; otherwise its first sequence must follow the newest batch's last one
 *   (2^31 - 1 is followed by 0). Anything else is OUT_OF_ORDER_SEQUENCE.
 *
 * Retention does not touch this state (as Kafka since 2.4): a producer whose batches were
 * all deleted keeps its epoch and sequence, so that it is still fenced and still checked
 * for gaps, and a late retry of one of its batches is still answered with the offsets it
 * had (now below the log start) rather than written again. Producers leave by expiry
 * (expire), by the memory bound, or when a truncation of the log's tail removes every
 * batch the table holds for them (truncateFrom).
 */

/**
 * Producers one partition remembers. Past it, the least recently written one is
 * forgotten, and is then accepted as unknown: its next batch may start at any sequence,
 * so a retry of one of its old batches is written again. An entry costs about 0.8 KB of
 * heap with its 5 batches (measured) and 171 bytes of snapshot, so a full table is ~8 MB
 * of memory and a 1.7 MB snapshot per partition: affordable across hundreds of partitions, while
 * a spool embedded in one application rarely sees more than a few hundred producers a
 * day (Kafka has no such cap, and KIP-936 exists because unbounded producer ids took
 * brokers down).
 */
export const MAX_PRODUCERS_PER_PARTITION = 10_000
/** Kafka's producer.id.expiration.ms default: a producer silent this long is forgotten. */
export const DEFAULT_PRODUCER_ID_EXPIRATION_MS = 24 * 60 * 60 * 1000

/** Batches accepted in one writer turn, checked against the table and each other, not yet in the table. */
export interface PendingProducerAppends {
  /** The verdict on `batch`, seeing the table and the batches added here before; throws SpoolError on a bad epoch or sequence. */
  check(batch: ProducerBatch): SequenceVerdict
  /** Records `batch` here once the writer has given it offsets (no checks). */
  add(batch: ProducerBatch, baseOffset: number, lastOffset: number): void
  /** Moves what was added into the table (once the write succeeded). Without it the table is unchanged. */
  commit(): void
}

export class ProducerStateTable {
  /** In order of last write, least recent first: the first one is the one the bound evicts. */
  private constructor(private readonly producers: Map<number, ProducerEntry>) {}

  static empty(): ProducerStateTable {
    return new ProducerStateTable(new Map())
  }

  /** A scratch set for one writer turn. One at a time: commit it (or drop it) before starting the next. */
  startAppend(): PendingProducerAppends {
    return new Pending(
      (producerId) => this.producers.get(producerId),
      (entries) => {
        for (const [producerId, entry] of entries) this.put(producerId, entry)
      },
    )
  }

  /** Records a batch found in the log (recovery scan, rebuild), without checking its sequence. */
  replay(batch: ProducerBatch, baseOffset: number, lastOffset: number): void {
    if (batch.producerId < 0) return
    this.put(batch.producerId, applied(this.producers.get(batch.producerId), batch, baseOffset, lastOffset))
  }

  /**
   * Forgets producers silent for `expirationMs` (Kafka's producer.id.expiration.ms):
   * those whose newest batch's timestamp is at least that far before `nowMs`. A forgotten
   * producer is then unknown: its next batch is accepted at any sequence.
   */
  expire(nowMs: number, expirationMs: number): void {
    for (const [producerId, entry] of this.producers) {
      if (nowMs - newestOf(entry).timestamp >= expirationMs) this.producers.delete(producerId)
    }
  }

  /**
   * Forgets the batches at or past `offset`, after the log's tail was truncated there (a
   * torn tail at recovery, or a snapshot that covers more than the recovered log). A
   * producer left with none is forgotten: what preceded them is no longer known.
   */
  truncateFrom(offset: number): void {
    for (const [producerId, entry] of this.producers) {
      if (newestOf(entry).lastOffset < offset) continue
      const kept = entry.batches.filter((batch) => batch.lastOffset < offset)
      if (kept.length === 0) this.producers.delete(producerId)
      else entry.batches = kept
    }
  }

  get size(): number {
    return this.producers.size
  }

  /** What the table holds for a producer id (a copy), or undefined when it is unknown. */
  entry(producerId: number): ProducerEntry | undefined {
    const entry = this.producers.get(producerId)
    return entry === undefined ? undefined : { epoch: entry.epoch, batches: entry.batches.map((batch) => ({ ...batch })) }
  }

  /** The state as of log offset `coversUpTo` (every batch below it applied); see producer-state-snapshot.ts. */
  encodeSnapshot(coversUpTo: number): Buffer {
    if (!Number.isSafeInteger(coversUpTo) || coversUpTo < 0) throw invalidArgument('coversUpTo', `must be an offset, not ${coversUpTo}`)
    return encodeProducerSnapshot(this.producers, coversUpTo)
  }

  /** The table a snapshot holds and the offset it covers up to, or null when it is torn or damaged. Never throws. */
  static decodeSnapshot(bytes: Buffer): { table: ProducerStateTable; coversUpTo: number } | null {
    const decoded = decodeProducerSnapshot(bytes)
    if (decoded === null) return null
    const table = new ProducerStateTable(decoded.producers)
    table.evictOverBound()
    return { table, coversUpTo: decoded.coversUpTo }
  }

  /** Stores a producer's entry as its most recently written, evicting the least recent past the bound. */
  private put(producerId: number, entry: ProducerEntry): void {
    this.producers.delete(producerId)
    this.producers.set(producerId, entry)
    this.evictOverBound()
  }

  private evictOverBound(): void {
    for (const producerId of this.producers.keys()) {
      if (this.producers.size <= MAX_PRODUCERS_PER_PARTITION) return
      this.producers.delete(producerId)
    }
  }
}

class Pending implements PendingProducerAppends {
  /** The entries this turn changed, as they will be once committed (the table's are never mutated). */
  private readonly changed = new Map<number, ProducerEntry>()

  constructor(
    private readonly lookup: (producerId: number) => ProducerEntry | undefined,
    private readonly apply: (entries: Map<number, ProducerEntry>) => void,
  ) {}

  check(batch: ProducerBatch): SequenceVerdict {
    if (batch.producerId < 0) return APPEND
    return verdict(this.current(batch.producerId), batch)
  }

  add(batch: ProducerBatch, baseOffset: number, lastOffset: number): void {
    if (batch.producerId < 0) return
    // Re-inserted so that the commit writes producers in the order of their last batch.
    const entry = applied(this.current(batch.producerId), batch, baseOffset, lastOffset)
    this.changed.delete(batch.producerId)
    this.changed.set(batch.producerId, entry)
  }

  commit(): void {
    this.apply(this.changed)
    this.changed.clear()
  }

  private current(producerId: number): ProducerEntry | undefined {
    return this.changed.get(producerId) ?? this.lookup(producerId)
  }
}
