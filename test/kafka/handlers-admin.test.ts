import { afterEach, describe, expect, it } from 'vitest'
import type { Spool, SpoolOptions } from '../../src/client/spool.js'
import type { Broker } from '../../src/kafka/broker.js'
import { handleCreatePartitions } from '../../src/kafka/handlers/create-partitions.js'
import { handleCreateTopics } from '../../src/kafka/handlers/create-topics.js'
import { handleDeleteTopics } from '../../src/kafka/handlers/delete-topics.js'
import type { Handler, RequestContext } from '../../src/kafka/handlers/handler.js'
import { handleListOffsets } from '../../src/kafka/handlers/list-offsets.js'
import { AUTHORIZED_OPERATIONS_OMITTED, handleMetadata } from '../../src/kafka/handlers/metadata.js'
import { KAFKA_ERRORS } from '../../src/kafka/protocol/error-codes.js'
import { openTestSpool } from '../helpers/open-spool.js'
import { tempDir } from '../helpers/temp-dir.js'

/*
 * The metadata and admin handlers called with decoded request bodies (field names as
 * Kafka's schemas, first letter lowercased), against a real spool through its broker.
 */

const ADVERTISED = { host: 'spool.test', port: 19092 }
const opened: Spool[] = []

afterEach(async () => {
  for (const spool of opened.splice(0)) await spool.close()
})

