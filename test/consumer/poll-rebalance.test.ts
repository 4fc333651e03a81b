import { describe, expect, it } from 'vitest'
import type { Consumer } from '../../src/client/consumer.js'
import type { Spool } from '../../src/client/spool.js'
import { eventually, produce } from '../helpers/consume.js'
import { openTestSpool } from '../helpers/open-spool.js'
import { tempDir } from '../helpers/temp-dir.js'

const RECORDS = 40
/** Long enough for the old revoke (release, commit, give up) to have happened many times over. */
const REVOKE_SETTLE_MS = 300

const committed = async (spool: Spool): Promise<Map<number, number>> =>
  new Map((await (await spool.groups.coordinator()).fetchOffsets('workers')).map((c) => [c.partition, c.offset]))

/**
 * Member A polls every record of both partitions and keeps them (the application is
 * working on them); member B joins, and the group moves one partition from A to B.
 */
async function rebalanceWhileAWorks(options: { maxPollIntervalMs?: number; heartbeatIntervalMs?: number } = {}) {
  const spool = await openTestSpool(tempDir(), { flush: 'never' })
  await spool.createTopic('orders', { partitions: 2 })
  await produce(spool.producer(), 'orders', RECORDS)
  const member = (): Consumer => spool.consumer({ group: 'workers', topics: ['orders'], ...options })
  const a = member()
  await eventually(() => a.buffered.records === RECORDS)
  const batch = await a.poll({ maxRecords: RECORDS, timeoutMs: 0 })
  expect(batch.length).toBe(RECORDS) // A holds every record of both partitions, not yet processed
  const b = member()
  // The revoke has begun: A no longer counts the moved partition as its own.
  await eventually(() => b.memberId !== null && a.assignment().length === 1)
  const moved = [0, 1].find((partition) => !a.assignment().some((tp) => tp.partition === partition))!
  const inMoved = batch.filter((r) => r.partition === moved).map((r) => r.offset)
  expect(inMoved.length).toBeGreaterThan(0)
  return { spool, a, b, moved, inMoved }
}

describe('consumer groups: poll mode across a rebalance (contract 7)', () => {
  it('a revoke waits for the next poll: nothing of the last poll is committed before it, and the new owner starts after it', async () => {
    const { spool, a, b, moved, inMoved } = await rebalanceWhileAWorks()
    await new Promise((resolve) => setTimeout(resolve, REVOKE_SETTLE_MS))
    expect((await committed(spool)).get(moved) ?? 0).toBe(0) // A's batch is still in its hands: not committed
    expect(b.assignment()).toEqual([]) // and the partition is not handed on yet

    await a.poll({ timeoutMs: 0 }) // A has finished its batch
    await eventually(() => b.assignment().length === 1)
    expect((await committed(spool)).get(moved)).toBe(inMoved.at(-1)! + 1)
    expect(await b.poll({ timeoutMs: 100 })).toEqual([]) // B starts after A's batch: nothing again
    await spool.close()
  })

  it('a member that closes without polling again commits none of its last poll: the new owner gets those records (at-least-once)', async () => {
    const { spool, a, b, moved, inMoved } = await rebalanceWhileAWorks()
    await a.close()
    expect((await committed(spool)).get(moved) ?? 0).toBe(0)
    await eventually(() => b.assignment().length === 2)
    const again: number[] = []
    while (again.length < RECORDS) again.push(...(await b.poll({ maxRecords: RECORDS, timeoutMs: 1_000 })).map((r) => r.offset))
    expect(again.length).toBe(RECORDS) // every record A held, of both partitions, comes again
    expect(inMoved.every((offset) => again.includes(offset))).toBe(true)
    await spool.close()
  })

  it('a member that never polls again leaves after maxPollIntervalMs, and the new owner gets its last poll', async () => {
    const { spool, b } = await rebalanceWhileAWorks({ maxPollIntervalMs: 200, heartbeatIntervalMs: 20 })
    await eventually(() => b.assignment().length === 2)
    let again = 0
    while (again < RECORDS) again += (await b.poll({ maxRecords: RECORDS, timeoutMs: 1_000 })).length
    expect(again).toBe(RECORDS) // every record A held comes again
    await spool.close()
  })
})
