import { describe, expect, it } from 'vitest'
import { Processed, everyRecord, produce, runAll } from '../helpers/consume.js'
import { openTestSpool } from '../helpers/open-spool.js'
import { tempDir } from '../helpers/temp-dir.js'

const RECORDS = 100_000

async function endOffsets(spool: Awaited<ReturnType<typeof openTestSpool>>, topic: string): Promise<number[]> {
  return (await spool.describeTopic(topic)).partitions.map((p) => p.endOffset)
}

describe('consumer groups: queue and broadcast', () => {
  it(`queue: 3 members of one group share ${RECORDS} records of 6 partitions, each processed exactly once`, async () => {
    const spool = await openTestSpool(tempDir(), { flush: 'never' })
    await spool.createTopic('orders', { partitions: 6 })
    const members = [0, 1, 2].map(() => spool.consumer({ group: 'workers', topics: ['orders'] }))
    const processed = new Processed()
    const runs = runAll(members, processed)
    await produce(spool.producer(), 'orders', RECORDS)
    await processed.reach(RECORDS)
    const all = processed.all()
    expect(all.length).toBe(RECORDS)
    expect(new Set(all).size).toBe(RECORDS) // no record twice
    expect([...all].sort()).toEqual(everyRecord(await endOffsets(spool, 'orders')).sort())
    // The load was shared: once the group was stable, each member owned two partitions.
    expect(members.map((m) => m.assignment().length)).toEqual([2, 2, 2])
    await spool.close()
    await Promise.all(runs)
  })

  it('broadcast: 3 groups each process every record, in offset order per partition', async () => {
    const spool = await openTestSpool(tempDir(), { flush: 'never' })
    await spool.createTopic('orders', { partitions: 6 })
    const count = 30_000
    const groups = ['email', 'analytics', 'audit']
    const perGroup = groups.map(() => new Processed())
    const consumers = groups.map((group) => spool.consumer({ group, topics: ['orders'] }))
    const runs = consumers.flatMap((consumer, i) => runAll([consumer], perGroup[i]!))
    await produce(spool.producer(), 'orders', count)
    await Promise.all(perGroup.map((p) => p.reach(count)))
    const expected = everyRecord(await endOffsets(spool, 'orders'))
    for (const processed of perGroup) {
      const all = processed.all()
      expect([...all].sort()).toEqual([...expected].sort())
      for (let partition = 0; partition < 6; partition++) {
        const offsets = all.filter((r) => r.startsWith(`${partition}:`)).map((r) => Number(r.split(':')[1]))
        expect(offsets).toEqual(offsets.map((_, i) => i))
      }
    }
    await spool.close()
    await Promise.all(runs)
  })
})
