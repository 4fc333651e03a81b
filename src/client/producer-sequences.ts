import type { ProducerIdentity } from '../record/batch-encoder.js'
import { MAX_PRODUCER_EPOCH } from '../record/batch-format.js'
import { lastSequenceOf, nextSequence } from '../storage/producer-sequence.js'

interface PartitionSequence {
  epoch: number
  next: number
}

/**
 * An idempotent producer's identity: its id (allocated once, durable in the data
 * directory) and, per partition, its epoch and next sequence number.
 *
 * Epochs are kept per partition (each partition checks its producers on its own): when a
 * batch fails, the partition does not have it, so the batches after it could never follow
 * in sequence; the producer moves that partition to a new epoch, starting again at
 * sequence 0 (Kafka's producer bumps its epoch the same way, KIP-360). Past the largest
 * epoch, the producer takes a new id.
 */
export class ProducerSequences {
  private id: number | null = null
  private readying: Promise<void> | null = null
  private readonly partitions = new Map<string, PartitionSequence>()

  constructor(private readonly allocate: () => Promise<number>) {}

  get producerId(): number | null {
    return this.id
  }

  /** Resolves once the producer has an id; a failed allocation is tried again by the next call. */
  ready(): Promise<void> {
    const readying = (this.readying ??= this.allocate().then(
      (id) => {
        this.id = id
        this.partitions.clear()
      },
      (error: unknown) => {
        if (this.readying === readying) this.readying = null
        throw error
      },
    ))
    return readying
  }

  /** The identity of the next batch of `count` records to a partition; call only once producerId is set. */
  next(topic: string, partition: number, count: number): ProducerIdentity {
    const key = `${topic}\u0000${partition}`
    let state = this.partitions.get(key)
    if (state === undefined) this.partitions.set(key, (state = { epoch: 0, next: 0 }))
    const identity = { producerId: this.id!, producerEpoch: state.epoch, baseSequence: state.next }
    state.next = nextSequence(lastSequenceOf(state.next, count - 1))
    return identity
  }

  /** A batch with `identity` was not stored: later batches to its partition start over at a new epoch. */
  failed(topic: string, partition: number, identity: ProducerIdentity): void {
    if (identity.producerId !== this.id) return
    const state = this.partitions.get(`${topic}\u0000${partition}`)
    if (state === undefined || state.epoch !== identity.producerEpoch) return // already moved on
    if (state.epoch === MAX_PRODUCER_EPOCH) {
      this.id = null
      this.readying = null
      return
    }
    state.epoch++
    state.next = 0
  }
}
