import { randomUUID } from 'node:crypto'
import { SpoolError, invalidArgument } from '../errors.js'
import { DEFAULT_SESSION_TIMEOUT_MS, MAX_GROUP_MEMBERS, MAX_SESSION_TIMEOUT_MS, MIN_SESSION_TIMEOUT_MS } from '../limits.js'
import { type Logger, stderrLogger } from '../storage/logger.js'
import { checkTopicName } from '../topics/topic-name.js'
import { type Assignor, type TopicPartition, resolveAssignor, tpKey } from './assignors.js'
import { GroupState, type Member, type MemberAssignment, type RebalanceEvent, type RebalanceReason } from './group-state.js'
import { type CommittedOffset, type GroupMeta, type OffsetCommit, checkGroupName } from './offset-store.js'
import { integerIn } from '../validate.js'

export type { MemberAssignment, RebalanceEvent, RebalanceReason } from './group-state.js'

/**
 * The group coordinator: a transport-neutral state machine. Members call it with plain
 * method calls carrying their member id and generation; it answers with what each may
 * consume and what it must give up. It has no timers: time is the injected `now()`, and
 * members whose session ran out are evicted by `tick()` — and, so that the outcome does
 * not depend on how often `tick()` runs, by every call on their group.
 *
 * Protocol, for a client:
 * 1. `join` (no member id the first time) → member id, generation, partitions.
 * 2. `heartbeat` well within the session timeout, passing back the generation, and the
 *    partitions it has stopped consuming (`revoked`) once asked to (`revoke`).
 * 3. A call that fails with `needsRejoin` (ILLEGAL_GENERATION: a rebalance happened;
 *    UNKNOWN_MEMBER: evicted, or replaced by a static rejoin) → `join` again: with the
 *    member id after ILLEGAL_GENERATION, without one (dropping every partition) after
 *    UNKNOWN_MEMBER.
 * 4. `commit` with the current generation, for partitions it owns (including ones it is
 *    revoking): a zombie cannot commit (contract 7).
 *
 * Every rebalance bumps the generation and is persisted through the store before any
 * caller is told the new generation, so generations keep increasing across restarts.
 */
export interface GroupStore {
  commit(group: string, entries: readonly OffsetCommit[]): Promise<void>
  fetch(group: string, topic?: string): Promise<CommittedOffset[]>
  listGroups(): Promise<string[]>
  deleteGroup(group: string): Promise<void>
  saveGroupMeta(group: string, meta: GroupMeta): Promise<void>
  loadGroupMeta(group: string): Promise<GroupMeta | null>
}

export interface CoordinatorOptions {
  store: GroupStore
  /** A topic's partition count; 0 for a topic that does not exist (yet). */
  partitionsOf: (topic: string) => number
  /** Milliseconds; Date.now unless a test injects its own. */
  now?: () => number
  /** Called after every rebalance; an exception it throws is logged, not raised. */
  onRebalance?: (event: RebalanceEvent) => void
  /** A new member's id; a UUID unless a test injects its own. */
  newMemberId?: () => string
  logger?: Logger
}

export interface JoinRequest {
  group: string
  /** The id from an earlier join; omit it to join as a new member (or as a static member coming back). */
  memberId?: string
  /** A stable id across restarts (Kafka's group.instance.id): coming back within the session timeout keeps the partitions with no rebalance. */
  instanceId?: string
  topics: readonly string[]
  sessionTimeoutMs?: number
  /** A built-in assignor's name or an assignor; every member of a group must use the same one. */
  assignor?: string | Assignor
}

export interface HeartbeatRequest {
  group: string
  memberId: string
  generation: number
  /** Partitions, from `revoke`, that the member has stopped consuming and committed. */
  revoked?: readonly TopicPartition[]
}

export interface CommitRequest {
  group: string
  /** Omitted only for an empty group (an administrative reset, or a consumer without a group's membership). */
  memberId?: string
  generation?: number
  offsets: readonly OffsetCommit[]
}

export interface MemberDescription {
  memberId: string
  instanceId: string | null
  topics: string[]
  sessionTimeoutMs: number
  lastSeenMs: number
  assigned: TopicPartition[]
  revoking: TopicPartition[]
  pending: TopicPartition[]
}

export interface GroupDescription {
  group: string
  generation: number
  assignor: string | null
  stable: boolean
  members: MemberDescription[]
}

interface LoadedGroup {
  state: GroupState
  persistedGeneration: number
  saving: Promise<void> | null
}

