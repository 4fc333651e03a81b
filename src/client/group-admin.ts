import { SpoolError, invalidArgument } from '../errors.js'
import { type TopicPartition, compareTopicPartitions, tpKey } from '../groups/assignors.js'
import type { GroupCoordinator } from '../groups/coordinator.js'
import { type CommittedOffset, checkGroupName } from '../groups/offset-store.js'
import type { Topics } from '../topics/topics.js'
import { nonNegativeInteger } from '../validate.js'
import { earlierTopicsCommit } from './consumer/reset-policy.js'
import { type PartitionLag, partitionLag } from './lag.js'

/** One partition of a group: its committed offset and how far that is behind the end. */
export interface GroupPartitionReport extends PartitionLag {
  /** The committed offset, or null if the group never committed on this partition. */
  committedOffset: number | null
  /** The member that owns it now, if any. */
  owner: string | null
}

export interface GroupReport {
  group: string
  /** 'empty': no members in this process (or the report comes from a read-only copy); 'stable' or 'rebalancing' otherwise. */
  state: 'empty' | 'stable' | 'rebalancing'
  generation: number
  assignor: string | null
  members: { memberId: string; instanceId: string | null; topics: string[]; assigned: TopicPartition[] }[]
  partitions: GroupPartitionReport[]
  /** Topics the group has committed offsets on that no longer exist (deleted): they have no partitions to show. */
  deletedTopics: string[]
}

/** Where to move a group's offsets (as Kafka's kafka-consumer-groups --reset-offsets). */
export type ResetTarget =
  | { to: 'earliest' }
  | { to: 'latest' }
  | { to: 'offset'; offset: number }
  | { to: 'timestamp'; timestamp: number }
  | { to: 'shift'; by: number }

export interface ResetPlanEntry extends TopicPartition {
  from: number | null
  to: number
}

export function unknownGroup(group: string): SpoolError {
  return new SpoolError('UNKNOWN_GROUP', `group "${group}" has no committed offsets and no members; list groups with spool groups list`, {
    details: { group },
  })
}

/**
 * Operations on groups as a whole, for operators (the CLI) rather than members: list,
 * describe with lag, reset offsets, delete. Changes are refused while the group has
 * members (GROUP_NOT_EMPTY), as Kafka's tool refuses them.
 */
export class GroupAdmin {
  constructor(
    private readonly coordinator: GroupCoordinator,
    private readonly topics: Topics,
    private readonly clock: () => number,
  ) {}

  list(): Promise<string[]> {
    return this.coordinator.listGroups()
  }

  async describe(group: string): Promise<GroupReport> {
    checkGroupName(group)
    const committed = await this.coordinator.fetchOffsets(group)
    const live = this.coordinator.describe(group)
    const members = live?.members ?? []
    if (committed.length === 0 && members.length === 0 && !(await this.coordinator.listGroups()).includes(group)) throw unknownGroup(group)
    const owners = new Map(members.flatMap((m) => [...m.assigned, ...m.revoking].map((tp) => [tpKey(tp), m.memberId] as const)))
    const offsets = this.currentOffsets(committed)
    const topics = new Set([...committed.map((c) => c.topic), ...members.flatMap((m) => m.topics)])
    const now = this.clock()
    const partitions: GroupPartitionReport[] = []
    for (const topic of [...topics].sort()) {
      if (!this.topics.has(topic)) continue
      for (let partition = 0; partition < this.topics.partitionCount(topic); partition++) {
        const key = tpKey({ topic, partition })
        const log = await this.topics.logOf(topic, partition)
        const committedOffset = offsets.get(key) ?? null
        const lag = await partitionLag(topic, partition, log, committedOffset ?? log.startOffset, now)
        partitions.push({ ...lag, committedOffset, owner: owners.get(key) ?? null })
      }
    }
    return {
      group,
      state: members.length === 0 ? 'empty' : live!.stable ? 'stable' : 'rebalancing',
      generation: await this.coordinator.generationOf(group),
      assignor: live?.assignor ?? null,
      members: members.map(({ memberId, instanceId, topics: subscribed, assigned }) => ({ memberId, instanceId, topics: subscribed, assigned })),
      partitions,
      deletedTopics: [...new Set(committed.map((c) => c.topic))].filter((topic) => !this.topics.has(topic)).sort(),
    }
  }

  /**
   * What a reset would do, per partition of `topics` (default: the topics the group has
   * offsets on). Nothing changes: pass the plan to `applyReset`.
   */
  async planReset(group: string, target: ResetTarget, topics?: readonly string[]): Promise<ResetPlanEntry[]> {
    checkGroupName(group)
    const committed = await this.coordinator.fetchOffsets(group)
    const chosen = topics ?? [...new Set(committed.map((c) => c.topic))]
    if (chosen.length === 0) throw unknownGroup(group)
    const offsets = this.currentOffsets(committed)
    const plan: ResetPlanEntry[] = []
    for (const topic of chosen) {
      for (let partition = 0; partition < this.topics.partitionCount(topic); partition++) {
        const log = await this.topics.logOf(topic, partition)
        const from = offsets.get(tpKey({ topic, partition })) ?? null
        const to = await this.targetOffset(target, log, from)
        plan.push({ topic, partition, from, to: Math.min(Math.max(to, log.startOffset), log.endOffset) })
      }
    }
    return plan.sort(compareTopicPartitions)
  }

  /** The committed offsets, by partition, that belong to the topics as they are now (not to a deleted topic of the same name). */
  private currentOffsets(committed: readonly CommittedOffset[]): Map<string, number> {
    const own = committed.filter((c) => this.topics.has(c.topic) && earlierTopicsCommit(c, this.topics.identity(c.topic)) === null)
    return new Map(own.map((c) => [tpKey(c), c.offset]))
  }

  private async targetOffset(target: ResetTarget, log: Awaited<ReturnType<Topics['logOf']>>, from: number | null): Promise<number> {
    switch (target.to) {
      case 'earliest':
        return log.startOffset
      case 'latest':
        return log.endOffset
      case 'offset':
        return nonNegativeInteger('offset', target.offset)
      case 'timestamp':
        return (await log.offsetForTimestamp(target.timestamp)) ?? log.endOffset
      case 'shift':
        if (typeof target.by !== 'number' || !Number.isSafeInteger(target.by)) throw invalidArgument('by', 'must be an integer')
        return (from ?? log.startOffset) + target.by
      default:
        throw invalidArgument('to', "must be 'earliest', 'latest', 'offset', 'timestamp' or 'shift'")
    }
  }

  /** Stores a plan's offsets, durably; refused while the group has members. */
  async applyReset(group: string, plan: readonly ResetPlanEntry[]): Promise<void> {
    this.checkEmpty(group)
    // Stamped with each topic's id, as a member's commits are (see reset-policy.ts).
    const offsets = plan.map(({ topic, partition, to }) => ({ topic, partition, offset: to, topicId: this.topics.identity(topic).topicId }))
    await this.coordinator.commit({ group, offsets })
  }

  async delete(group: string): Promise<void> {
    checkGroupName(group)
    if (!(await this.coordinator.listGroups()).includes(group)) throw unknownGroup(group)
    await this.coordinator.deleteGroup(group)
  }

  private checkEmpty(group: string): void {
    const members = this.coordinator.describe(group)?.members.length ?? 0
    if (members > 0) {
      throw new SpoolError('GROUP_NOT_EMPTY', `group "${group}" has ${members} member(s); close them before changing its offsets`, { details: { group } })
    }
  }
}
