import path from 'node:path'
import { describe, expect, it } from 'vitest'
import type { TopicPartition } from '../../src/groups/assignors.js'
import { GroupCoordinator, type RebalanceEvent } from '../../src/groups/coordinator.js'
import { OffsetStore } from '../../src/groups/offset-store.js'
import { silentLogger } from '../../src/storage/logger.js'
import { expectCode } from '../helpers/expect-code.js'
import { tempDir } from '../helpers/temp-dir.js'

const SESSION_MS = 10_000
const names = (list: TopicPartition[]): string[] => list.map((tp) => `${tp.topic}-${tp.partition}`)

async function setup(options: { dir?: string; partitions?: Record<string, number> } = {}) {
  const dir = options.dir ?? path.join(tempDir(), 'groups')
  const store = await OffsetStore.open(dir)
  const clock = { ms: 1_000_000 }
  const counts: Record<string, number> = { orders: 6, ...options.partitions }
  const events: RebalanceEvent[] = []
  let next = 0
  const coordinator = new GroupCoordinator({
    store,
    partitionsOf: (topic) => counts[topic] ?? 0,
    now: () => clock.ms,
    onRebalance: (event) => events.push(event),
    newMemberId: () => `m${++next}`,
    logger: silentLogger,
  })
  const join = (extra: { memberId?: string; instanceId?: string; topics?: string[]; assignor?: string } = {}) =>
    coordinator.join({ group: 'workers', topics: ['orders'], sessionTimeoutMs: SESSION_MS, assignor: 'cooperative-sticky', ...extra })
  return { dir, store, clock, counts, events, coordinator, join }
}

