/**
 * kafkajs 2.2 (a pure-JavaScript Kafka client nobody here wrote) against spool.listen(),
 * run in its own process by test/fixtures/kafka-clients/kafkajs-client.mjs:
 * - produces with acks -1, 1 and 0 (keyed, Java's partitioner: each key lands where spool's
 *   partitioner puts it), and what spool stores is what was sent, byte for byte;
 * - an idempotent producer whose Produce response is lost (its connection dropped by the
 *   client's socket after the broker stored the batch, before kafkajs read the answer)
 *   sends the batch again with the same sequence numbers, and the log holds it once; the
 *   same fault without idempotence stores the batch twice, which shows the fault forces a
 *   real resend (so the idempotent case proves something);
 * - reads without a group, from offsets and from timestamps: kafkajs's admin for the
 *   offsets (fetchTopicOffsets, fetchTopicOffsetsByTimestamp → ListOffsets), and kafkajs's
 *   own Fetch request and decoder for the records (through its internal Cluster/Broker
 *   objects: kafkajs's consumer always joins a group, and group APIs are the next issue);
 * - its admin creates (with a config), lists and deletes topics, as spool sees them.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { type KafkajsMessage, type KafkajsProduceAnswer, fetchedRecords, runKafkajs } from '../../helpers/kafka-oracles.js'
import { type ReadRecord, indexOf, keyedRecords, roundTripProblems } from '../../helpers/kafka-records.js'
import { type InProcessServer, listenInProcess } from '../../helpers/kafka-server.js'
import { tempDir } from '../../helpers/temp-dir.js'

const PARTITIONS = 3
const RECORDS = 300
const BATCH = 50

let server: InProcessServer | null = null
afterEach(async () => {
  await server?.close()
  server = null
})

/** Every record of `topic` as spool's own reader sees it, now, while the listener runs. */
async function readInProcess(topic: string): Promise<ReadRecord[]> {
  const spool = server!.spool
  const { partitions } = await spool.describeTopic(topic)
  const records: ReadRecord[] = []
  for (const { partition } of partitions.map((_, partition) => ({ partition }))) {
    for await (const record of spool.read(topic, { partition })) {
      records.push({ partition, offset: record.offset, key: record.key && Buffer.from(record.key), value: record.value && Buffer.from(record.value) })
    }
  }
  return records
}

