import {
  type Assignor,
  type TopicPartition,
  compareMembers,
  compareTopicPartitions,
  tpKey,
} from './assignors.js'

/**
 * The membership and partition ownership of one group, as a synchronous state machine.
 * The coordinator drives it; it does no I/O and reads no clock.
 *
 * Each member has three sets of partitions:
 * - `target`: what the latest rebalance gave it (the assignor's output);
 * - `owned`: what it holds now — it may consume these, and only these may it commit;
 * - `revoking`: the part of `owned` it must give up; it stays owned until the member
 *   confirms the revoke (after committing what it processed), or leaves, or is evicted.
 * A partition in some member's `target` that nobody owns is granted to it at once; one
 * still owned by another member waits ('pending') until that member lets it go. So a
 * partition never has two owners, even in the middle of a rebalance (KIP-429).
 *
 * With an 'eager' assignor every rebalance revokes everything each member owns, and a
 * member is granted nothing new until it has confirmed; with a 'cooperative' one, only
 * the partitions whose owner changes are revoked, and the others are never interrupted.
 */
export type RebalanceReason = 'join' | 'leave' | 'timeout' | 'subscription' | 'partitions'

export interface MovedPartition extends TopicPartition {
  /** The member whose target it was, or null if it was unassigned. */
  from: string | null
  /** The member whose target it is now, or null if nobody subscribes to it any more. */
  to: string | null
}

export interface RebalanceEvent {
  group: string
  generation: number
  reason: RebalanceReason
  /** The members whose join, leave, timeout or subscription change caused it (none for 'partitions'). */
  members: string[]
  /** The topics whose partition count changed ('partitions' only). */
  topics: string[]
  /** Every partition whose assigned member changed, sorted. */
  moved: MovedPartition[]
  /** The coordinator's clock when it happened. */
  at: number
}

export interface MemberAssignment {
  memberId: string
  generation: number
  /** The partitions the member may consume now. */
  assigned: TopicPartition[]
  /** Partitions to stop consuming: commit what was processed, then confirm them in `heartbeat({ revoked })`. */
  revoke: TopicPartition[]
  /** Partitions assigned to the member that wait for their previous owner to let them go. */
  pending: TopicPartition[]
  /** Whether the group has not reached its latest assignment yet: heartbeat again soon. */
  rebalancing: boolean
}

export interface Member {
  memberId: string
  instanceId: string | null
  topics: string[]
  sessionTimeoutMs: number
  lastSeenMs: number
  target: Set<string>
  owned: Set<string>
  revoking: Set<string>
}

export function parseTpKey(key: string): TopicPartition {
  const colon = key.lastIndexOf(':')
  return { topic: key.slice(0, colon), partition: Number(key.slice(colon + 1)) }
}

function sortedTps(keys: Iterable<string>): TopicPartition[] {
  return [...keys].map(parseTpKey).sort(compareTopicPartitions)
}

export class GroupState {
  readonly members = new Map<string, Member>()
  /** instanceId → memberId of the static members. */
  readonly byInstance = new Map<string, string>()
  /** Partition counts as of the latest rebalance, per subscribed topic. */
  readonly partitionCounts = new Map<string, number>()
  assignor: Assignor | null = null
  /** partition → member of the latest rebalance's targets, kept past a member's removal to report what moved. */
  private targetOwners = new Map<string, string>()

  constructor(
    readonly name: string,
    /** The generation of the latest rebalance, persisted or restored. */
    public generation: number,
  ) {}

  /** Members in the assignors' order: static ones by instance id, then by member id. */
  sortedMembers(): Member[] {
    return [...this.members.values()].sort(compareMembers)
  }

  add(member: Member): void {
    this.members.set(member.memberId, member)
    if (member.instanceId !== null) this.byInstance.set(member.instanceId, member.memberId)
  }

  /** Drops a member; whatever it owned is free at once (it can no longer confirm anything). */
  remove(memberId: string): void {
    const member = this.members.get(memberId)
    if (member === undefined) return
    this.members.delete(memberId)
    if (member.instanceId !== null && this.byInstance.get(member.instanceId) === memberId) this.byInstance.delete(member.instanceId)
    if (this.members.size === 0) this.assignor = null
  }

  /** A static member came back under a new member id: it takes over the old one's place and partitions. */
  replace(oldMemberId: string, newMemberId: string, lastSeenMs: number, sessionTimeoutMs: number): Member {
    const old = this.members.get(oldMemberId)!
    this.members.delete(oldMemberId)
    const member: Member = { ...old, memberId: newMemberId, lastSeenMs, sessionTimeoutMs }
    this.add(member)
    return member
  }