export class GroupCoordinator {
  private readonly store: GroupStore
  private readonly partitionsOf: (topic: string) => number
  private readonly now: () => number
  private readonly onRebalance: ((event: RebalanceEvent) => void) | undefined
  private readonly newMemberId: () => string
  private readonly logger: Logger
  private readonly groups = new Map<string, LoadedGroup>()
  private readonly loading = new Map<string, Promise<LoadedGroup>>()
  /** The tail of each group's commits: a fetch waits for the commits issued before it. */
  private readonly writes = new Map<string, Promise<void>>()

  constructor(options: CoordinatorOptions) {
    this.store = options.store
    this.partitionsOf = options.partitionsOf
    this.now = options.now ?? Date.now
    this.onRebalance = options.onRebalance
    this.newMemberId = options.newMemberId ?? randomUUID
    this.logger = options.logger ?? stderrLogger
  }

  async join(request: JoinRequest): Promise<MemberAssignment> {
    const group = checkGroupName(request.group)
    const topics = checkTopics(request.topics)
    const sessionTimeoutMs = checkSessionTimeout(request.sessionTimeoutMs)
    const instanceId = checkInstanceId(request.instanceId)
    const assignor = resolveAssignor(request.assignor)
    const loaded = await this.load(group)
    const { state } = loaded
    const now = this.now()
    this.expire(loaded, now)

    let member: Member
    let reason: RebalanceReason | null = null
    if (request.memberId !== undefined) {
      const known = state.members.get(request.memberId)
      if (known === undefined) throw unknownMember(group, request.memberId)
      if (instanceId !== known.instanceId) {
        throw invalidArgument('instanceId', `must stay "${known.instanceId ?? '(none)'}" for member ${known.memberId}; join without a member id to change it`)
      }
      this.checkAssignor(state, assignor, known.memberId)
      member = known
      member.lastSeenMs = now
      member.sessionTimeoutMs = sessionTimeoutMs
    } else if (instanceId !== null && state.byInstance.has(instanceId)) {
      const previous = state.byInstance.get(instanceId)!
      this.checkAssignor(state, assignor, previous)
      member = state.replace(previous, this.newMemberId(), now, sessionTimeoutMs)
    } else {
      this.checkAssignor(state, assignor, null)
      if (state.members.size >= MAX_GROUP_MEMBERS) {
        throw new SpoolError('GROUP_MAX_SIZE_REACHED', `group "${group}" already has ${MAX_GROUP_MEMBERS} members; add partitions or use another group`, {
          details: { group },
        })
      }
      member = {
        memberId: this.newMemberId(),
        instanceId,
        topics,
        sessionTimeoutMs,
        lastSeenMs: now,
        target: new Set(),
        owned: new Set(),
        revoking: new Set(),
      }
      state.add(member)
      reason = 'join'
    }
    if (reason === null && !sameTopics(member.topics, topics)) {
      member.topics = topics
      reason = 'subscription'
    }
    state.assignor ??= assignor
    if (reason !== null) this.rebalance(loaded, reason, { members: [member.memberId] }, now)
    return this.answer(loaded, member.memberId)
  }

  async heartbeat(request: HeartbeatRequest): Promise<MemberAssignment> {
    const loaded = this.loadedFor(request.group, request.memberId)
    const member = this.checkMember(loaded, request.memberId)
    member.lastSeenMs = this.now()
    this.checkGeneration(loaded.state, request.memberId, request.generation)
    if (request.revoked !== undefined && request.revoked.length > 0) loaded.state.confirmRevoked(member, request.revoked)
    return this.answer(loaded, member.memberId)
  }

  /** Leaves at once: the member's partitions move now, without waiting for its session to run out. */
  async leave(request: { group: string; memberId: string }): Promise<void> {
    const loaded = this.loadedFor(request.group, request.memberId)
    this.checkMember(loaded, request.memberId)
    loaded.state.remove(request.memberId)
    this.rebalance(loaded, 'leave', { members: [request.memberId] }, this.now())
    await this.durable(loaded)
  }

