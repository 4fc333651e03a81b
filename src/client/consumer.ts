import { type TopicPartition, tpKey } from '../groups/assignors.js'
import { CONSUMER_CLOSE_TIMEOUT_MS } from '../limits.js'
import type { Logger } from '../storage/logger.js'
import type { Topics } from '../topics/topics.js'
import { nonNegativeInteger } from '../validate.js'
import { type ConsumerOptions, type ResolvedConsumerOptions, resolveConsumerOptions } from './consumer-options.js'
import { Committer } from './consumer/committer.js'
import { Delivery, type PollOptions, type RunOptions } from './consumer/delivery.js'
import { Fetcher } from './consumer/fetcher.js'
import { Lifecycle } from './consumer/lifecycle.js'
import { Membership } from './consumer/membership.js'
import { OwnedPartitions } from './consumer/owned-partitions.js'
import type { GroupHub } from './group-hub.js'
import { type PartitionLag, partitionLag } from './lag.js'
import { settleWithin } from './notifier.js'
import type { ConsumedRecord } from './reader.js'

export type { EachBatchPayload, PollOptions, RunOptions } from './consumer/delivery.js'

export interface ConsumerContext {
  topics: Topics
  hub: GroupHub
  clock: () => number
  logger: Logger
  /** Called once the consumer has closed, so the spool forgets it. */
  onClosed: (consumer: Consumer) => void
}

/**
 * A member of a consumer group. It joins at once, reads ahead of its handler within its
 * prefetch bounds (contract 8), woken by appends, and delivers each owned partition's
 * records in offset order — pushed (`run`, `for await`) or pulled (`poll`). What it has
 * processed it commits (automatically, or on `commit()`), and always before it gives a
 * partition up, so a partition moves on from where its last owner stopped (contract 7).
 *
 * A record counts as processed when its `eachRecord` (or its batch's `eachBatch`)
 * resolves; in a `for await` loop, when the loop asks for the next record; with `poll`,
 * when `poll` is called again (or `commit()`). A rebalance that takes partitions the last
 * poll handed out waits for that (as Kafka revokes inside poll()); a close does not count
 * them as processed, so their next owner gets them again.
 *
 * The work is split into four parts around the partitions it owns (consumer/):
 * membership (the group), the fetcher (log → prefetch buffer), delivery (buffer →
 * application → processed offsets) and the committer (processed offsets → LevelDB).
 * This class wires them together, and takes them down in order on close.
 */
export class Consumer {
  private readonly options: ResolvedConsumerOptions
  private readonly lifecycle: Lifecycle
  private readonly partitions: OwnedPartitions
  private readonly fetcher: Fetcher
  private readonly committer: Committer
  private readonly delivery: Delivery
  private readonly membership: Membership
  private closing: Promise<void> | null = null

  constructor(
    private readonly ctx: ConsumerContext,
    options: ConsumerOptions,
  ) {
    this.options = resolveConsumerOptions(options, ctx.topics)
    const { group } = this.options
    this.lifecycle = new Lifecycle(group, () => {
      this.delivery.wake()
      void this.close()
    })
    this.partitions = new OwnedPartitions(group)
    const shared = { options: this.options, logger: ctx.logger, partitions: this.partitions, lifecycle: this.lifecycle }
    this.fetcher = new Fetcher({ ...shared, onBuffered: () => this.delivery.wake() })
    this.committer = new Committer({
      ...shared,
      hub: ctx.hub,
      member: () => ({ memberId: this.membership.memberId, generation: this.membership.generation }),
      rejoin: (coordinator, memberId) => this.membership.rejoin(coordinator, memberId),
    })
    this.delivery = new Delivery({
      ...shared,
      clock: ctx.clock,
      fetcher: this.fetcher,
      batchProcessed: () => this.committer.afterBatch(),
      handlerReturned: () => this.membership.handlerReturned(),
      close: () => this.close(),
    })
    this.membership = new Membership({ ...shared, hub: ctx.hub, topics: ctx.topics, clock: ctx.clock, fetcher: this.fetcher, delivery: this.delivery, committer: this.committer })
  }

  get group(): string {
    return this.options.group
  }

  /** The coordinator's id for this member, once it has joined. */
  get memberId(): string | null {
    return this.membership.memberId
  }

  get generation(): number {
    return this.membership.generation
  }

  /** The partitions this member may consume now. */
  assignment(): TopicPartition[] {
    return this.partitions.assignment()
  }

  /** Records read ahead and not yet handed to the application (bounded by the prefetch options). */
  get buffered(): { records: number; bytes: number } {
    return this.fetcher.buffered
  }

  // ---- delivery ----------------------------------------------------------------------

  /**
   * Pushes records to a handler until the consumer closes. Settles when it closes; if a
   * handler throws, the record it failed on is not committed, the consumer closes (its
   * partitions move on, and the record is delivered again), and this rejects with the error.
   */
  run(handlers: RunOptions): Promise<void> {
    return this.delivery.run(handlers)
  }