describe('GroupCoordinator', () => {
  it('assigns, and when a 4th member joins 3 under cooperative-sticky revokes only the moved partition', async () => {
    const { coordinator, join, events } = await setup()
    const m1 = await join()
    expect(names(m1.assigned)).toEqual(['orders-0', 'orders-1', 'orders-2', 'orders-3', 'orders-4', 'orders-5'])
    await join()
    await join()
    // Everyone confirms what they were asked to give up, until the group is stable.
    await settle(coordinator, ['m1', 'm2', 'm3'])
    const before = coordinator.describe('workers')!
    expect(before.members.map((m) => names(m.assigned))).toEqual([
      ['orders-0', 'orders-1'],
      ['orders-3', 'orders-4'],
      ['orders-2', 'orders-5'],
    ])
    const generation = before.generation

    const m4 = await join()
    expect(m4.generation).toBe(generation + 1)
    expect(m4.assigned).toEqual([])
    expect(names(m4.pending)).toEqual(['orders-5'])
    expect(m4.rebalancing).toBe(true)
    const revoked = await Promise.all(['m1', 'm2', 'm3'].map(async (id) => (await rejoin(coordinator, id)).revoke))
    expect(revoked.map(names)).toEqual([[], [], ['orders-5']])
    expect(events.at(-1)).toMatchObject({ reason: 'join', members: ['m4'], moved: [{ topic: 'orders', partition: 5, from: 'm3', to: 'm4' }] })

    // m3 still owns orders-5 until it confirms: it may commit it, m4 may not.
    await coordinator.commit({ group: 'workers', memberId: 'm3', generation: m4.generation, offsets: [{ topic: 'orders', partition: 5, offset: 10 }] })
    await expectCode(
      coordinator.commit({ group: 'workers', memberId: 'm4', generation: m4.generation, offsets: [{ topic: 'orders', partition: 5, offset: 11 }] }),
      'PARTITION_NOT_ASSIGNED',
    )
    const after = await coordinator.heartbeat({ group: 'workers', memberId: 'm3', generation: m4.generation, revoked: [{ topic: 'orders', partition: 5 }] })
    expect(names(after.assigned)).toEqual(['orders-2'])
    const m4now = await coordinator.heartbeat({ group: 'workers', memberId: 'm4', generation: m4.generation })
    expect(names(m4now.assigned)).toEqual(['orders-5'])
    expect(m4now.rebalancing).toBe(false)
    expect(await coordinator.fetchOffsets('workers')).toMatchObject([{ topic: 'orders', partition: 5, offset: 10 }])
  })

  it('under an eager assignor revokes everything and grants each member its partitions after it confirms', async () => {
    const { coordinator, join } = await setup()
    await join({ assignor: 'range' })
    const m2 = await join({ assignor: 'range' })
    expect(m2.assigned).toEqual([])
    const m1 = await rejoin(coordinator, 'm1')
    expect(names(m1.revoke)).toEqual(['orders-0', 'orders-1', 'orders-2', 'orders-3', 'orders-4', 'orders-5'])
    expect(m1.assigned).toEqual([])
    const confirmed = await coordinator.heartbeat({ group: 'workers', memberId: 'm1', generation: m1.generation, revoked: m1.revoke })
    expect(names(confirmed.assigned)).toEqual(['orders-0', 'orders-1', 'orders-2'])
    const m2now = await coordinator.heartbeat({ group: 'workers', memberId: 'm2', generation: m2.generation })
    expect(names(m2now.assigned)).toEqual(['orders-3', 'orders-4', 'orders-5'])
    await expectCode(join({ assignor: 'round-robin' }), 'INCONSISTENT_GROUP_PROTOCOL')
  })

  it('fences a member evicted by session timeout: its late commit is refused and the stored offset stays', async () => {
    const { coordinator, join, clock, events } = await setup()
    const m1 = await join()
    await coordinator.commit({ group: 'workers', memberId: 'm1', generation: m1.generation, offsets: [{ topic: 'orders', partition: 0, offset: 5 }] })
    const m2 = await join()
    clock.ms += SESSION_MS / 2
    const m2beat = await coordinator.heartbeat({ group: 'workers', memberId: 'm2', generation: m2.generation })
    clock.ms += SESSION_MS / 2 + 1 // m1 last heard from SESSION_MS + 1 ago; m2 half a session ago
    const [timeout] = await coordinator.tick()
    expect(timeout).toMatchObject({ reason: 'timeout', members: ['m1'] })
    expect(events.at(-1)).toBe(timeout)

    await expectCode(
      coordinator.commit({ group: 'workers', memberId: 'm1', generation: m1.generation + 1, offsets: [{ topic: 'orders', partition: 0, offset: 99 }] }),
      'UNKNOWN_MEMBER',
    )
    await expectCode(coordinator.heartbeat({ group: 'workers', memberId: 'm1', generation: m1.generation }), 'UNKNOWN_MEMBER')
    expect((await coordinator.fetchOffsets('workers'))[0]!.offset).toBe(5)

    // m2, still at the old generation, is fenced too until it joins again.
    const stale = await expectCode(
      coordinator.commit({ group: 'workers', memberId: 'm2', generation: m2beat.generation, offsets: [{ topic: 'orders', partition: 3, offset: 1 }] }),
      'ILLEGAL_GENERATION',
    )
    expect((stale as unknown as { needsRejoin: boolean }).needsRejoin).toBe(true)
    await expectCode(coordinator.heartbeat({ group: 'workers', memberId: 'm2', generation: m2beat.generation }), 'ILLEGAL_GENERATION')
    const m2new = await rejoin(coordinator, 'm2')
    expect(m2new.generation).toBe(timeout!.generation)
    expect(names(m2new.assigned)).toHaveLength(6)
    await coordinator.commit({ group: 'workers', memberId: 'm2', generation: m2new.generation, offsets: [{ topic: 'orders', partition: 0, offset: 6 }] })
    expect((await coordinator.fetchOffsets('workers'))[0]!.offset).toBe(6)
  })

  it('evicts on any call once the session ran out, without tick()', async () => {
    const { coordinator, join, clock } = await setup()
    const m1 = await join()
    clock.ms += SESSION_MS + 1
    await expectCode(
      coordinator.commit({ group: 'workers', memberId: 'm1', generation: m1.generation, offsets: [{ topic: 'orders', partition: 0, offset: 1 }] }),
      'UNKNOWN_MEMBER',
    )
    expect(await coordinator.fetchOffsets('workers')).toEqual([])
  })

  it('gives a static member back its partitions with no rebalance within its session, and rebalances after it', async () => {
    const { coordinator, join, clock, events } = await setup()
    await join({ instanceId: 'worker-a' })
    await join({ instanceId: 'worker-b' })
    await settle(coordinator, ['m1', 'm2'])
    const before = coordinator.describe('workers')!
    const eventsBefore = events.length

    clock.ms += SESSION_MS - 1 // worker-a restarted and lost its member id
    const back = await join({ instanceId: 'worker-a' })
    expect(back.memberId).toBe('m3')
    expect(back.generation).toBe(before.generation)
    expect(back.assigned).toEqual(before.members.find((m) => m.instanceId === 'worker-a')!.assigned)
    expect(events.length).toBe(eventsBefore)
    await expectCode(coordinator.heartbeat({ group: 'workers', memberId: 'm1', generation: before.generation }), 'UNKNOWN_MEMBER')

    clock.ms += SESSION_MS + 1 // worker-b was not heard from: it is evicted, then comes back as new
    const late = await join({ instanceId: 'worker-b' })
    expect(late.generation).toBe(before.generation + 2)
    expect(events.slice(eventsBefore).map((e) => e.reason)).toEqual(['timeout', 'join'])
  })

  it('rebalances on a subscription change and on new partitions, with the reason and what moved', async () => {
    const { coordinator, join, counts, events } = await setup({ partitions: { audit: 2 } })
    const m1 = await join()
    await join({ topics: ['audit'] })
    const changed = await join({ memberId: 'm1', topics: ['orders', 'audit'] })
    expect(changed.generation).toBe(m1.generation + 2)
    expect(events.at(-1)).toMatchObject({ reason: 'subscription', members: ['m1'] })
    counts.orders = 8
    const [grown] = await coordinator.partitionsChanged('orders')
    expect(grown).toMatchObject({ reason: 'partitions', topics: ['orders'] })
    expect(grown!.moved.filter((m) => m.topic === 'orders' && m.partition >= 6)).toEqual([
      { topic: 'orders', partition: 6, from: null, to: 'm1' },
      { topic: 'orders', partition: 7, from: null, to: 'm1' },
    ])
    expect(await coordinator.partitionsChanged('orders')).toEqual([])
    await coordinator.leave({ group: 'workers', memberId: 'm2' })
    expect(events.at(-1)).toMatchObject({ reason: 'leave', members: ['m2'] })
    expect(events.at(-1)!.moved.every((m) => m.from === 'm2' && m.to === 'm1')).toBe(true)
    expect(new Set(events.map((e) => e.reason))).toEqual(new Set(['join', 'subscription', 'partitions', 'leave']))
  })

  it('keeps generations increasing and offsets across a restart', async () => {
    const first = await setup()
    const m1 = await first.join()
    await first.join()
    await first.coordinator.commit({ group: 'workers', memberId: 'm1', generation: (await rejoin(first.coordinator, 'm1')).generation, offsets: [{ topic: 'orders', partition: 0, offset: 42 }] })
    const generation = first.coordinator.describe('workers')!.generation
    expect(generation).toBeGreaterThan(m1.generation)
    await first.store.close()

    const second = await setup({ dir: first.dir })
    const again = await second.join()
    expect(again.generation).toBe(generation + 1)
    expect(await second.coordinator.fetchOffsets('workers')).toMatchObject([{ topic: 'orders', partition: 0, offset: 42 }])
    await expectCode(second.coordinator.heartbeat({ group: 'workers', memberId: 'm2', generation }), 'UNKNOWN_MEMBER')
    await second.store.close()
  })

  it('lets only an empty group be reset by a commit without a member, or deleted', async () => {
    const { coordinator, join } = await setup()
    await coordinator.commit({ group: 'other', offsets: [{ topic: 'orders', partition: 1, offset: 3 }] })
    await join()
    await expectCode(coordinator.commit({ group: 'workers', offsets: [{ topic: 'orders', partition: 0, offset: 1 }] }), 'UNKNOWN_MEMBER')
    await expectCode(coordinator.deleteGroup('workers'), 'GROUP_NOT_EMPTY')
    expect(await coordinator.listGroups()).toEqual(['other', 'workers'])
    await coordinator.leave({ group: 'workers', memberId: 'm1' })
    await coordinator.deleteGroup('workers')
    await coordinator.deleteGroup('other')
    expect(await coordinator.listGroups()).toEqual([])
  })

  it('refuses bad requests with INVALID_ARGUMENT and changes nothing', async () => {
    const { coordinator, join } = await setup()
    await expectCode(join({ topics: [] }), 'INVALID_ARGUMENT')
    await expectCode(join({ assignor: 'sticky' }), 'INVALID_ARGUMENT')
    await expectCode(coordinator.join({ group: 'workers', topics: ['orders'], sessionTimeoutMs: 1 }), 'INVALID_ARGUMENT')
    await expectCode(join({ topics: ['no spaces'] }), 'INVALID_TOPIC_NAME')
    await expectCode(join({ memberId: 'nobody' }), 'UNKNOWN_MEMBER')
    expect(coordinator.describe('workers')?.members ?? []).toEqual([])
  })
})

async function rejoin(coordinator: GroupCoordinator, memberId: string) {
  const member = coordinator.describe('workers')!.members.find((m) => m.memberId === memberId)!
  return coordinator.join({
    group: 'workers',
    memberId,
    ...(member.instanceId === null ? {} : { instanceId: member.instanceId }),
    topics: member.topics,
    sessionTimeoutMs: member.sessionTimeoutMs,
    assignor: coordinator.describe('workers')!.assignor!,
  })
}

/** Each member joins again and confirms its revokes until the group is stable. */
async function settle(coordinator: GroupCoordinator, memberIds: string[]): Promise<void> {
  for (let round = 0; round < 5 && !coordinator.describe('workers')!.stable; round++) {
    for (const id of memberIds) {
      const state = await rejoin(coordinator, id)
      if (state.revoke.length > 0) await coordinator.heartbeat({ group: 'workers', memberId: id, generation: state.generation, revoked: state.revoke })
    }
  }
  expect(coordinator.describe('workers')!.stable).toBe(true)
}
