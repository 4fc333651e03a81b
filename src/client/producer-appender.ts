import type { CompressionCodec } from '../record/compression/index.js'
import type { RecordInput } from '../record/types.js'
import type { AppendResult, PartitionLog } from '../storage/partition-log.js'
import type { ProducerSequences } from './producer-sequences.js'

/**
 * Hands a producer's batches to their logs, each with the next sequence of its partition
 * when the producer is idempotent, and keeps what is in flight for flush().
 *
 * Before the producer has its id (its first writes), batches wait for it, in order:
 * while any waits, a later one waits behind it, even once the id has come — so that a
 * partition receives its batches in the order they were written, and so in sequence.
 */
export class Appender {
  /** Batches written before the producer had its id and not yet handed to their log. */
  private waitingForId = 0
  /** Appends not yet settled: what flush() waits for. */
  private readonly inFlight = new Set<Promise<unknown>>()

  constructor(
    /** The producer id and per-partition sequences; null when not idempotent. */
    private readonly sequences: ProducerSequences | null,
    private readonly compression: CompressionCodec,
  ) {}

  /** Whether an append now goes to its log at once (no id to wait for, nothing waiting before it). */
  get ready(): boolean {
    return this.sequences === null || (this.sequences.producerId !== null && this.waitingForId === 0)
  }

  /** Appends `records` to partition `partition` of `topic` (its `log`) as one batch; flush() waits for it. */
  append(log: PartitionLog, topic: string, partition: number, records: readonly RecordInput[]): Promise<AppendResult> {
    const { sequences } = this
    let appended: Promise<AppendResult>
    if (sequences === null) appended = log.append(records, { compression: this.compression })
    else if (!this.ready) appended = this.appendOnceIdentified(sequences, log, topic, partition, records)
    else appended = this.appendIdentified(sequences, log, topic, partition, records)
    this.inFlight.add(appended)
    const settled = (): void => void this.inFlight.delete(appended)
    appended.then(settled, settled)
    return appended
  }

  /** Resolves once every append made so far has settled (never rejects). */
  async settled(): Promise<void> {
    await Promise.allSettled(this.inFlight)
  }

  private appendOnceIdentified(sequences: ProducerSequences, log: PartitionLog, topic: string, partition: number, records: readonly RecordInput[]): Promise<AppendResult> {
    this.waitingForId++
    return sequences.ready().then(
      () => {
        this.waitingForId--
        // Not through `ready`: the batches still waiting began after this one. An id lost meanwhile is waited for again.
        if (sequences.producerId === null) return this.appendOnceIdentified(sequences, log, topic, partition, records)
        return this.appendIdentified(sequences, log, topic, partition, records)
      },
      (error: unknown) => {
        this.waitingForId--
        throw error
      },
    )
  }

  private appendIdentified(sequences: ProducerSequences, log: PartitionLog, topic: string, partition: number, records: readonly RecordInput[]): Promise<AppendResult> {
    const producer = sequences.next(topic, partition, records.length)
    return log.append(records, { compression: this.compression, producer }).catch((error: unknown) => {
      // The partition does not have this batch: the ones after it start over at a new epoch.
      sequences.failed(topic, partition, producer)
      throw error
    })
  }
}