  /**
   * Stores offsets once LevelDB holds them durably. Refused, storing nothing, unless the
   * member is known (UNKNOWN_MEMBER), its generation is current (ILLEGAL_GENERATION) and
   * it owns every partition (PARTITION_NOT_ASSIGNED). An offset may go back (a seek).
   */
  async commit(request: CommitRequest): Promise<void> {
    const group = checkGroupName(request.group)
    const loaded = this.groups.get(group)
    if (loaded !== undefined) this.expire(loaded, this.now())
    if (request.memberId === undefined) {
      if (loaded !== undefined && loaded.state.members.size > 0) {
        throw new SpoolError('UNKNOWN_MEMBER', `group "${group}" has members; only one of them, with its member id and generation, may commit`, {
          details: { group },
        })
      }
    } else {
      const member = this.checkMember(loaded, request.memberId, group)
      member.lastSeenMs = this.now()
      this.checkGeneration(loaded!.state, request.memberId, request.generation)
      const foreign = request.offsets.find((o) => !member.owned.has(tpKey(o)))
      if (foreign !== undefined) {
        throw new SpoolError(
          'PARTITION_NOT_ASSIGNED',
          `member ${member.memberId} of group "${group}" does not own ${foreign.topic}-${foreign.partition}; commit only the partitions of the latest join or heartbeat`,
          { details: { group, memberId: member.memberId, topic: foreign.topic, partition: foreign.partition } },
        )
      }
    }
    const committedAt = this.now()
    const entries = request.offsets.map((o) => ({ ...o, committedAt: o.committedAt ?? committedAt }))
    const write = (this.writes.get(group) ?? Promise.resolve()).then(() => this.store.commit(group, entries))
    const tail = write.catch(() => undefined)
    this.writes.set(group, tail)
    void tail.then(() => {
      if (this.writes.get(group) === tail) this.writes.delete(group)
    })
    await write
  }

  /** The group's committed offsets, including every commit issued before this call. */
  async fetchOffsets(group: string, topic?: string): Promise<CommittedOffset[]> {
    checkGroupName(group)
    await this.writes.get(group)
    return this.store.fetch(group, topic)
  }

  /** Evicts every member whose session ran out; returns the rebalances that followed. */
  async tick(): Promise<RebalanceEvent[]> {
    const now = this.now()
    const events: RebalanceEvent[] = []
    for (const loaded of this.groups.values()) {
      const event = this.expire(loaded, now)
      if (event !== null) events.push(event)
    }
    await Promise.all([...this.groups.values()].map((loaded) => this.durable(loaded)))
    return events
  }

  /** A topic's partition count may have changed: rebalances every group whose members subscribe to it and saw another count. */
  async partitionsChanged(topic: string): Promise<RebalanceEvent[]> {
    const events: RebalanceEvent[] = []
    const now = this.now()
    for (const loaded of this.groups.values()) {
      const { state } = loaded
      const seen = state.partitionCounts.get(topic)
      if (seen === undefined || seen === Math.max(0, this.partitionsOf(topic))) continue
      events.push(this.rebalance(loaded, 'partitions', { topics: [topic] }, now))
    }
    await Promise.all([...this.groups.values()].map((loaded) => this.durable(loaded)))
    return events
  }

  /** The group's members and partitions as the coordinator sees them, or null for a group it has not loaded. */
  describe(group: string): GroupDescription | null {
    const loaded = this.groups.get(group)
    if (loaded === undefined) return null
    const { state } = loaded
    return {
      group,
      generation: state.generation,
      assignor: state.assignor?.name ?? null,
      stable: state.stable,
      members: state.sortedMembers().map((member) => {
        const view = state.view(member)
        return {
          memberId: member.memberId,
          instanceId: member.instanceId,
          topics: [...member.topics],
          sessionTimeoutMs: member.sessionTimeoutMs,
          lastSeenMs: member.lastSeenMs,
          assigned: view.assigned,
          revoking: view.revoke,
          pending: view.pending,
        }
      }),
    }
  }

  /** The group's latest generation: live, or as stored (0 for a group never rebalanced). */
  async generationOf(group: string): Promise<number> {
    checkGroupName(group)
    return this.groups.get(group)?.state.generation ?? (await this.store.loadGroupMeta(group))?.generation ?? 0
  }

  /** Groups with stored offsets or metadata, or with members now. */
  async listGroups(): Promise<string[]> {
    const stored = await this.store.listGroups()
    const live = [...this.groups.values()].filter((g) => g.state.members.size > 0).map((g) => g.state.name)
    return [...new Set([...stored, ...live])].sort()
  }

  /** Forgets a group's offsets and generation; refused while it has members (GROUP_NOT_EMPTY). */
  async deleteGroup(group: string): Promise<void> {
    checkGroupName(group)
    const loaded = this.groups.get(group)
    if (loaded !== undefined) this.expire(loaded, this.now())
    if (loaded !== undefined && loaded.state.members.size > 0) {
      throw new SpoolError('GROUP_NOT_EMPTY', `group "${group}" still has ${loaded.state.members.size} member(s); close them first`, {
        details: { group },
      })
    }
    if (loaded !== undefined) await this.durable(loaded)
    await this.writes.get(group)
    await this.store.deleteGroup(group)
    this.groups.delete(group)
  }