  /** `for await (const record of consumer)`: a record counts as processed when the loop asks for the next one. */
  [Symbol.asyncIterator](): AsyncGenerator<ConsumedRecord, void, undefined> {
    return this.delivery.iterate()
  }

  /**
   * Pulls up to `maxRecords`, waiting up to `timeoutMs` for the first. The records of the
   * previous poll count as processed now (Kafka's semantics), and are committed with
   * autoCommit; a revoke waiting for them goes on (poll again within maxPollIntervalMs).
   */
  poll(options: PollOptions = {}): Promise<ConsumedRecord[]> {
    return this.delivery.poll(options)
  }

  /**
   * Commits what this member has processed on every partition it owns; resolves once
   * LevelDB holds it. Refused (UNKNOWN_MEMBER) if the member was evicted meanwhile.
   */
  async commit(): Promise<void> {
    this.lifecycle.throwIfUnusable()
    this.delivery.markPolled()
    await this.committer.commit(this.partitions.all())
  }

  // ---- positions ---------------------------------------------------------------------

  /** The next record delivered from this partition is `offset`; committing now stores it. */
  seek(tp: TopicPartition, offset: number): void {
    const p = this.partitions.require(tp)
    nonNegativeInteger('offset', offset)
    p.log.checkInRange(offset)
    this.fetcher.seek(p, offset)
  }

  /** Seeks to the first record stamped at or after `timestamp` (the end if none is). */
  async seekToTimestamp(tp: TopicPartition, timestamp: number): Promise<void> {
    const p = this.partitions.require(tp)
    const offset = (await p.log.offsetForTimestamp(timestamp)) ?? p.log.endOffset
    this.fetcher.seek(this.partitions.require(tp), offset)
  }

  seekToBeginning(partitions: readonly TopicPartition[] = this.assignment()): void {
    for (const p of partitions.map((tp) => this.partitions.require(tp))) this.fetcher.seek(p, p.log.startOffset)
  }

  seekToEnd(partitions: readonly TopicPartition[] = this.assignment()): void {
    for (const p of partitions.map((tp) => this.partitions.require(tp))) this.fetcher.seek(p, p.log.endOffset)
  }

  /** Stops delivering these partitions (kept across rebalances) until `resume`; what was read ahead is dropped. */
  pause(partitions: readonly TopicPartition[]): void {
    for (const tp of partitions) {
      const key = tpKey(tp)
      this.partitions.pause(key)
      this.fetcher.rewind(key)
    }
  }

  resume(partitions: readonly TopicPartition[]): void {
    for (const tp of partitions) this.partitions.resume(tpKey(tp))
    this.fetcher.wake()
    this.delivery.wake()
  }

  paused(): TopicPartition[] {
    return this.partitions.paused()
  }

  /** Per owned partition: how far this member's processed position is behind the end, in records, bytes and time. */
  async lag(): Promise<PartitionLag[]> {
    this.lifecycle.throwIfUnusable()
    const now = this.ctx.clock()
    return Promise.all(this.partitions.assigned().map((p) => partitionLag(p.topic, p.partition, p.log, p.processedOffset, now)))
  }

  // ---- end ---------------------------------------------------------------------------

  /**
   * Leaves the group cleanly: stops delivery, waits for the running handler (up to
   * `timeoutMs`, default 30 s), commits what was processed (with autoCommit; the last
   * poll's records only if poll() or commit() confirmed them), calls
   * onRevoked, and leaves, so the partitions move on at once — unless it is a static
   * member (`instanceId`), whose partitions wait for it for its session timeout.
   */
  close(options: { timeoutMs?: number } = {}): Promise<void> {
    const timeoutMs = options.timeoutMs === undefined ? CONSUMER_CLOSE_TIMEOUT_MS : nonNegativeInteger('timeoutMs', options.timeoutMs)
    this.closing ??= this.shutDown(timeoutMs)
    return this.closing
  }

  private async shutDown(timeoutMs: number): Promise<void> {
    // Nothing new starts; whatever waits for records or a wake-up sees the close.
    this.lifecycle.markClosed()
    this.membership.stop()
    this.committer.stop()
    this.delivery.wake()
    this.fetcher.wake()
    // Let the application and the work under way finish, for as long as the caller allows.
    const inHand = this.delivery.handedOut(this.partitions.all())
    await settleWithin(Promise.all([inHand, this.membership.busy, this.committer.busy]), timeoutMs)
    this.delivery.stop()
    // Then commit, tell the listener, and leave.
    const memberId = this.membership.memberId
    if (memberId !== null) await this.committer.commitBeforeGivingUp(this.partitions.all())
    await this.membership.leave(memberId)
    this.ctx.onClosed(this)
  }
}
