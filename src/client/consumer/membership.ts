import { isSpoolError } from '../../errors.js'
import { type TopicPartition, tpKey } from '../../groups/assignors.js'
import type { GroupCoordinator, JoinRequest, MemberAssignment } from '../../groups/coordinator.js'
import { REBALANCE_RETRY_MS } from '../../limits.js'
import type { Logger } from '../../storage/logger.js'
import type { Topics } from '../../topics/topics.js'
import { CoalescedTask } from '../coalesced-task.js'
import type { ResolvedConsumerOptions } from '../consumer-options.js'
import type { GroupHub } from '../group-hub.js'
import type { Committer } from './committer.js'
import type { Delivery } from './delivery.js'
import type { Fetcher } from './fetcher.js'
import type { Lifecycle } from './lifecycle.js'
import { type OwnedPartition, type OwnedPartitions, topicPartitions } from './owned-partitions.js'
import { isOwnCommit, startOffset } from './reset-policy.js'

export interface MembershipContext {
  options: ResolvedConsumerOptions
  hub: GroupHub
  topics: Topics
  clock: () => number
  logger: Logger
  partitions: OwnedPartitions
  lifecycle: Lifecycle
  fetcher: Fetcher
  delivery: Delivery
  committer: Committer
}

/**
 * Membership: this member's standing in its group. It joins, heartbeats and acts on the
 * coordinator's answers — one exchange at a time, and once more if asked meanwhile (the
 * coordinator's news of a rebalance, a heartbeat tick, a confirmation to send).
 *
 * - New partitions start at the group's committed offset (or where the reset policy
 *   says), and `onAssigned` is called once they are owned (a seek there restarts them).
 * - A partition is given up in one order: stop reading ahead and handing it out, let the
 *   application finish what it holds of it (`Delivery.release`), commit (with
 *   autoCommit), call `onRevoked`, forget it, and only then confirm the revoke to the
 *   coordinator, so that its next owner starts from that commit (contract 7).
 * - A partition taken away without a revoke (eviction, a deleted topic) is lost: nothing
 *   of it may be committed any more, and work begun on it no longer counts.
 * - A handler that runs past maxPollIntervalMs is taken for stuck: the member leaves, so
 *   its partitions move on, and joins again once the handler returns. In poll mode the
 *   same holds for an application that, with a revoke waiting for it, does not poll again
 *   within maxPollIntervalMs (it joins again at its next poll).
 */
export class Membership {
  private memberIdNow: string | null = null
  private generationNow = -1
  /** Partitions revoked and committed, to confirm in the next heartbeat. */
  private confirmed: TopicPartition[] = []
  /** Join or heartbeat, then act on the answer. */
  private readonly sync: CoalescedTask
  private readonly heartbeatTimer: NodeJS.Timeout
  /** The member left because its handler looked stuck; it joins again once the handler returns. */
  private abandoned = false
  private readonly unregister: () => void

  /** Joins at once, and checks in on every heartbeat tick and whenever the group changes. */
  constructor(private readonly ctx: MembershipContext) {
    this.sync = new CoalescedTask(
      () => this.syncOnce(),
      (error) => ctx.lifecycle.fail(error),
      () => ctx.lifecycle.closed,
    )
    this.unregister = ctx.hub.register(ctx.options.group, () => this.sync.request())
    this.heartbeatTimer = setInterval(() => this.heartbeat(), ctx.options.heartbeatIntervalMs)
    this.sync.request()
  }

  /** The coordinator's id for this member, once it has joined. */
  get memberId(): string | null {
    return this.memberIdNow
  }

  get generation(): number {
    return this.generationNow
  }

  private async syncOnce(): Promise<void> {
    const coordinator = await this.ctx.hub.coordinator()
    if (this.ctx.lifecycle.closed || this.abandoned) return
    let answer: MemberAssignment
    try {
      answer = await this.callCoordinator(coordinator)
    } catch (error) {
      if (!isSpoolError(error, 'UNKNOWN_MEMBER')) throw error
      // Evicted (or replaced): whatever it owned now belongs to others.
      await this.loseAll()
      this.memberIdNow = null
      this.sync.request()
      return
    }
    if (this.ctx.lifecycle.closed) return
    this.memberIdNow = answer.memberId
    this.generationNow = answer.generation
    await this.apply(answer, coordinator)
  }