  private async load(group: string): Promise<LoadedGroup> {
    const ready = this.groups.get(group)
    if (ready !== undefined) return ready
    let pending = this.loading.get(group)
    if (pending === undefined) {
      pending = this.store
        .loadGroupMeta(group)
        .then((meta) => {
          const generation = meta?.generation ?? 0
          const loaded: LoadedGroup = { state: new GroupState(group, generation), persistedGeneration: generation, saving: null }
          this.groups.set(group, loaded)
          return loaded
        })
        .finally(() => this.loading.delete(group))
      this.loading.set(group, pending)
    }
    return pending
  }

  private loadedFor(group: string, memberId: string): LoadedGroup {
    checkGroupName(group)
    const loaded = this.groups.get(group)
    if (loaded === undefined) throw unknownMember(group, memberId)
    this.expire(loaded, this.now())
    return loaded
  }

  private checkMember(loaded: LoadedGroup | undefined, memberId: string, group = loaded?.state.name ?? ''): Member {
    const member = loaded?.state.members.get(memberId)
    if (member === undefined) throw unknownMember(group, memberId)
    return member
  }

  private checkGeneration(state: GroupState, memberId: string, generation: number | undefined): void {
    if (generation === state.generation) return
    throw new SpoolError(
      'ILLEGAL_GENERATION',
      `member ${memberId} of group "${state.name}" is at generation ${String(generation)}, the group at ${state.generation}; join again with the member id`,
      { details: { group: state.name, memberId, generation, currentGeneration: state.generation } },
    )
  }

  private checkAssignor(state: GroupState, assignor: Assignor, except: string | null): void {
    const others = [...state.members.keys()].some((id) => id !== except)
    if (!others || state.assignor === null || state.assignor.name === assignor.name) return
    throw new SpoolError(
      'INCONSISTENT_GROUP_PROTOCOL',
      `group "${state.name}" uses the ${state.assignor.name} assignor; join with it, or use another group`,
      { details: { group: state.name, assignor: assignor.name, groupAssignor: state.assignor.name } },
    )
  }

  private expire(loaded: LoadedGroup, now: number): RebalanceEvent | null {
    const expired = loaded.state.expired(now)
    if (expired.length === 0) return null
    for (const member of expired) loaded.state.remove(member.memberId)
    return this.rebalance(
      loaded,
      'timeout',
      { members: expired.map((m) => m.memberId) },
      now,
    )
  }

  private rebalance(loaded: LoadedGroup, reason: RebalanceReason, causes: { members?: string[]; topics?: string[] }, now: number): RebalanceEvent {
    const event = loaded.state.rebalance(reason, causes, this.partitionsOf, now)
    if (this.onRebalance !== undefined) {
      try {
        this.onRebalance(event)
      } catch (error) {
        this.logger.warn(`a rebalance listener of group "${event.group}" threw: ${String(error)}`)
      }
    }
    return event
  }

  /** Waits until the group's current generation is in the store (one save at a time; a burst of rebalances coalesces). */
  private async durable(loaded: LoadedGroup): Promise<void> {
    while (loaded.persistedGeneration < loaded.state.generation) {
      loaded.saving ??= (async () => {
        const generation = loaded.state.generation
        await this.store.saveGroupMeta(loaded.state.name, { generation, updatedAt: this.now() })
        loaded.persistedGeneration = Math.max(loaded.persistedGeneration, generation)
      })().finally(() => {
        loaded.saving = null
      })
      await loaded.saving
    }
  }

  /** The member's assignment once its generation is durable; UNKNOWN_MEMBER if it was evicted meanwhile. */
  private async answer(loaded: LoadedGroup, memberId: string): Promise<MemberAssignment> {
    await this.durable(loaded)
    return loaded.state.view(this.checkMember(loaded, memberId))
  }
}

function unknownMember(group: string, memberId: string): SpoolError {
  return new SpoolError(
    'UNKNOWN_MEMBER',
    `group "${group}" has no member ${memberId} (its session timed out, it left, or a static rejoin replaced it); drop its partitions and join again without a member id`,
    { details: { group, memberId } },
  )
}

function checkTopics(topics: readonly string[]): string[] {
  if (!Array.isArray(topics) || topics.length === 0) throw invalidArgument('topics', 'must list at least one topic')
  return [...new Set(topics.map((t) => checkTopicName(t)))].sort()
}

function sameTopics(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((topic, i) => topic === b[i])
}

function checkSessionTimeout(ms: number | undefined): number {
  return ms === undefined ? DEFAULT_SESSION_TIMEOUT_MS : integerIn('sessionTimeoutMs', ms, MIN_SESSION_TIMEOUT_MS, MAX_SESSION_TIMEOUT_MS)
}

function checkInstanceId(instanceId: string | undefined): string | null {
  if (instanceId === undefined) return null
  if (typeof instanceId !== 'string' || instanceId.length === 0) throw invalidArgument('instanceId', 'must be a non-empty string')
  return instanceId
}
