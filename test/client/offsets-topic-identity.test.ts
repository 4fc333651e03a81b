import fs from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import type { Spool } from '../../src/client/spool.js'
import { CATALOG_FILE } from '../../src/topics/catalog.js'
import { produce } from '../helpers/consume.js'
import { openTestSpool } from '../helpers/open-spool.js'
import { tempDir } from '../helpers/temp-dir.js'

const offsets = (records: { offset: number }[]): number[] => records.map((r) => r.offset)

/** Group "g" reads `count` records of `topic` by polling, commits them, and leaves. */
async function consumeAndCommit(spool: Spool, topic: string, count: number): Promise<number[]> {
  const consumer = spool.consumer({ group: 'g', topics: [topic], autoCommit: false })
  const got = offsets(await consumer.poll({ maxRecords: count }))
  await consumer.commit()
  await consumer.close()
  return got
}

async function committedOffsets(spool: Spool): Promise<number[]> {
  return (await (await spool.groups.coordinator()).fetchOffsets('g')).map((c) => c.offset)
}

describe('committed offsets belong to a topic, not to its name', () => {
  it('a topic deleted and created again is read from its start, not from the old topic\'s commit', async () => {
    const warnings: string[] = []
    const spool = await openTestSpool(tempDir(), { flush: 'never', logger: { warn: (m) => warnings.push(m) } })
    await spool.createTopic('t')
    await produce(spool.producer(), 't', 3)
    expect(await consumeAndCommit(spool, 't', 3)).toEqual([0, 1, 2])
    expect(await committedOffsets(spool)).toEqual([3])

    await spool.deleteTopic('t')
    await spool.createTopic('t')
    await produce(spool.producer(), 't', 5)
    const consumer = spool.consumer({ group: 'g', topics: ['t'] })
    expect(offsets(await consumer.poll({ maxRecords: 5 }))).toEqual([0, 1, 2, 3, 4])
    expect(warnings.some((w) => w.includes('ignores its committed offset 3 on t-0'))).toBe(true)
    await consumer.close()
    await spool.close()
  })

  it('keeps the offsets of a topic from a catalog written before topic ids, across reopens', async () => {
    const dir = tempDir()
    const spool = await openTestSpool(dir, { flush: 'never' })
    await spool.createTopic('t')
    await produce(spool.producer(), 't', 6)
    await spool.close()
    // An older version's catalog: no topicId.
    const file = path.join(dir, CATALOG_FILE)
    const catalog = JSON.parse(fs.readFileSync(file, 'utf8')) as { topics: { topicId?: string }[] }
    for (const topic of catalog.topics) delete topic.topicId
    fs.writeFileSync(file, JSON.stringify(catalog))

    const first = await openTestSpool(dir, { flush: 'never' })
    expect(await consumeAndCommit(first, 't', 4)).toEqual([0, 1, 2, 3])
    await first.close()
    const second = await openTestSpool(dir, { flush: 'never' })
    const consumer = second.consumer({ group: 'g', topics: ['t'] })
    expect(offsets(await consumer.poll({ maxRecords: 10 }))).toEqual([4, 5])
    await consumer.close()
    await second.close()
  })
})
