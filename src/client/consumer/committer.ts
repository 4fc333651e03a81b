import { Serial } from '../../concurrency/serial.js'
import { SpoolError, isSpoolError } from '../../errors.js'
import type { GroupCoordinator } from '../../groups/coordinator.js'
import { AUTO_COMMIT_LINGER_MS } from '../../limits.js'
import type { Logger } from '../../storage/logger.js'
import { topicIdentityOf } from '../../topics/topics.js'
import { CoalescedTask } from '../coalesced-task.js'
import type { ResolvedConsumerOptions } from '../consumer-options.js'
import type { GroupHub } from '../group-hub.js'
import type { Lifecycle } from './lifecycle.js'
import type { OwnedPartition, OwnedPartitions } from './owned-partitions.js'

export interface CommitterContext {
  options: ResolvedConsumerOptions
  hub: GroupHub
  logger: Logger
  partitions: OwnedPartitions
  lifecycle: Lifecycle
  /** Who this member is now; memberId is null while it is not a member. */
  member: () => { memberId: string | null; generation: number }
  /** After ILLEGAL_GENERATION: joins again under the same id, so that `member()` has the current generation. */
  rejoin: (coordinator: GroupCoordinator, memberId: string) => Promise<void>
}

/**
 * The committer stores what this member has processed, so that a partition moves on from
 * where its last owner stopped (contract 7).
 *
 * - It commits each partition's `processedOffset` and nothing beyond it: delivery moves
 *   that only over records the application has finished.
 * - Commits run one at a time, in the order they were asked for, so `committedOffset`
 *   only ever follows what LevelDB holds, and a commit resolves once it holds it.
 * - Fencing: a commit carries the member id and generation. After a rebalance the member
 *   has not heard of yet (ILLEGAL_GENERATION), it joins again under the same id and
 *   retries once, with what it still owns; a member the coordinator no longer knows
 *   (UNKNOWN_MEMBER) is refused, and what it processed is delivered again.
 * - autoCommit true: after each processed batch, lingering a few ms so that the batches
 *   of those ms share one commit; `{ intervalMs }`: on a timer. A failed automatic commit
 *   is logged, not thrown. Every mode commits before partitions are given up and at close.
 */
export class Committer {
  private readonly commits = new Serial()
  private readonly background: CoalescedTask
  private readonly timer: NodeJS.Timeout | null

  constructor(private readonly ctx: CommitterContext) {
    this.background = new CoalescedTask(
      () => this.commit(),
      (error) => this.warn(error),
      () => ctx.lifecycle.closed,
    )
    const { commitIntervalMs } = ctx.options
    this.timer = commitIntervalMs === null ? null : setInterval(() => this.background.request(), commitIntervalMs)
  }

  /** A batch counts as processed: with autoCommit true, commit it with the batches of the next few ms. */
  afterBatch(): void {
    if (this.ctx.options.commitAfterBatch) this.background.requestAfter(AUTO_COMMIT_LINGER_MS)
  }

  /**
   * Commits what was processed on `parts` (by default every partition owned when the commit
   * runs); resolves once LevelDB holds it.
   */
  commit(parts?: readonly OwnedPartition[]): Promise<void> {
    return this.commits.run(() => this.commitNow(parts ?? this.ctx.partitions.all()))
  }

  /** Before `parts` are given up (a revoke, close): with autoCommit, commits them; a failure is logged. */
  async commitBeforeGivingUp(parts: readonly OwnedPartition[]): Promise<void> {
    if (this.ctx.options.autoCommit) await this.commit(parts).catch((error: unknown) => this.warn(error))
  }

  private async commitNow(parts: readonly OwnedPartition[]): Promise<void> {
    const { options, hub, partitions } = this.ctx
    const coordinator = await hub.coordinator()
    for (let attempt = 0; ; attempt++) {
      const due = parts.filter((p) => partitions.get(p.key) === p && p.processedOffset !== p.committedOffset)
      const { memberId, generation } = this.ctx.member()
      if (due.length === 0) return
      if (memberId === null) {
        throw new SpoolError('UNKNOWN_MEMBER', `the consumer of group "${options.group}" is not a member now; what it processed will be delivered again`, {
          details: { group: options.group },
        })
      }
      // With the incarnation of the record before the offset, so that a resume can tell
      // whether the log has since lost records behind it, and with the topic's id, so that
      // a topic created again under the name does not resume from it (see reset-policy.ts).
      const offsets = due.map((p) => ({
        topic: p.topic,
        partition: p.partition,
        offset: p.processedOffset,
        leaderEpoch: p.log.epochOf(Math.max(0, p.processedOffset - 1)),
        topicId: topicIdentityOf(p.log)?.topicId,
      }))
      try {
        await coordinator.commit({ group: options.group, memberId, generation, offsets })
      } catch (error) {
        // A rebalance since the last heartbeat: refresh the generation, and retry what is still ours.
        if (attempt > 0 || !isSpoolError(error, 'ILLEGAL_GENERATION')) throw error
        await this.ctx.rejoin(coordinator, memberId)
        continue
      }
      for (const [i, p] of due.entries()) p.committedOffset = offsets[i]!.offset
      return
    }
  }

  private warn(error: unknown): void {
    this.ctx.logger.warn(`group "${this.ctx.options.group}": commit failed (${String(error)}); its records will be delivered again after the next rebalance`)
  }

  /** The automatic commit in progress, if any. */
  get busy(): Promise<void> | null {
    return this.background.running
  }

  /** At close: no more automatic commits (the last one is `commitBeforeGivingUp`). */
  stop(): void {
    if (this.timer !== null) clearInterval(this.timer)
    this.background.cancelLater()
  }
}