async function setUp(options: { autoCreateTopics?: boolean } & SpoolOptions = {}): Promise<{ spool: Spool; broker: Broker }> {
  const { autoCreateTopics = false, ...spoolOptions } = options
  const spool = await openTestSpool(tempDir(), spoolOptions)
  opened.push(spool)
  return { spool, broker: await spool.kafkaBroker({ autoCreateTopics }) }
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
async function call(handler: Handler, broker: Broker, apiVersion: number, request: object): Promise<any> {
  const context: RequestContext = { apiVersion, clientId: 'test', broker, advertised: ADVERTISED, signal: new AbortController().signal, afterResponse: () => undefined }
  return handler(request, context)
}

describe('Metadata', () => {
  it('names this broker, the cluster and the controller, and leads every partition (v8)', async () => {
    const { spool, broker } = await setUp()
    await spool.createTopic('orders', { partitions: 3 })
    const answer = await call(handleMetadata, broker, 8, { topics: null, allowAutoTopicCreation: true, includeClusterAuthorizedOperations: false, includeTopicAuthorizedOperations: false })
    expect(answer.brokers).toEqual([{ nodeId: broker.nodeId, host: 'spool.test', port: 19092, rack: null }])
    expect(answer.clusterId).toBe(broker.clusterId)
    expect(answer.clusterId).toMatch(/^[A-Za-z0-9_-]{22}$/)
    expect(answer.controllerId).toBe(broker.nodeId)
    expect(answer.clusterAuthorizedOperations).toBe(AUTHORIZED_OPERATIONS_OMITTED)
    expect(answer.topics).toHaveLength(1)
    const [topic] = answer.topics
    expect(topic).toMatchObject({ errorCode: 0, name: 'orders', isInternal: false, topicAuthorizedOperations: -2147483648 })
    const epoch = (await broker.log('orders', 0)).epoch
    expect(topic.partitions).toEqual(
      [0, 1, 2].map((partitionIndex) => ({
        errorCode: 0,
        partitionIndex,
        leaderId: broker.nodeId,
        leaderEpoch: epoch,
        replicaNodes: [broker.nodeId],
        isrNodes: [broker.nodeId],
        offlineReplicas: [],
      })),
    )
  })

  it('v0: an empty topic list asks for every topic; v1+: null asks for every one, [] for none', async () => {
    const { spool, broker } = await setUp()
    await spool.createTopic('a')
    await spool.createTopic('b', { partitions: 2 })
    const names = (answer: { topics: Array<{ name: string }> }): string[] => answer.topics.map((t) => t.name)
    expect(names(await call(handleMetadata, broker, 0, { topics: [] }))).toEqual(['a', 'b'])
    expect(names(await call(handleMetadata, broker, 1, { topics: null }))).toEqual(['a', 'b'])
    expect(names(await call(handleMetadata, broker, 1, { topics: [] }))).toEqual([])
    expect(names(await call(handleMetadata, broker, 5, { topics: [{ name: 'b' }, { name: 'b' }], allowAutoTopicCreation: true }))).toEqual(['b'])
  })

  it('leaves the leader epoch to v7+, and then reads it from the partition log', async () => {
    const { spool, broker } = await setUp()
    await spool.createTopic('t')
    const v6 = await call(handleMetadata, broker, 6, { topics: [{ name: 't' }], allowAutoTopicCreation: false })
    expect(v6.topics[0].partitions[0].leaderEpoch).toBe(-1) // the field is not in v6: the encoder leaves it out
    const v7 = await call(handleMetadata, broker, 7, { topics: [{ name: 't' }], allowAutoTopicCreation: false })
    expect(v7.topics[0].partitions[0].leaderEpoch).toBe((await broker.log('t', 0)).epoch)
  })

  it('answers UNKNOWN_TOPIC_OR_PARTITION for a missing topic and INVALID_TOPIC_EXCEPTION for a name no topic can have', async () => {
    const { broker } = await setUp()
    const answer = await call(handleMetadata, broker, 4, { topics: [{ name: 'missing' }, { name: 'bad name!' }], allowAutoTopicCreation: true })
    expect(answer.topics).toMatchObject([
      { name: 'missing', errorCode: KAFKA_ERRORS.UNKNOWN_TOPIC_OR_PARTITION, partitions: [] },
      { name: 'bad name!', errorCode: KAFKA_ERRORS.INVALID_TOPIC_EXCEPTION, partitions: [] },
    ])
    expect(broker.topicNames()).toEqual([])
  })

  it('creates an unknown topic with the defaults when the listener and the request allow it, and answers it at once', async () => {
    const { broker } = await setUp({ autoCreateTopics: true, partitions: 2 })
    const created = await call(handleMetadata, broker, 4, { topics: [{ name: 'auto' }], allowAutoTopicCreation: true })
    expect(created.topics[0]).toMatchObject({ name: 'auto', errorCode: 0 })
    expect(created.topics[0].partitions.map((p: { partitionIndex: number }) => p.partitionIndex)).toEqual([0, 1])
    // The client forbids it (v4+).
    const forbidden = await call(handleMetadata, broker, 8, { topics: [{ name: 'not-made' }], allowAutoTopicCreation: false })
    expect(forbidden.topics[0].errorCode).toBe(KAFKA_ERRORS.UNKNOWN_TOPIC_OR_PARTITION)
    // Before v4 a request always allows it.
    const old = await call(handleMetadata, broker, 1, { topics: [{ name: 'old-client' }] })
    expect(old.topics[0].errorCode).toBe(0)
    // Two requests at once for the same new topic both get it.
    const both = await Promise.all([1, 2].map(() => call(handleMetadata, broker, 8, { topics: [{ name: 'raced' }], allowAutoTopicCreation: true })))
    for (const answer of both) expect(answer.topics[0]).toMatchObject({ name: 'raced', errorCode: 0 })
    expect(broker.topicNames()).toEqual(['auto', 'old-client', 'raced'])
  })

  it('does not create topics when the listener does not allow it (the default), whatever the request says', async () => {
    const { broker } = await setUp()
    const answer = await call(handleMetadata, broker, 8, { topics: [{ name: 'x' }], allowAutoTopicCreation: true })
    expect(answer.topics[0].errorCode).toBe(KAFKA_ERRORS.UNKNOWN_TOPIC_OR_PARTITION)
    expect(broker.hasTopic('x')).toBe(false)
  })
})

describe('ListOffsets', () => {
  async function withRecords(): Promise<{ spool: Spool; broker: Broker; base: number }> {
    const { spool, broker } = await setUp()
    await spool.createTopic('events', { partitions: 2 })
    const producer = spool.producer()
    const base = Date.now() - 60_000
    for (let i = 0; i < 5; i++) await producer.send({ topic: 'events', partition: 0, value: `v${i}`, timestamp: base + i * 1000 })
    await producer.close()
    return { spool, broker, base }
  }

  const ask = (timestamp: number, partitionIndex = 0, extra: object = {}): object => ({
    replicaId: -1,
    isolationLevel: 0,
    topics: [{ name: 'events', partitions: [{ partitionIndex, timestamp, currentLeaderEpoch: -1, ...extra }] }],
  })

  it('answers earliest (-2), latest (-1) and by timestamp, with the found record’s timestamp (v1)', async () => {
    const { broker, base } = await withRecords()
    const one = async (timestamp: number, partitionIndex = 0): Promise<object> => (await call(handleListOffsets, broker, 1, ask(timestamp, partitionIndex))).topics[0].partitions[0]
    expect(await one(-2)).toMatchObject({ partitionIndex: 0, errorCode: 0, offset: 0, timestamp: -1 })
    expect(await one(-1)).toMatchObject({ errorCode: 0, offset: 5, timestamp: -1 })
    expect(await one(base + 2000)).toMatchObject({ errorCode: 0, offset: 2, timestamp: base + 2000 })
    expect(await one(base + 1500)).toMatchObject({ errorCode: 0, offset: 2, timestamp: base + 2000 })
    expect(await one(0)).toMatchObject({ errorCode: 0, offset: 0, timestamp: base })
    // Nothing stamped that late: Kafka's "none".
    expect(await one(base + 10_000)).toMatchObject({ errorCode: 0, offset: -1, timestamp: -1 })
    // An empty partition: earliest = latest = 0, and no record for any time.
    expect(await one(-2, 1)).toMatchObject({ errorCode: 0, offset: 0 })
    expect(await one(-1, 1)).toMatchObject({ errorCode: 0, offset: 0 })
    expect(await one(base, 1)).toMatchObject({ errorCode: 0, offset: -1, timestamp: -1 })
  })

  it('answers the leader epoch (v4+) and fences a client with another one, as Fetch does', async () => {
    const { broker, base } = await withRecords()
    const epoch = (await broker.log('events', 0)).epoch
    const one = async (request: object): Promise<object> => (await call(handleListOffsets, broker, 5, request)).topics[0].partitions[0]
    expect(await one(ask(-1))).toMatchObject({ errorCode: 0, offset: 5, leaderEpoch: epoch })
    expect(await one(ask(base + 3000, 0, { currentLeaderEpoch: epoch }))).toMatchObject({ errorCode: 0, offset: 3, leaderEpoch: epoch })
    expect(await one(ask(-1, 0, { currentLeaderEpoch: epoch + 1 }))).toMatchObject({ errorCode: KAFKA_ERRORS.UNKNOWN_LEADER_EPOCH, offset: -1 })
    if (epoch > 0) expect(await one(ask(-1, 0, { currentLeaderEpoch: epoch - 1 }))).toMatchObject({ errorCode: KAFKA_ERRORS.FENCED_LEADER_EPOCH })
    // read_committed is read_uncommitted until spool has transactions.
    expect(await one({ ...ask(-1), isolationLevel: 1 })).toMatchObject({ errorCode: 0, offset: 5 })
  })

  it('answers UNKNOWN_TOPIC_OR_PARTITION per partition, and INVALID_REQUEST for a partition asked twice', async () => {
    const { broker } = await withRecords()
    const answer = await call(handleListOffsets, broker, 2, {
      replicaId: -1,
      isolationLevel: 0,
      topics: [
        { name: 'events', partitions: [{ partitionIndex: 0, timestamp: -1 }, { partitionIndex: 7, timestamp: -1 }, { partitionIndex: 1, timestamp: -1 }, { partitionIndex: 1, timestamp: -2 }] },
        { name: 'missing', partitions: [{ partitionIndex: 0, timestamp: -1 }] },
      ],
    })
    expect(answer.throttleTimeMs).toBe(0)
    expect(answer.topics[0].partitions.map((p: { errorCode: number }) => p.errorCode)).toEqual([0, 3, 42, 42])
    expect(answer.topics[1]).toEqual({ name: 'missing', partitions: [{ partitionIndex: 0, errorCode: 3, timestamp: -1, offset: -1, leaderEpoch: -1 }] })
  })
})

describe('CreateTopics', () => {
  const creatable = (name: string, fields: object = {}): object => ({ name, numPartitions: 1, replicationFactor: 1, assignments: [], configs: [], ...fields })

  it('creates topics with their partitions and Kafka configs mapped to spool options (v0 and v4)', async () => {
    const { broker } = await setUp()
    const answer = await call(handleCreateTopics, broker, 0, {
      topics: [
        creatable('orders', {
          numPartitions: 3,
          configs: [
            { name: 'retention.ms', value: '86400000' },
            { name: 'retention.bytes', value: '-1' },
            { name: 'cleanup.policy', value: 'compact' },
            { name: 'segment.bytes', value: '1048576' },
            { name: 'max.message.bytes', value: '2000000' },
            { name: 'compression.type', value: 'zstd' },
            { name: 'message.timestamp.type', value: 'LogAppendTime' },
            { name: 'spool.flush', value: 'never' },
          ],
        }),
      ],
      timeoutMs: 5000,
    })
    expect(answer.topics).toEqual([{ name: 'orders', errorCode: 0, errorMessage: null }])
    expect(broker.topicConfig('orders')).toMatchObject({
      partitions: 3,
      retentionMs: 86_400_000,
      retentionBytes: null,
      cleanup: 'compact',
      segmentBytes: 1_048_576,
      maxRecordBytes: 2_000_000,
      compression: 'zstd',
      timestampType: 'logAppend',
      flush: 'never',
    })
    const v4 = await call(handleCreateTopics, broker, 4, {
      topics: [creatable('defaults', { numPartitions: -1, replicationFactor: -1, configs: [{ name: 'spool.flush', value: '250' }] })],
      timeoutMs: 0,
      validateOnly: false,
    })
    expect(v4.topics).toEqual([{ name: 'defaults', errorCode: 0, errorMessage: null }])
    expect(broker.topicConfig('defaults')).toMatchObject({ partitions: 1, flush: { intervalMs: 250 } })
  })

  it('takes numPartitions -1 from the spool’s defaults', async () => {
    const { broker } = await setUp({ partitions: 4 })
    await call(handleCreateTopics, broker, 4, { topics: [creatable('t', { numPartitions: -1, replicationFactor: -1 })], timeoutMs: 1000, validateOnly: false })
    expect(broker.topicConfig('t').partitions).toBe(4)
  })

  it('refuses each bad topic with Kafka’s code and a message, and creates the others', async () => {
    const { spool, broker } = await setUp()
    await spool.createTopic('exists')
    const answer = await call(handleCreateTopics, broker, 3, {
      topics: [
        creatable('exists'),
        creatable('bad/name'),
        creatable('three-replicas', { replicationFactor: 3 }),
        creatable('zero-replicas', { replicationFactor: 0 }),
        creatable('no-partitions', { numPartitions: 0 }),
        creatable('too-many', { numPartitions: 1_000_000 }),
        creatable('unknown-config', { configs: [{ name: 'min.insync.replicas', value: '2' }] }),
        creatable('bad-value', { configs: [{ name: 'cleanup.policy', value: 'compact,delete' }] }),
        creatable('out-of-range', { configs: [{ name: 'segment.bytes', value: '0' }] }),
        creatable('null-value', { configs: [{ name: 'retention.ms', value: null }] }),
        creatable('twice-config', { configs: [{ name: 'retention.ms', value: '1' }, { name: 'retention.ms', value: '2' }] }),
        creatable('fine'),
      ],
      timeoutMs: 1000,
      validateOnly: false,
    })
    const byName = new Map(answer.topics.map((t: { name: string }) => [t.name, t]))
    const code = (name: string): number => (byName.get(name) as { errorCode: number }).errorCode
    const message = (name: string): string => (byName.get(name) as { errorMessage: string }).errorMessage
    expect(code('exists')).toBe(KAFKA_ERRORS.TOPIC_ALREADY_EXISTS)
    expect(code('bad/name')).toBe(KAFKA_ERRORS.INVALID_TOPIC_EXCEPTION)
    expect(code('three-replicas')).toBe(KAFKA_ERRORS.INVALID_REPLICATION_FACTOR)
    expect(message('three-replicas')).toMatch(/single broker/)
    expect(code('zero-replicas')).toBe(KAFKA_ERRORS.INVALID_REPLICATION_FACTOR)
    expect(code('no-partitions')).toBe(KAFKA_ERRORS.INVALID_PARTITIONS)
    expect(code('too-many')).toBe(KAFKA_ERRORS.INVALID_PARTITIONS)
    expect(code('unknown-config')).toBe(KAFKA_ERRORS.INVALID_CONFIG)
    expect(message('unknown-config')).toMatch(/unknown topic config "min.insync.replicas"/)
    expect(code('bad-value')).toBe(KAFKA_ERRORS.INVALID_CONFIG)
    expect(message('bad-value')).toMatch(/cleanup.policy.*must be one of delete, compact/)
    expect(code('out-of-range')).toBe(KAFKA_ERRORS.INVALID_CONFIG)
    expect(message('out-of-range')).toMatch(/segment.bytes/)
    expect(code('null-value')).toBe(KAFKA_ERRORS.INVALID_CONFIG)
    expect(code('twice-config')).toBe(KAFKA_ERRORS.INVALID_CONFIG)
    expect(byName.get('fine')).toEqual({ name: 'fine', errorCode: 0, errorMessage: null })
    expect(broker.topicNames()).toEqual(['exists', 'fine'])
  })

  it('validateOnly checks everything and creates nothing', async () => {
    const { broker } = await setUp()
    const answer = await call(handleCreateTopics, broker, 1, {
      topics: [creatable('would-be', { numPartitions: 2 }), creatable('bad', { configs: [{ name: 'nope', value: '1' }] })],
      timeoutMs: 1000,
      validateOnly: true,
    })
    expect(answer.topics.map((t: { errorCode: number }) => t.errorCode)).toEqual([0, KAFKA_ERRORS.INVALID_CONFIG])
    expect(broker.topicNames()).toEqual([])
  })

  it('honours a manual assignment only when every partition is on this broker alone', async () => {
    const { broker } = await setUp()
    const node = broker.nodeId
    const answer = await call(handleCreateTopics, broker, 2, {
      topics: [
        creatable('manual', { numPartitions: -1, replicationFactor: -1, assignments: [{ partitionIndex: 1, brokerIds: [node] }, { partitionIndex: 0, brokerIds: [node] }] }),
        creatable('elsewhere', { numPartitions: -1, replicationFactor: -1, assignments: [{ partitionIndex: 0, brokerIds: [node + 1] }] }),
        creatable('replicated', { numPartitions: -1, replicationFactor: -1, assignments: [{ partitionIndex: 0, brokerIds: [node, node + 1] }] }),
        creatable('gap', { numPartitions: -1, replicationFactor: -1, assignments: [{ partitionIndex: 0, brokerIds: [node] }, { partitionIndex: 2, brokerIds: [node] }] }),
        creatable('both', { numPartitions: 1, replicationFactor: -1, assignments: [{ partitionIndex: 0, brokerIds: [node] }] }),
      ],
      timeoutMs: 1000,
      validateOnly: false,
    })
    expect(answer.topics.map((t: { name: string; errorCode: number }) => [t.name, t.errorCode])).toEqual([
      ['manual', 0],
      ['elsewhere', KAFKA_ERRORS.INVALID_REPLICA_ASSIGNMENT],
      ['replicated', KAFKA_ERRORS.INVALID_REPLICA_ASSIGNMENT],
      ['gap', KAFKA_ERRORS.INVALID_REPLICA_ASSIGNMENT],
      ['both', KAFKA_ERRORS.INVALID_REQUEST],
    ])
    expect(broker.topicConfig('manual').partitions).toBe(2)
  })

  it('refuses a name given twice in one request, and creates neither', async () => {
    const { broker } = await setUp()
    const answer = await call(handleCreateTopics, broker, 4, { topics: [creatable('dup'), creatable('dup', { numPartitions: 2 }), creatable('single')], timeoutMs: 1000, validateOnly: false })
    expect(answer.topics.map((t: { name: string; errorCode: number }) => [t.name, t.errorCode])).toEqual([
      ['dup', KAFKA_ERRORS.INVALID_REQUEST],
      ['single', 0],
    ])
    expect(broker.topicNames()).toEqual(['single'])
  })
})

describe('DeleteTopics', () => {
  it('deletes by name; unknown and impossible names are UNKNOWN_TOPIC_OR_PARTITION; a name twice is INVALID_REQUEST (v0 and v3)', async () => {
    const { spool, broker } = await setUp()
    await spool.createTopic('a')
    await spool.createTopic('b')
    await spool.createTopic('c')
    const v0 = await call(handleDeleteTopics, broker, 0, { topicNames: ['a', 'missing', 'bad name'], timeoutMs: 1000 })
    expect(v0.responses).toEqual([
      { name: 'a', errorCode: 0 },
      { name: 'missing', errorCode: KAFKA_ERRORS.UNKNOWN_TOPIC_OR_PARTITION },
      { name: 'bad name', errorCode: KAFKA_ERRORS.UNKNOWN_TOPIC_OR_PARTITION },
    ])
    const v3 = await call(handleDeleteTopics, broker, 3, { topicNames: ['b', 'b', 'c'], timeoutMs: 1000 })
    expect(v3).toEqual({ throttleTimeMs: 0, responses: [{ name: 'b', errorCode: KAFKA_ERRORS.INVALID_REQUEST }, { name: 'c', errorCode: 0 }] })
    expect(spool.listTopics()).toEqual(['b'])
  })
})

describe('CreatePartitions', () => {
  it('grows a topic to the new total; not above the current count is INVALID_PARTITIONS (v0 and v1)', async () => {
    const { spool, broker } = await setUp()
    await spool.createTopic('t', { partitions: 2 })
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    const grow = (count: number, fields: object = {}, version = 1): Promise<any> =>
      call(handleCreatePartitions, broker, version, { topics: [{ name: 't', count, assignments: null, ...fields }], timeoutMs: 1000, validateOnly: false })
    expect((await grow(4, {}, 0)).results).toEqual([{ name: 't', errorCode: 0, errorMessage: null }])
    expect(broker.topicConfig('t').partitions).toBe(4)
    expect((await broker.log('t', 3)).endOffset).toBe(0)
    expect((await grow(4)).results[0]).toMatchObject({ errorCode: KAFKA_ERRORS.INVALID_PARTITIONS, errorMessage: expect.stringMatching(/already has 4/) })
    expect((await grow(3)).results[0].errorCode).toBe(KAFKA_ERRORS.INVALID_PARTITIONS)
    expect((await grow(1_000_000)).results[0].errorCode).toBe(KAFKA_ERRORS.INVALID_PARTITIONS)
    const node = broker.nodeId
    expect((await grow(6, { assignments: [{ brokerIds: [node] }] })).results[0].errorCode).toBe(KAFKA_ERRORS.INVALID_REPLICA_ASSIGNMENT)
    expect((await grow(6, { assignments: [{ brokerIds: [node] }, { brokerIds: [node + 1] }] })).results[0].errorCode).toBe(KAFKA_ERRORS.INVALID_REPLICA_ASSIGNMENT)
    expect(broker.topicConfig('t').partitions).toBe(4)
    expect((await grow(6, { assignments: [{ brokerIds: [node] }, { brokerIds: [node] }] })).results[0].errorCode).toBe(0)
    expect(broker.topicConfig('t').partitions).toBe(6)
  })

  it('validateOnly changes nothing; unknown topics and names given twice are refused', async () => {
    const { spool, broker } = await setUp()
    await spool.createTopic('t')
    await spool.createTopic('u')
    const answer = await call(handleCreatePartitions, broker, 0, {
      topics: [
        { name: 't', count: 3, assignments: null },
        { name: 'missing', count: 3, assignments: null },
        { name: 'u', count: 2, assignments: null },
        { name: 'u', count: 3, assignments: null },
      ],
      timeoutMs: 1000,
      validateOnly: true,
    })
    expect(answer.results.map((r: { name: string; errorCode: number }) => [r.name, r.errorCode])).toEqual([
      ['u', KAFKA_ERRORS.INVALID_REQUEST],
      ['t', 0],
      ['missing', KAFKA_ERRORS.UNKNOWN_TOPIC_OR_PARTITION],
    ])
    expect(broker.topicConfig('t').partitions).toBe(1)
    expect(broker.topicConfig('u').partitions).toBe(1)
  })
})
