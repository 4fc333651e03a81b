import { type Admin, Kafka, logLevel } from 'kafkajs'
import { afterEach, describe, expect, it } from 'vitest'
import type { Spool } from '../../src/client/spool.js'
import { openTestSpool } from '../helpers/open-spool.js'
import { tempDir } from '../helpers/temp-dir.js'

/*
 * The metadata and admin APIs as kafkajs's admin client uses them, through a real
 * listener (in this process: the client is the oracle of the wire format and of how a
 * client reads the answers; the other-process tests are the acceptance suite's).
 */

const opened: Array<{ spool: Spool; admin: Admin }> = []

afterEach(async () => {
  for (const { spool, admin } of opened.splice(0)) {
    await admin.disconnect()
    await spool.close()
  }
})

async function setUp(): Promise<{ spool: Spool; admin: Admin }> {
  const spool = await openTestSpool(tempDir())
  const { host, port } = await spool.listen({ port: 0 })
  const kafka = new Kafka({ clientId: 'admin-test', brokers: [`${host}:${port}`], logLevel: logLevel.NOTHING, retry: { retries: 0 } })
  const admin = kafka.admin()
  opened.push({ spool, admin })
  await admin.connect()
  return { spool, admin }
}

describe('kafkajs admin against the listener', () => {
  it('creates topics with configs, lists, describes, grows and deletes them', async () => {
    const { spool, admin } = await setUp()
    const created = await admin.createTopics({
      topics: [
        { topic: 'orders', numPartitions: 3, configEntries: [{ name: 'cleanup.policy', value: 'compact' }, { name: 'spool.flush', value: 'never' }] },
        { topic: 'defaults' },
      ],
    })
    expect(created).toBe(true)
    expect(await admin.createTopics({ topics: [{ topic: 'orders' }] })).toBe(false) // exists: kafkajs answers false
    expect((await admin.listTopics()).sort()).toEqual(['defaults', 'orders'])
    expect((await spool.describeTopic('orders')).config).toMatchObject({ partitions: 3, cleanup: 'compact', flush: 'never' })

    const { topics } = await admin.fetchTopicMetadata({ topics: ['orders'] })
    expect(topics[0]!.partitions.map((p) => [p.partitionId, p.leader, p.replicas, p.isr]).sort()).toEqual([
      [0, 0, [0], [0]],
      [1, 0, [0], [0]],
      [2, 0, [0], [0]],
    ])
    const cluster = await admin.describeCluster()
    expect(cluster.brokers).toHaveLength(1)
    expect(cluster.controller).toBe(0)
    expect(cluster.clusterId).toMatch(/^[A-Za-z0-9_-]{22}$/)

    await admin.createPartitions({ topicPartitions: [{ topic: 'orders', count: 5 }] })
    expect((await spool.describeTopic('orders')).config.partitions).toBe(5)
    await expect(admin.createPartitions({ topicPartitions: [{ topic: 'orders', count: 2 }] })).rejects.toMatchObject({ type: 'INVALID_PARTITIONS' })

    await admin.deleteTopics({ topics: ['defaults'] })
    expect(await admin.listTopics()).toEqual(['orders'])
  })

  it('refuses a bad config and a replication factor above 1 with Kafka’s error types', async () => {
    const { admin } = await setUp()
    await expect(admin.createTopics({ topics: [{ topic: 'x', configEntries: [{ name: 'flush.ms', value: '1' }] }] })).rejects.toMatchObject({
      errors: [expect.objectContaining({ type: 'INVALID_CONFIG' })],
    })
    await expect(admin.createTopics({ topics: [{ topic: 'y', replicationFactor: 3 }] })).rejects.toMatchObject({
      errors: [expect.objectContaining({ type: 'INVALID_REPLICATION_FACTOR' })],
    })
    // kafkajs waits for a created topic's leaders even when it only validated: told not to.
    expect(await admin.createTopics({ validateOnly: true, waitForLeaders: false, topics: [{ topic: 'z', numPartitions: 2 }] })).toBe(true)
    expect(await admin.listTopics()).toEqual([])
  })

  it('answers offsets: earliest, latest and by timestamp', async () => {
    const { spool, admin } = await setUp()
    await spool.createTopic('events')
    const producer = spool.producer()
    const base = Date.now() - 60_000
    for (let i = 0; i < 4; i++) await producer.send({ topic: 'events', value: `v${i}`, timestamp: base + i * 1000 })
    await producer.close()
    expect(await admin.fetchTopicOffsets('events')).toEqual([{ partition: 0, offset: '4', high: '4', low: '0' }])
    expect(await admin.fetchTopicOffsetsByTimestamp('events', base + 2500)).toEqual([{ partition: 0, offset: '3' }])
  })
})