  private async callCoordinator(coordinator: GroupCoordinator): Promise<MemberAssignment> {
    const { options, hub } = this.ctx
    if (this.memberIdNow === null) return coordinator.join(this.joinRequest())
    const revoked = this.confirmed
    this.confirmed = []
    try {
      const answer = await coordinator.heartbeat({ group: options.group, memberId: this.memberIdNow, generation: this.generationNow, revoked })
      if (revoked.length > 0) hub.wake(options.group) // the partitions' new owners may take them now
      return answer
    } catch (error) {
      // A rebalance happened: join again under the same id. Confirmations are repeated
      // from the answer's revoke list, which still holds them.
      if (!isSpoolError(error, 'ILLEGAL_GENERATION')) throw error
      return coordinator.join(this.joinRequest(this.memberIdNow))
    }
  }

  private joinRequest(memberId?: string): JoinRequest {
    const { group, topics, sessionTimeoutMs, instanceId, assignor } = this.ctx.options
    return { group, topics, sessionTimeoutMs, assignor, ...(instanceId === undefined ? {} : { instanceId }), ...(memberId === undefined ? {} : { memberId }) }
  }

  private async apply(answer: MemberAssignment, coordinator: GroupCoordinator): Promise<void> {
    const { partitions } = this.ctx
    const assigned = new Set(answer.assigned.map(tpKey))
    const revoking = new Set(answer.revoke.map(tpKey))
    const lost = partitions.all().filter((p) => !assigned.has(p.key) && !revoking.has(p.key))
    if (lost.length > 0) await this.lose(lost)
    const toRevoke: OwnedPartition[] = []
    for (const tp of answer.revoke) {
      const owned = partitions.get(tpKey(tp))
      if (owned === undefined) this.confirmed.push(tp)
      else if (!owned.revoking) toRevoke.push(owned)
    }
    if (toRevoke.length > 0) await this.revoke(toRevoke)
    const fresh = answer.assigned.filter((tp) => !partitions.has(tpKey(tp)))
    if (fresh.length > 0) await this.assign(fresh, coordinator)
    if (this.confirmed.length > 0) this.sync.request()
    else if (answer.rebalancing) this.sync.requestAfter(REBALANCE_RETRY_MS)
  }

  /** Partitions taken away without a revoke (eviction, a deleted topic): nothing of theirs can be committed any more. */
  private async lose(parts: OwnedPartition[]): Promise<void> {
    for (const p of parts) {
      this.ctx.partitions.lose(p)
      this.ctx.fetcher.discard(p.key)
    }
    this.ctx.delivery.wake() // a revoke waiting for the application to finish with them stops waiting
    await this.callListener('onRevoked', topicPartitions(parts))
  }

  private loseAll(): Promise<void> {
    const owned = this.ctx.partitions.all()
    return owned.length === 0 ? Promise.resolve() : this.lose(owned)
  }

  /** Gives partitions up in order: stop reading ahead, let the application finish, commit, tell the listener, confirm. */
  private async revoke(parts: OwnedPartition[]): Promise<void> {
    const { partitions, fetcher, delivery, committer } = this.ctx
    for (const p of parts) {
      p.revoking = true
      fetcher.discard(p.key)
    }
    await delivery.release(parts)
    // Lost while the application finished them (the member left meanwhile): nothing more to do for those.
    const owned = parts.filter((p) => partitions.get(p.key) === p)
    await committer.commitBeforeGivingUp(owned)
    const tps = topicPartitions(owned)
    await this.callListener('onRevoked', tps)
    for (const p of owned) partitions.remove(p)
    this.confirmed.push(...tps)
  }