  /** Members not heard from for longer than their session timeout at `nowMs`. */
  expired(nowMs: number): Member[] {
    return this.sortedMembers().filter((m) => nowMs - m.lastSeenMs > m.sessionTimeoutMs)
  }

  /**
   * Computes a new target assignment, bumps the generation, marks what each member must
   * revoke and grants what is free. `partitionsOf` gives each subscribed topic's count.
   */
  rebalance(
    reason: RebalanceReason,
    causes: { members?: string[]; topics?: string[] },
    partitionsOf: (topic: string) => number,
    atMs: number,
  ): RebalanceEvent {
    const members = this.sortedMembers()
    this.generation += 1
    const before = this.targetOwners
    this.targetOwners = new Map()
    for (const key of [...this.partitionCounts.keys()]) this.partitionCounts.delete(key)
    for (const topic of new Set(members.flatMap((m) => m.topics))) this.partitionCounts.set(topic, Math.max(0, partitionsOf(topic)))

    const targets = this.assign(members)
    const eager = this.assignor?.protocol === 'eager'
    for (const member of members) {
      member.target = targets.get(member.memberId)!
      for (const key of member.target) this.targetOwners.set(key, member.memberId)
      member.revoking = new Set(eager ? member.owned : [...member.owned].filter((key) => !member.target.has(key)))
    }
    const lost = new Set(before.keys())
    const moved: MovedPartition[] = []
    for (const member of members) {
      for (const key of member.target) {
        lost.delete(key)
        const from = before.get(key) ?? null
        if (from !== member.memberId) moved.push({ ...parseTpKey(key), from, to: member.memberId })
      }
    }
    for (const key of lost) moved.push({ ...parseTpKey(key), from: before.get(key)!, to: null })
    moved.sort(compareTopicPartitions)
    this.grant()
    return {
      group: this.name,
      generation: this.generation,
      reason,
      members: causes.members ?? [],
      topics: causes.topics ?? [],
      moved,
      at: atMs,
    }
  }

  /** The member has stopped consuming these partitions; those it was asked to revoke are freed. */
  confirmRevoked(member: Member, partitions: readonly TopicPartition[]): void {
    for (const tp of partitions) {
      const key = tpKey(tp)
      if (!member.revoking.has(key)) continue
      member.revoking.delete(key)
      member.owned.delete(key)
    }
    this.grant()
  }

  /** Gives each member the partitions of its target that nobody owns. */
  grant(): void {
    const owners = new Map<string, string>()
    for (const member of this.members.values()) for (const key of member.owned) owners.set(key, member.memberId)
    const eager = this.assignor?.protocol === 'eager'
    for (const member of this.sortedMembers()) {
      if (eager && member.revoking.size > 0) continue
      for (const key of member.target) {
        if (owners.has(key)) continue
        owners.set(key, member.memberId)
        member.owned.add(key)
      }
    }
  }

  /** Whether every member holds exactly its target, with nothing left to revoke. */
  get stable(): boolean {
    for (const member of this.members.values()) {
      if (member.revoking.size > 0 || member.owned.size !== member.target.size) return false
    }
    return true
  }

  view(member: Member): MemberAssignment {
    return {
      memberId: member.memberId,
      generation: this.generation,
      assigned: sortedTps([...member.owned].filter((key) => !member.revoking.has(key))),
      revoke: sortedTps(member.revoking),
      pending: sortedTps([...member.target].filter((key) => !member.owned.has(key))),
      rebalancing: !this.stable,
    }
  }

  /**
   * Runs the assignor and keeps only what it may give: partitions that exist, of topics
   * the member subscribes to, each to one member (the first in member order), so that a
   * faulty custom assignor cannot break the one-owner rule.
   */
  private assign(members: readonly Member[]): Map<string, Set<string>> {
    const targets = new Map(members.map((m) => [m.memberId, new Set<string>()]))
    if (members.length === 0 || this.assignor === null) return targets
    const input = {
      members: members.map((m) => ({ memberId: m.memberId, instanceId: m.instanceId, topics: m.topics, current: sortedTps(m.target) })),
      partitions: this.partitionCounts,
    }
    const result = this.assignor.assign(input)
    const taken = new Set<string>()
    for (const member of members) {
      for (const tp of result.get(member.memberId) ?? []) {
        const key = tpKey(tp)
        const count = this.partitionCounts.get(tp.topic) ?? 0
        if (!member.topics.includes(tp.topic) || !Number.isInteger(tp.partition) || tp.partition < 0 || tp.partition >= count) continue
        if (taken.has(key)) continue
        taken.add(key)
        targets.get(member.memberId)!.add(key)
      }
    }
    return targets
  }
}