/** Resolves once `count()` reaches `target`, woken by appends, polling briefly (a safety guard times the test out, not this). */
async function until(what: () => Promise<number>, target: number): Promise<number> {
  for (;;) {
    const now = await what()
    if (now >= target) return now
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

function messagesOf(records: ReturnType<typeof keyedRecords>): KafkajsMessage[] {
  return records.map((r) => ({ key: r.key, value: r.value }))
}

describe('kafkajs against spool.listen()', () => {
  it.each([-1, 1, 0] as const)('produces with acks %i: every record stored once, byte for byte, each key on its partition', async (acks) => {
    const dir = tempDir('spool-kafkajs-')
    const topic = `kafkajs-acks-${acks === -1 ? 'all' : acks}`
    server = await listenInProcess(dir, { [topic]: { partitions: PARTITIONS } })
    const records = keyedRecords({ count: RECORDS, keys: 40, seed: 100 + acks })

    const [answer] = await runKafkajs(server.bootstrap, [{ op: 'produce', topic, acks, messages: messagesOf(records), batchSize: BATCH }])
    const { sent } = answer as unknown as KafkajsProduceAnswer
    expect(sent).toHaveLength(RECORDS / BATCH)
    if (acks !== 0) {
      for (const batch of sent) for (const partition of batch) expect(partition.errorCode).toBe(0)
    }

    // acks 0: no answer at all, so kafkajs resolved before the records were stored: wait for them.
    const count = async (): Promise<number> => (await readInProcess(topic)).length
    expect(await until(count, RECORDS)).toBe(RECORDS)
    expect(roundTripProblems(records, await readInProcess(topic), PARTITIONS)).toEqual([])
  })

  it('an idempotent producer whose Produce response was lost sends the batch again, and it is stored once', async () => {
    const dir = tempDir('spool-kafkajs-idem-')
    server = await listenInProcess(dir, { control: { partitions: 1 }, idempotent: { partitions: 1 } })
    const records = keyedRecords({ count: 100, keys: 10, seed: 7 })
    const messages = messagesOf(records).map((m) => ({ ...m, partition: 0 }))

    // The control: the same lost response without idempotence stores that batch twice.
    const [control] = await runKafkajs(server.bootstrap, [{ op: 'produce', topic: 'control', acks: -1, messages, batchSize: 20, dropProduceResponses: 1 }])
    expect((control as unknown as KafkajsProduceAnswer).dropped).toBe(1)
    const controlStored = await readInProcess('control')
    expect(controlStored.length, 'the dropped response made kafkajs resend a stored batch').toBe(records.length + 20)

    const [answer] = await runKafkajs(server.bootstrap, [{ op: 'produce', topic: 'idempotent', acks: -1, messages, batchSize: 20, idempotent: true, dropProduceResponses: 1 }])
    expect((answer as unknown as KafkajsProduceAnswer).dropped).toBe(1)
    const stored = await readInProcess('idempotent')
    expect(roundTripProblems(records, stored)).toEqual([])
    expect(stored.map((r) => indexOf(r.value)), 'each record once, in the order sent').toEqual(records.map((r) => r.index))
    expect(stored.map((r) => r.offset)).toEqual(records.map((_, offset) => offset))
  })

  it('reads without a group from offsets and from timestamps (ListOffsets and Fetch, kafkajs decoding)', async () => {
    const dir = tempDir('spool-kafkajs-read-')
    const topic = 'kafkajs-read'
    server = await listenInProcess(dir, { [topic]: { partitions: 1 } })
    const base = Date.now() - 3_600_000 // an hour ago: within any timestamp policy's reach
    const records = keyedRecords({ count: 100, keys: 10, seed: 9 })
    const messages: KafkajsMessage[] = records.map((r, i) => ({
      key: r.key,
      value: r.value,
      partition: 0,
      timestamp: base + i * 1000,
      headers: { index: Buffer.from(String(i)), binary: Buffer.from([0, 255, i]) },
    }))

    const [, offsets, at50, before50, after, fromStart, from50, fromLate] = await runKafkajs(server.bootstrap, [
      { op: 'produce', topic, acks: -1, messages, batchSize: 25 },
      { op: 'fetchTopicOffsets', topic },
      { op: 'fetchTopicOffsetsByTimestamp', topic, timestamp: base + 50_000 },
      { op: 'fetchTopicOffsetsByTimestamp', topic, timestamp: base + 49_500 },
      { op: 'fetchTopicOffsetsByTimestamp', topic, timestamp: base + 1_000_000 },
      { op: 'fetch', topic, partition: 0, offset: 0, maxBytes: 256 }, // KIP-74: at least one whole batch each time
      { op: 'fetch', topic, partition: 0, offset: 50 },
      { op: 'fetch', topic, partition: 0, offset: 99 },
    ])
    expect(offsets!['offsets']).toEqual([{ partition: 0, offset: '100', high: '100', low: '0' }])
    expect(at50!['offsets']).toEqual([{ partition: 0, offset: '50' }])
    expect(before50!['offsets']).toEqual([{ partition: 0, offset: '50' }])
    // No record that late: Kafka answers -1, and kafkajs turns that into the end offset.
    expect(after!['offsets']).toEqual([{ partition: 0, offset: '100' }])

    const all = fetchedRecords(fromStart!)
    expect(all.map((r) => r.offset)).toEqual(records.map((_, i) => i))
    for (const [i, record] of all.entries()) {
      expect(record.key?.equals(records[i]!.key), `key of ${i}`).toBe(true)
      expect(record.value?.equals(records[i]!.value), `value of ${i}`).toBe(true)
      expect(record.timestamp).toBe(base + i * 1000)
      expect(record.headers['index']?.toString()).toBe(String(i))
      expect(record.headers['binary']?.equals(Buffer.from([0, 255, i]))).toBe(true)
    }
    expect(fetchedRecords(from50!).map((r) => r.offset)).toEqual(records.slice(50).map((_, i) => 50 + i))
    expect(fetchedRecords(fromLate!).map((r) => r.offset)).toEqual([99])
    expect(from50!['highWatermark']).toBe('100')
  })

  it('admin creates (with a config), lists and deletes topics', async () => {
    const dir = tempDir('spool-kafkajs-admin-')
    server = await listenInProcess(dir, { existing: { partitions: 1 } })
    const answers = await runKafkajs(server.bootstrap, [
      { op: 'createTopics', topics: [{ topic: 'made-by-kafkajs', numPartitions: 4, configEntries: [{ name: 'retention.ms', value: '3600000' }] }] },
      { op: 'listTopics' },
      { op: 'topicMetadata', topics: ['made-by-kafkajs'] },
    ])
    expect(answers[0]).toEqual({ created: true })
    expect((answers[1]!['topics'] as string[]).sort()).toEqual(['existing', 'made-by-kafkajs'])
    expect(answers[2]!['topics']).toEqual([{ name: 'made-by-kafkajs', partitions: [0, 1, 2, 3] }])
    const made = await server.spool.describeTopic('made-by-kafkajs')
    expect(made.partitions).toHaveLength(4)
    expect(made.config.retentionMs).toBe(3_600_000)

    const [, listed] = await runKafkajs(server.bootstrap, [{ op: 'deleteTopics', topics: ['made-by-kafkajs'] }, { op: 'listTopics' }])
    expect(listed!['topics']).toEqual(['existing'])
    expect(server.spool.listTopics()).toEqual(['existing'])
  })
})
