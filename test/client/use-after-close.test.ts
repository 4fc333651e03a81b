import fs from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { CATALOG_FILE } from '../../src/topics/catalog.js'
import { expectCode } from '../helpers/expect-code.js'
import { openTestSpool } from '../helpers/open-spool.js'
import { tempDir } from '../helpers/temp-dir.js'

/** Fails if the call does not throw synchronously, or rejects, with CLOSED. */
async function expectClosed(call: () => unknown): Promise<void> {
  await expectCode(
    (async () => {
      const result = call()
      if (result !== null && typeof result === 'object' && Symbol.asyncIterator in result) {
        for await (const _ of result as AsyncIterable<unknown>) break
        return
      }
      await result
    })(),
    'CLOSED',
  )
}

describe('a spool after close()', () => {
  it('refuses every call with CLOSED, writes nothing, and the next open still has every topic', async () => {
    const dir = tempDir()
    const spool = await openTestSpool(dir, { cleanerIntervalMs: 0 })
    await spool.createTopic('kept', { partitions: 2, flush: 'never' })
    const producer = spool.producer()
    await producer.sendBatch(Array.from({ length: 20 }, (_, i) => ({ topic: 'kept', partition: i % 2, value: `v${i}` })))
    await spool.close()
    const catalog = fs.readFileSync(path.join(dir, CATALOG_FILE))
    const entries = fs.readdirSync(dir).sort()

    await expectClosed(() => spool.createTopic('new'))
    await expectClosed(() => spool.deleteTopic('kept'))
    await expectClosed(() => spool.addPartitions('kept', 3))
    await expectClosed(() => spool.describeTopic('kept'))
    await expectClosed(() => spool.listTopics())
    await expectClosed(() => spool.offsetForTimestamp('kept', 0, 0))
    await expectClosed(() => spool.read('kept', { partition: 0 }))
    await expectClosed(() => spool.producer())
    await expectClosed(() => spool.consumer({ group: 'g', topics: ['kept'] }))
    await expectClosed(() => producer.send({ topic: 'kept', value: 'late' }))
    await expectClosed(() => spool.listGroups())
    await expectClosed(() => spool.describeGroup('g'))
    await expectClosed(() => spool.deleteGroup('g'))
    await expectClosed(() => spool.runCleanup())
    await expectClosed(() => spool.onRebalance(() => undefined))
    await spool.close() // twice is fine

    expect(fs.readFileSync(path.join(dir, CATALOG_FILE))).toEqual(catalog)
    expect(fs.readdirSync(dir).sort()).toEqual(entries)
    const again = await openTestSpool(dir)
    expect(again.listTopics()).toEqual(['kept'])
    expect((await again.describeTopic('kept')).partitions.map((p) => p.endOffset)).toEqual([10, 10])
    await again.close()
  })
})
