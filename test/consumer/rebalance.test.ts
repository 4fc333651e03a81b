import { describe, expect, it } from 'vitest'
import type { TopicPartition } from '../../src/groups/assignors.js'
import type { RebalanceEvent } from '../../src/groups/coordinator.js'
import { expectCode } from '../helpers/expect-code.js'
import { Processed, eventually, everyRecord, produce, runAll } from '../helpers/consume.js'
import { openTestSpool } from '../helpers/open-spool.js'
import { tempDir } from '../helpers/temp-dir.js'

const names = (tps: readonly TopicPartition[]): string[] => tps.map((tp) => `${tp.topic}-${tp.partition}`).sort()

describe('consumer groups: rebalancing members', () => {
  it('cooperative-sticky: when a 4th member joins 3, only the moved partitions are revoked and the rest are consumed throughout', async () => {
    const spool = await openTestSpool(tempDir(), { flush: 'never' })
    await spool.createTopic('orders', { partitions: 6 })
    const events: RebalanceEvent[] = []
    spool.onRebalance((event) => events.push(event))
    const revoked: string[][] = [[], [], [], []]
    const member = (i: number) =>
      spool.consumer({ group: 'workers', topics: ['orders'], onRevoked: (tps) => void revoked[i]!.push(...names(tps)) })
    const members = [0, 1, 2].map(member)
    const processed = new Processed()
    const runs = runAll(members, processed)
    await eventually(() => members.every((m) => m.assignment().length === 2))
    const before = members.map((m) => names(m.assignment()))
    for (const list of revoked) list.length = 0 // forget the moves while the first three joined

    // Records keep flowing while the 4th member joins.
    const producer = spool.producer()
    const flowing = produce(producer, 'orders', 20_000)
    const fourth = member(3)
    runs.push(fourth.run({ eachRecord: (record) => processed.record(3, record) }))
    await flowing
    await eventually(() => fourth.assignment().length > 0 && members.every((m) => m.assignment().length > 0) && events.at(-1)!.reason === 'join')
    const join = events.at(-1)!
    await eventually(() => [...members, fourth].reduce((n, m) => n + m.assignment().length, 0) === 6)

    const moved = join.moved.map((m) => `${m.topic}-${m.partition}`).sort()
    expect(moved.length).toBe(1) // 2, 2, 2 becomes 2, 2, 1, 1: one partition moves
    expect(revoked.slice(0, 3).flat().sort()).toEqual(moved) // only the moved ones were given up
    expect(names(fourth.assignment())).toEqual(moved)
    for (const [i, m] of members.entries()) {
      // What each kept, it never gave up: it still holds it.
      const kept = before[i]!.filter((tp) => !moved.includes(tp))
      expect(names(m.assignment())).toEqual(kept)
    }
    await processed.reach(20_000)
    const all = processed.all()
    expect(new Set(all).size).toBe(all.length)
    expect([...all].sort()).toEqual(everyRecord((await spool.describeTopic('orders')).partitions.map((p) => p.endOffset)).sort())
    await spool.close()
    await Promise.all(runs)
  })

  it('fencing: a member evicted by its session timeout cannot commit, and its late commit leaves the stored offset unchanged', async () => {
    const clock = { ms: 1_000_000 }
    const spool = await openTestSpool(tempDir(), { flush: 'never', clock: () => clock.ms })
    await spool.createTopic('orders', { partitions: 1 })
    await produce(spool.producer(), 'orders', 100)
    const zombie = spool.consumer({ group: 'workers', topics: ['orders'], autoCommit: false, sessionTimeoutMs: 1_000 })
    expect((await zombie.poll({ maxRecords: 10 })).length).toBe(10)
    await zombie.commit()
    const coordinator = await spool.groups.coordinator()
    expect((await coordinator.fetchOffsets('workers'))[0]!.offset).toBe(10)
    expect((await zombie.poll({ maxRecords: 30 })).length).toBe(30)

    // The zombie's session runs out (a GC pause, a frozen process); it commits before it hears of it.
    clock.ms += 1_001
    await expectCode(zombie.commit(), 'UNKNOWN_MEMBER')
    expect((await coordinator.fetchOffsets('workers'))[0]!.offset).toBe(10)
    await spool.close()
  })

  it('a member whose handler hangs past maxPollIntervalMs leaves: another resumes from its last commit, losing nothing', async () => {
    const spool = await openTestSpool(tempDir(), { flush: 'never' })
    await spool.createTopic('orders', { partitions: 2 })
    await produce(spool.producer(), 'orders', 2_000)
    let release!: () => void
    const hang = new Promise<void>((resolve) => (release = resolve))
    const processed = new Processed()
    const options = { group: 'workers', topics: ['orders'], heartbeatIntervalMs: 20, maxPollIntervalMs: 200, maxPrefetchRecords: 50 }
    const stuck = spool.consumer(options)
    let handled = 0
    const stuckRun = stuck.run({
      eachRecord: async (record) => {
        if (++handled === 700) await hang // dies here, mid-stream, without committing this batch
        processed.record(0, record)
      },
    })
    await eventually(() => handled >= 700)
    let committedAtHandover: Map<number, number> | null = null
    const coordinator = await spool.groups.coordinator()
    const rescuer = spool.consumer({
      ...options,
      onAssigned: async () => {
        committedAtHandover ??= new Map((await coordinator.fetchOffsets('workers')).map((c) => [c.partition, c.offset]))
      },
    })
    const rescuerRun = rescuer.run({ eachRecord: (record) => processed.record(1, record) })
    await eventually(() => rescuer.assignment().length === 2 && processed.byMember[1] !== undefined && new Set(processed.all()).size === 2_000)

    const first = new Set(processed.byMember[0])
    const repeats = (processed.byMember[1] ?? []).filter((r) => first.has(r))
    for (const repeat of repeats) {
      const [partition, offset] = repeat.split(':').map(Number) as [number, number]
      expect(offset).toBeGreaterThanOrEqual(committedAtHandover!.get(partition) ?? 0) // only what came after the last commit
    }
    release()
    await spool.close()
    await Promise.all([stuckRun, rescuerRun])
  })
})
