import fs from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { expectCode } from '../helpers/expect-code.js'
import { openTestSpool } from '../helpers/open-spool.js'
import { tempDir } from '../helpers/temp-dir.js'

describe('openSpool and topics', () => {
  it('creates, lists, describes, grows and deletes topics, and keeps them across a reopen', async () => {
    const dir = tempDir()
    const spool = await openTestSpool(dir)
    const created = await spool.createTopic('orders', { partitions: 3, flush: 'never', segmentBytes: 4096 })
    expect(created.partitions.map((p) => [p.partition, p.startOffset, p.endOffset, p.segments])).toEqual([
      [0, 0, 0, 1],
      [1, 0, 0, 1],
      [2, 0, 0, 1],
    ])
    expect(created.config).toMatchObject({ partitions: 3, flush: 'never', segmentBytes: 4096, cleanup: 'delete' })
    await spool.createTopic('audit.log_v2')
    expect(spool.listTopics()).toEqual(['audit.log_v2', 'orders'])

    const producer = spool.producer()
    await producer.sendBatch(Array.from({ length: 30 }, (_, i) => ({ topic: 'orders', partition: i % 3, value: `v${i}` })))
    const described = await spool.describeTopic('orders')
    expect(described.partitions.map((p) => p.endOffset)).toEqual([10, 10, 10])
    expect(described.partitions.every((p) => p.bytes > 0)).toBe(true)

    const grown = await spool.addPartitions('orders', 5)
    expect(grown.partitions.length).toBe(5)
    await spool.deleteTopic('audit.log_v2')
    expect(fs.existsSync(path.join(dir, 'audit.log_v2-0'))).toBe(false)
    await spool.close()

    const again = await openTestSpool(dir)
    expect(again.listTopics()).toEqual(['orders'])
    const reopened = await again.describeTopic('orders')
    expect(reopened.config.partitions).toBe(5)
    expect(reopened.partitions.map((p) => p.endOffset)).toEqual([10, 10, 10, 0, 0])
    await again.close()
  })

  it('gives a bad name, an existing topic and a missing one each their own code', async () => {
    const spool = await openTestSpool(tempDir())
    for (const bad of ['', 'has space', 'slash/name', 'ünïcode', '..', 'x'.repeat(250)]) {
      await expectCode(spool.createTopic(bad), 'INVALID_TOPIC_NAME')
    }
    await spool.createTopic('x'.repeat(249))
    await spool.createTopic('t')
    await expectCode(spool.createTopic('t'), 'TOPIC_EXISTS')
    await expectCode(spool.describeTopic('missing'), 'UNKNOWN_TOPIC')
    await expectCode(spool.deleteTopic('missing'), 'UNKNOWN_TOPIC')
    await expectCode(spool.addPartitions('missing', 3), 'UNKNOWN_TOPIC')
    await expectCode(spool.producer().send({ topic: 'missing', value: 'x' }), 'UNKNOWN_TOPIC')
    const error = await expectCode(spool.createTopic('u', { partitions: 0 }), 'INVALID_ARGUMENT')
    expect(error.details.field).toBe('partitions')
    await expectCode(spool.createTopic('u', { colour: 'blue' } as never), 'INVALID_ARGUMENT')
    await expectCode(spool.addPartitions('t', 1), 'INVALID_ARGUMENT') // not more than now
    expect(spool.listTopics()).toEqual(['t', 'x'.repeat(249)])
    await spool.close()
  })

  it('applies the spool-wide defaults to new topics', async () => {
    const spool = await openTestSpool(tempDir(), { partitions: 4, flush: { intervalMs: 50 } })
    const topic = await spool.createTopic('d')
    expect(topic.config.partitions).toBe(4)
    expect(topic.config.flush).toEqual({ intervalMs: 50 })
    await spool.close()
  })

  it('holds the data directory: a second openSpool fails with LOCKED until the first closes', async () => {
    const dir = tempDir()
    const spool = await openTestSpool(dir)
    await expectCode(openTestSpool(dir), 'LOCKED')
    await spool.close()
    const again = await openTestSpool(dir)
    await again.close()
  })

  it('refuses a damaged catalog with CORRUPT_CATALOG and changes nothing', async () => {
    const dir = tempDir()
    const spool = await openTestSpool(dir)
    await spool.createTopic('a')
    await spool.close()
    const catalog = path.join(dir, 'topics.json')
    fs.writeFileSync(catalog, fs.readFileSync(catalog).subarray(0, 20))
    const before = fs.readdirSync(dir).sort()
    await expectCode(openTestSpool(dir), 'CORRUPT_CATALOG')
    expect(fs.readdirSync(dir).sort()).toEqual(before)
    expect(fs.existsSync(path.join(dir, 'a-0'))).toBe(true)
  })
})
