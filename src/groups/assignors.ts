import { invalidArgument } from '../errors.js'

/**
 * Partition assignors: pure, deterministic functions from the group's members (with
 * their subscriptions and current partitions) and the partition counts of the topics
 * they subscribe to, to each member's partitions. The same input, in any order, gives
 * the same assignment.
 *
 * Members are ordered as Kafka orders them: static members (with an instance id) first,
 * by instance id, so a restarted static member that got a new member id keeps its
 * place; then the others by member id.
 *
 * `protocol` tells the coordinator how to move partitions: 'eager' revokes every
 * partition of every member at each rebalance, 'cooperative' revokes only the ones whose
 * owner changes (KIP-429).
 */
export interface TopicPartition {
  topic: string
  partition: number
}

export interface AssignorMember {
  memberId: string
  instanceId?: string | null
  /** The topics the member subscribes to. */
  topics: readonly string[]
  /** The partitions the coordinator last assigned to it (used by sticky assignors). */
  current: readonly TopicPartition[]
}

export interface AssignorInput {
  members: readonly AssignorMember[]
  /** Partition count of each subscribed topic; 0 or missing: the topic has none (yet). */
  partitions: ReadonlyMap<string, number>
}

/** memberId → its partitions, sorted by topic then partition; every member has an entry. */
export type Assignment = Map<string, TopicPartition[]>

export interface Assignor {
  readonly name: string
  readonly protocol: 'eager' | 'cooperative'
  assign(input: AssignorInput): Assignment
}

export type MemberOrderKey = Pick<AssignorMember, 'memberId' | 'instanceId'>

export function compareMembers(a: MemberOrderKey, b: MemberOrderKey): number {
  const ai = a.instanceId ?? null
  const bi = b.instanceId ?? null
  if (ai !== null && bi !== null) return compareStrings(ai, bi) || compareStrings(a.memberId, b.memberId)
  if (ai !== null) return -1
  if (bi !== null) return 1
  return compareStrings(a.memberId, b.memberId)
}

export function compareTopicPartitions(a: TopicPartition, b: TopicPartition): number {
  return compareStrings(a.topic, b.topic) || a.partition - b.partition
}

export const tpKey = (tp: TopicPartition): string => `${tp.topic}:${tp.partition}`

function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0
}

function sortedMembers(input: AssignorInput): AssignorMember[] {
  return [...input.members].sort(compareMembers)
}

function countOf(input: AssignorInput, topic: string): number {
  return input.partitions.get(topic) ?? 0
}

/** Every partition of every subscribed topic: topics sorted, partitions ascending. */
function allPartitionsSorted(input: AssignorInput): TopicPartition[] {
  const topics = [...new Set(input.members.flatMap((m) => m.topics))].sort(compareStrings)
  return topics.flatMap((topic) => Array.from({ length: countOf(input, topic) }, (_, partition) => ({ topic, partition })))
}

function emptyAssignment(members: readonly AssignorMember[]): Assignment {
  return new Map(members.map((m) => [m.memberId, []]))
}

function sortAll(assignment: Assignment): Assignment {
  for (const partitions of assignment.values()) partitions.sort(compareTopicPartitions)
  return assignment
}

/**
 * Kafka's RangeAssignor: per topic, the subscribed members in order each take a
 * contiguous range; the first `count % members` take one more.
 * 2 members over t0 and t1 with 3 partitions each: m1 gets t0-0,1 and t1-0,1, m2 gets t0-2 and t1-2.
 */
export const rangeAssignor: Assignor = {
  name: 'range',
  protocol: 'eager',
  assign(input) {
    const members = sortedMembers(input)
    const assignment = emptyAssignment(members)
    const topics = [...new Set(members.flatMap((m) => m.topics))].sort(compareStrings)
    for (const topic of topics) {
      const subscribed = members.filter((m) => m.topics.includes(topic))
      const count = countOf(input, topic)
      const each = Math.floor(count / subscribed.length)
      const extra = count % subscribed.length
      subscribed.forEach((member, i) => {
        const start = each * i + Math.min(i, extra)
        const length = each + (i < extra ? 1 : 0)
        for (let partition = start; partition < start + length; partition++) assignment.get(member.memberId)!.push({ topic, partition })
      })
    }
    return sortAll(assignment)
  },
}

/**
 * Kafka's RoundRobinAssignor: every partition in order (topics sorted) goes to the next
 * member, circularly, that subscribes to its topic.
 * 2 members over t0 and t1 with 3 partitions each: m1 gets t0-0, t0-2, t1-1; m2 gets t0-1, t1-0, t1-2.
 */
export const roundRobinAssignor: Assignor = {
  name: 'round-robin',
  protocol: 'eager',
  assign(input) {
    const members = sortedMembers(input)
    const assignment = emptyAssignment(members)
    let next = 0
    for (const tp of allPartitionsSorted(input)) {
      // At least one member subscribes to tp.topic, or it would not be listed.
      while (!members[next % members.length]!.topics.includes(tp.topic)) next++
      assignment.get(members[next % members.length]!.memberId)!.push(tp)
      next++
    }
    return sortAll(assignment)
  },
}