  private async assign(tps: TopicPartition[], coordinator: GroupCoordinator): Promise<void> {
    const { options, topics, logger, partitions, fetcher } = this.ctx
    const committed = new Map((await coordinator.fetchOffsets(options.group)).map((c) => [tpKey(c), c]))
    for (const tp of tps) {
      const log = await topics.logOf(tp.topic, tp.partition)
      const stored = committed.get(tpKey(tp))
      const start = startOffset(options, logger, tp, log, stored)
      const owned: OwnedPartition = {
        ...tp,
        key: tpKey(tp),
        log,
        fetchOffset: start,
        processedOffset: start,
        // A commit the start passed over (an earlier topic's, or one a crash made diverge) is
        // not this partition's: the next commit is written whatever offset it stores.
        committedOffset: stored !== undefined && start === stored.offset && isOwnCommit(stored, log) ? stored.offset : null,
        epoch: 0,
        revoking: false,
        // The fetcher sleeps until an owned partition has something for it: woken by the append itself.
        unsubscribe: fetcher.wakeOnAppend(log, () => owned.fetchOffset),
      }
      partitions.add(owned)
    }
    await this.callListener('onAssigned', tps)
    fetcher.wake()
  }

  private async callListener(name: 'onAssigned' | 'onRevoked', tps: TopicPartition[]): Promise<void> {
    const { options, logger } = this.ctx
    const listener = options[name]
    if (listener === undefined || tps.length === 0) return
    try {
      await listener(tps)
    } catch (error) {
      logger.warn(`the ${name} listener of group "${options.group}" threw: ${String(error)}`)
    }
  }

  /** For a commit refused with ILLEGAL_GENERATION: joins again under the same id for the current generation, and checks in. */
  async rejoin(coordinator: GroupCoordinator, memberId: string): Promise<void> {
    const answer = await coordinator.join(this.joinRequest(memberId))
    this.generationNow = answer.generation
    this.sync.request()
  }

  private heartbeat(): void {
    const { options, clock, delivery } = this.ctx
    const since = delivery.runningSince
    if (since !== null && clock() - since > options.maxPollIntervalMs && !this.abandoned) {
      void this.abandon()
      return
    }
    if (this.sync.running === null) {
      this.sync.request()
      return
    }
    // The member is busy (revoking behind a slow handler): keep its session alive meanwhile.
    const memberId = this.memberIdNow
    if (memberId === null || this.abandoned) return
    void this.ctx.hub
      .coordinator()
      .then((c) => c.heartbeat({ group: options.group, memberId, generation: this.generationNow }))
      .catch(() => undefined)
  }

  /** The application has held records past maxPollIntervalMs: leave, so the group moves its partitions on. */
  private async abandon(): Promise<void> {
    const { options, logger } = this.ctx
    this.abandoned = true
    const memberId = this.memberIdNow
    logger.warn(
      `the application of group "${options.group}" has held records for over ${options.maxPollIntervalMs} ms (a handler running, or no poll() while a rebalance waits); leaving the group so its partitions move on (it joins again when the handler returns or at the next poll)`,
    )
    this.memberIdNow = null
    await this.loseAll()
    if (memberId !== null) await this.leaveGroup(memberId)
  }

  /** The handler in the application's hands returned (or the application polled): a member that left because of it joins again. */
  handlerReturned(): void {
    if (!this.abandoned) return
    this.abandoned = false
    this.sync.request()
  }

  /** The exchange with the coordinator in progress, if any. */
  get busy(): Promise<void> | null {
    return this.sync.running
  }

  /** At close: no more heartbeats or exchanges. */
  stop(): void {
    clearInterval(this.heartbeatTimer)
    this.sync.cancelLater()
  }

  /**
   * At close, after the last commit: tells the listener, forgets every partition, and leaves
   * the group as `memberId`, so the partitions move on at once — unless it is a static
   * member (as Kafka's group.instance.id), whose restart within its session timeout takes
   * its partitions back with no rebalance.
   */
  async leave(memberId: string | null): Promise<void> {
    const { options, partitions } = this.ctx
    await this.callListener('onRevoked', partitions.assignment())
    for (const p of partitions.all()) partitions.remove(p)
    this.unregister()
    this.memberIdNow = null
    if (memberId !== null && options.instanceId === undefined) await this.leaveGroup(memberId)
  }

  private async leaveGroup(memberId: string): Promise<void> {
    await (await this.ctx.hub.coordinator()).leave({ group: this.ctx.options.group, memberId }).catch(() => undefined)
  }
}
