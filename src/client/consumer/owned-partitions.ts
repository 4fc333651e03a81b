import { SpoolError, invalidArgument } from '../../errors.js'
import { type TopicPartition, tpKey } from '../../groups/assignors.js'
import { parseTpKey } from '../../groups/group-state.js'
import type { PartitionLog } from '../../storage/partition-log.js'

/**
 * A partition this member owns, and where it stands on it. Each field has one mover: the
 * fetcher moves `fetchOffset`, delivery `processedOffset`, the committer `committedOffset`
 * and membership `revoking`; a seek (`reposition`) sets both positions at once, and a
 * seek or a loss bumps the epoch.
 */
export interface OwnedPartition {
  readonly topic: string
  readonly partition: number
  readonly key: string
  readonly log: PartitionLog
  /** The next offset to read ahead into the buffer. */
  fetchOffset: number
  /** The offset after the last processed record: what a commit stores. */
  processedOffset: number
  committedOffset: number | null
  /** Bumped by a seek, or when the partition is lost: work begun before it no longer counts. */
  epoch: number
  /** Being given up: nothing more is read or handed out for it. */
  revoking: boolean
  /** Stops the wake-ups from its log's appends. */
  readonly unsubscribe: () => void
}

/**
 * The partitions this member owns, by "topic:partition", and the ones the application
 * paused (kept across rebalances). A partition object stands for one ownership: once it
 * is removed, a later assignment of the same partition is a new object, so work that
 * holds the old one can tell it no longer counts (`isCurrent`).
 */
export class OwnedPartitions {
  private readonly byKey = new Map<string, OwnedPartition>()
  private readonly pausedKeys = new Set<string>()

  constructor(private readonly group: string) {}

  get(key: string): OwnedPartition | undefined {
    return this.byKey.get(key)
  }

  has(key: string): boolean {
    return this.byKey.has(key)
  }

  all(): OwnedPartition[] {
    return [...this.byKey.values()]
  }

  add(p: OwnedPartition): void {
    this.byKey.set(p.key, p)
  }

  /** Gives `p` up for good, if it is still owned: no more wake-ups from its log, and it no longer counts as owned. */
  remove(p: OwnedPartition): void {
    if (this.byKey.get(p.key) !== p) return
    p.unsubscribe()
    this.byKey.delete(p.key)
  }

  /** Taken away without a revoke: work begun on it no longer counts. */
  lose(p: OwnedPartition): void {
    p.epoch++
    this.remove(p)
  }

  /** A seek: reading, delivery and the processed position all restart at `offset`, and work begun before it no longer counts. */
  reposition(p: OwnedPartition, offset: number): void {
    p.epoch++
    p.fetchOffset = offset
    p.processedOffset = offset
  }

  /** Whether `p` is still owned and not sought or lost since `epoch`. */
  isCurrent(p: OwnedPartition, epoch: number): boolean {
    return this.byKey.get(p.key) === p && p.epoch === epoch
  }

  /** Whether records of `p` may be read ahead and handed out now. */
  consumable(p: OwnedPartition): boolean {
    return !p.revoking && !this.pausedKeys.has(p.key)
  }

  /** The partitions owned and not being given up. */
  assigned(): OwnedPartition[] {
    return this.all().filter((p) => !p.revoking)
  }

  /** The partitions this member may consume now. */
  assignment(): TopicPartition[] {
    return topicPartitions(this.assigned())
  }

  /** The partition the application named, which this member must own (and not be giving up). */
  require(tp: TopicPartition, field = 'partition'): OwnedPartition {
    if (typeof tp !== 'object' || tp === null) throw invalidArgument(field, 'must be { topic, partition }')
    const p = this.byKey.get(tpKey(tp))
    if (p === undefined || p.revoking) {
      throw new SpoolError('PARTITION_NOT_ASSIGNED', `${tp.topic}-${tp.partition} is not assigned to this member of group "${this.group}"; seek in onAssigned, or after it ran`, {
        details: { group: this.group, topic: tp.topic, partition: tp.partition },
      })
    }
    return p
  }

  pause(key: string): void {
    this.pausedKeys.add(key)
  }

  resume(key: string): void {
    this.pausedKeys.delete(key)
  }

  paused(): TopicPartition[] {
    return [...this.pausedKeys].map(parseTpKey)
  }
}

export function topicPartitions(parts: readonly OwnedPartition[]): TopicPartition[] {
  return parts.map(({ topic, partition }) => ({ topic, partition }))
}