/**
 * Cooperative sticky: each member keeps the partitions it has that are still valid
 * (the topic still has the partition, the member still subscribes, no earlier member
 * claimed it); unowned partitions go, in order, to the eligible member with the fewest;
 * then, while some member has two or more partitions more than another that could take
 * one, the most loaded (the last of equals) gives its highest such partition to the least
 * loaded (the first of equals). Each move lowers the sum of squared loads, so this ends;
 * with equal subscriptions every member ends within one partition of every other, and
 * only the partitions that must move do.
 * 3 members with t-0,1 / t-2,3 / t-4,5 and a 4th joining: only t-5 moves (to the 4th).
 */
export const cooperativeStickyAssignor: Assignor = {
  name: 'cooperative-sticky',
  protocol: 'cooperative',
  assign(input) {
    const members = sortedMembers(input)
    const assignment = emptyAssignment(members)
    const subscribed = new Map(members.map((m) => [m.memberId, new Set(m.topics)]))
    const owner = new Map<string, string>()
    for (const member of members) {
      for (const tp of [...member.current].sort(compareTopicPartitions)) {
        const key = tpKey(tp)
        const valid = subscribed.get(member.memberId)!.has(tp.topic) && tp.partition >= 0 && tp.partition < countOf(input, tp.topic)
        if (!valid || owner.has(key)) continue
        owner.set(key, member.memberId)
        assignment.get(member.memberId)!.push({ topic: tp.topic, partition: tp.partition })
      }
    }
    const load = (memberId: string): number => assignment.get(memberId)!.length
    for (const tp of allPartitionsSorted(input)) {
      if (owner.has(tpKey(tp))) continue
      let best: AssignorMember | null = null
      for (const member of members) {
        if (subscribed.get(member.memberId)!.has(tp.topic) && (best === null || load(member.memberId) < load(best.memberId))) best = member
      }
      owner.set(tpKey(tp), best!.memberId)
      assignment.get(best!.memberId)!.push(tp)
    }
    for (;;) {
      const move = nextMove(members, assignment, subscribed)
      if (move === null) break
      const from = assignment.get(move.from)!
      from.splice(from.indexOf(move.tp), 1)
      assignment.get(move.to)!.push(move.tp)
    }
    return sortAll(assignment)
  },
}

function nextMove(
  members: readonly AssignorMember[],
  assignment: Assignment,
  subscribed: ReadonlyMap<string, ReadonlySet<string>>,
): { from: string; to: string; tp: TopicPartition } | null {
  // Donors from most to least loaded (the later of equals first); for each, the least
  // loaded member (the earlier of equals) that can take one of its partitions.
  const byLoad = members.map((m, order) => ({ id: m.memberId, order, load: assignment.get(m.memberId)!.length }))
  const donors = [...byLoad].sort((a, b) => b.load - a.load || b.order - a.order)
  const takers = [...byLoad].sort((a, b) => a.load - b.load || a.order - b.order)
  for (const donor of donors) {
    const held = [...assignment.get(donor.id)!].sort(compareTopicPartitions).reverse()
    for (const taker of takers) {
      if (taker.load + 1 >= donor.load) break
      const tp = held.find((p) => subscribed.get(taker.id)!.has(p.topic))
      if (tp !== undefined) return { from: donor.id, to: taker.id, tp }
    }
  }
  return null
}

export const BUILT_IN_ASSIGNORS: ReadonlyMap<string, Assignor> = new Map(
  [rangeAssignor, roundRobinAssignor, cooperativeStickyAssignor].map((a) => [a.name, a]),
)

/** Kafka's consumers default to range; an embedded log that wants members to keep consuming through rebalances picks cooperative-sticky. */
export const DEFAULT_ASSIGNOR = 'cooperative-sticky'

/** An assignor given by name (a built-in) or as an object. */
export function resolveAssignor(assignor: string | Assignor | undefined): Assignor {
  if (assignor === undefined) return BUILT_IN_ASSIGNORS.get(DEFAULT_ASSIGNOR)!
  if (typeof assignor === 'string') {
    const found = BUILT_IN_ASSIGNORS.get(assignor)
    if (found === undefined) throw invalidArgument('assignor', `"${assignor}" is not one of ${[...BUILT_IN_ASSIGNORS.keys()].join(', ')}`)
    return found
  }
  if (typeof assignor.name !== 'string' || assignor.name.length === 0 || typeof assignor.assign !== 'function') {
    throw invalidArgument('assignor', 'must be a name or an object with a name, a protocol and an assign function')
  }
  if (assignor.protocol !== 'eager' && assignor.protocol !== 'cooperative') {
    throw invalidArgument('assignor.protocol', "must be 'eager' or 'cooperative'")
  }
  return assignor
}
