import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  type Assignment,
  type Assignor,
  type AssignorInput,
  type AssignorMember,
  type TopicPartition,
  cooperativeStickyAssignor,
  rangeAssignor,
  resolveAssignor,
  roundRobinAssignor,
  tpKey,
} from '../../src/groups/assignors.js'
import { expectCode } from '../helpers/expect-code.js'

const member = (memberId: string, topics: string[], current: TopicPartition[] = [], instanceId?: string): AssignorMember => ({
  memberId,
  topics,
  current,
  ...(instanceId === undefined ? {} : { instanceId }),
})
const tps = (...names: string[]): TopicPartition[] =>
  names.map((name) => {
    const dash = name.lastIndexOf('-')
    return { topic: name.slice(0, dash), partition: Number(name.slice(dash + 1)) }
  })
const names = (assignment: Assignment): Record<string, string[]> =>
  Object.fromEntries([...assignment].map(([id, list]) => [id, list.map((tp) => `${tp.topic}-${tp.partition}`)]))
const input = (members: AssignorMember[], partitions: Record<string, number>): AssignorInput => ({
  members,
  partitions: new Map(Object.entries(partitions)),
})

describe('range (Kafka semantics)', () => {
  it('gives each member a contiguous range per topic, the first ones one more', () => {
    const result = rangeAssignor.assign(input([member('c1', ['t0', 't1']), member('c0', ['t0', 't1'])], { t0: 3, t1: 3 }))
    expect(names(result)).toEqual({ c0: ['t0-0', 't0-1', 't1-0', 't1-1'], c1: ['t0-2', 't1-2'] })
  })

  it('orders static members first, by instance id', () => {
    const result = rangeAssignor.assign(input([member('a', ['t']), member('z', ['t'], [], 'i1')], { t: 3 }))
    expect(names(result)).toEqual({ z: ['t-0', 't-1'], a: ['t-2'] })
  })
})

describe('round-robin (Kafka semantics)', () => {
  it('deals partitions in order to the members in turn', () => {
    const result = roundRobinAssignor.assign(input([member('c0', ['t0', 't1']), member('c1', ['t0', 't1'])], { t0: 3, t1: 3 }))
    expect(names(result)).toEqual({ c0: ['t0-0', 't0-2', 't1-1'], c1: ['t0-1', 't1-0', 't1-2'] })
  })

  it('skips members not subscribed to a partition’s topic (the javadoc example)', () => {
    const members = [member('C0', ['t0']), member('C1', ['t0', 't1']), member('C2', ['t0', 't1', 't2'])]
    const result = roundRobinAssignor.assign(input(members, { t0: 1, t1: 2, t2: 3 }))
    expect(names(result)).toEqual({ C0: ['t0-0'], C1: ['t1-0'], C2: ['t1-1', 't2-0', 't2-1', 't2-2'] })
  })
})

describe('cooperative-sticky', () => {
  it('moves only t-5 when a 4th member joins three that hold 6 partitions', () => {
    const members = [member('m1', ['t'], tps('t-0', 't-1')), member('m2', ['t'], tps('t-2', 't-3')), member('m3', ['t'], tps('t-4', 't-5'))]
    const result = cooperativeStickyAssignor.assign(input([...members, member('m4', ['t'])], { t: 6 }))
    expect(names(result)).toEqual({ m1: ['t-0', 't-1'], m2: ['t-2', 't-3'], m3: ['t-4'], m4: ['t-5'] })
  })

  it('hands a leaving member’s partitions to the least loaded and moves nothing else', () => {
    const members = [member('m1', ['t'], tps('t-0', 't-1')), member('m2', ['t'], tps('t-2', 't-3'))]
    const result = cooperativeStickyAssignor.assign(input(members, { t: 6 }))
    expect(names(result)).toEqual({ m1: ['t-0', 't-1', 't-4'], m2: ['t-2', 't-3', 't-5'] })
  })

  it('drops partitions of an unsubscribed topic or past a shrunken count, and claims of another’s partition', () => {
    const members = [member('a', ['t'], tps('t-0', 'u-0', 't-9')), member('b', ['t', 'u'], tps('t-0', 't-1'))]
    const result = cooperativeStickyAssignor.assign(input(members, { t: 2, u: 1 }))
    expect(names(result)).toEqual({ a: ['t-0'], b: ['t-1', 'u-0'] })
  })
})

const TOPICS = ['a', 'b', 'c']
const groupInput = fc
  .record({
    members: fc.uniqueArray(
      fc.record({
        memberId: fc.stringMatching(/^[a-z]{1,4}$/),
        topics: fc.subarray(TOPICS, { minLength: 1 }),
        static: fc.option(fc.stringMatching(/^[a-z]{1,3}$/), { nil: undefined }),
        current: fc.array(fc.record({ topic: fc.constantFrom(...TOPICS), partition: fc.nat(12) }), { maxLength: 8 }),
      }),
      { minLength: 1, maxLength: 9, selector: (m) => m.memberId },
    ),
    counts: fc.tuple(fc.nat(12), fc.nat(12), fc.nat(12)),
  })
  .map(({ members, counts }) =>
    input(
      members.map((m) => member(m.memberId, m.topics, m.current, m.static)),
      Object.fromEntries(TOPICS.map((t, i) => [t, counts[i]!])),
    ),
  )

function expectValid(assignor: Assignor, given: AssignorInput, result: Assignment): void {
  const owners = new Map<string, string>()
  expect([...result.keys()].sort()).toEqual(given.members.map((m) => m.memberId).sort())
  for (const [memberId, list] of result) {
    const topics = given.members.find((m) => m.memberId === memberId)!.topics
    for (const tp of list) {
      expect(topics, `${assignor.name}: ${memberId} got ${tpKey(tp)}`).toContain(tp.topic)
      expect(owners.has(tpKey(tp)), `${assignor.name}: ${tpKey(tp)} assigned twice`).toBe(false)
      owners.set(tpKey(tp), memberId)
    }
  }
  const subscribed = new Set(given.members.flatMap((m) => m.topics))
  const total = [...subscribed].reduce((sum, t) => sum + (given.partitions.get(t) ?? 0), 0)
  expect(owners.size, `${assignor.name}: every subscribed partition is assigned`).toBe(total)
}

describe.each([rangeAssignor, roundRobinAssignor, cooperativeStickyAssignor])('$name', (assignor) => {
  it('assigns every subscribed partition once, to a subscriber, whatever the input order', () => {
    fc.assert(
      fc.property(groupInput, fc.infiniteStream(fc.nat()), (given, shuffle) => {
        const result = assignor.assign(given)
        expectValid(assignor, given, result)
        const keys = given.members.map(() => shuffle.next().value as number)
        const shuffled = input(
          given.members.map((m, i) => [keys[i]!, m] as const).sort((x, y) => x[0] - y[0]).map(([, m]) => m),
          Object.fromEntries(given.partitions),
        )
        expect(names(assignor.assign(shuffled))).toEqual(names(result))
      }),
      { numRuns: 300 },
    )
  })

  it('balances members with equal subscriptions to within one partition', () => {
    fc.assert(
      fc.property(groupInput, (given) => {
        const same = input(
          given.members.map((m) => ({ ...m, topics: TOPICS })),
          Object.fromEntries(given.partitions),
        )
        const loads = [...assignor.assign(same).values()].map((list) => list.length)
        if (assignor === rangeAssignor) return // range balances per topic, not overall
        expect(Math.max(...loads) - Math.min(...loads)).toBeLessThanOrEqual(1)
      }),
      { numRuns: 300 },
    )
  })
})

it('cooperative-sticky keeps every valid current partition when the current assignment is already balanced', () => {
  fc.assert(
    fc.property(groupInput, (given) => {
      const first = cooperativeStickyAssignor.assign(input(given.members.map((m) => ({ ...m, topics: TOPICS, current: [] })), Object.fromEntries(given.partitions)))
      const again = cooperativeStickyAssignor.assign(
        input(given.members.map((m) => ({ ...m, topics: TOPICS, current: first.get(m.memberId)! })), Object.fromEntries(given.partitions)),
      )
      expect(names(again)).toEqual(names(first))
    }),
    { numRuns: 300 },
  )
})

it('resolves assignors by name or object and refuses unknown ones', async () => {
  expect(resolveAssignor('range')).toBe(rangeAssignor)
  expect(resolveAssignor(undefined)).toBe(cooperativeStickyAssignor)
  const custom: Assignor = { name: 'mine', protocol: 'eager', assign: (i) => new Map(i.members.map((m) => [m.memberId, []])) }
  expect(resolveAssignor(custom)).toBe(custom)
  await expectCode(Promise.resolve().then(() => resolveAssignor('sticky')), 'INVALID_ARGUMENT')
  await expectCode(Promise.resolve().then(() => resolveAssignor({ ...custom, protocol: 'lazy' as 'eager' })), 'INVALID_ARGUMENT')
})
