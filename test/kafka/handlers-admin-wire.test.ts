import { afterEach, describe, expect, it } from 'vitest'
import type { Spool } from '../../src/client/spool.js'
import { APIS, API_KEYS, type ApiDefinition } from '../../src/kafka/apis/index.js'
import type { Broker } from '../../src/kafka/broker.js'
import { handleApiVersions, servedApiVersions } from '../../src/kafka/handlers/api-versions.js'
import { handleCreatePartitions } from '../../src/kafka/handlers/create-partitions.js'
import { handleCreateTopics } from '../../src/kafka/handlers/create-topics.js'
import { handleDeleteTopics } from '../../src/kafka/handlers/delete-topics.js'
import type { Handler } from '../../src/kafka/handlers/handler.js'
import { handleListOffsets } from '../../src/kafka/handlers/list-offsets.js'
import { handleMetadata } from '../../src/kafka/handlers/metadata.js'
import { KAFKA_ERRORS } from '../../src/kafka/protocol/error-codes.js'
import { decodeRequestBody, decodeRequestHeader, decodeResponse, encodeRequest, encodeResponse } from '../../src/kafka/protocol/frames.js'
import { openTestSpool } from '../helpers/open-spool.js'
import { tempDir } from '../helpers/temp-dir.js'

/*
 * The same handlers through the codec, at every version served: the request encoded as a
 * client would, decoded as the listener does, answered, and the answer encoded and read
 * back as the client reads it. Shows that the handlers' bodies fit each version's schema.
 */

const ADVERTISED = { host: 'localhost', port: 29092 }
const SIZE_PREFIX_BYTES = 4
const opened: Spool[] = []

afterEach(async () => {
  for (const spool of opened.splice(0)) await spool.close()
})

async function setUp(): Promise<{ spool: Spool; broker: Broker }> {
  const spool = await openTestSpool(tempDir())
  opened.push(spool)
  return { spool, broker: await spool.kafkaBroker({ autoCreateTopics: false }) }
}

function api(key: number): ApiDefinition {
  const found = APIS.get(key)
  if (found === undefined) throw new Error(`no API ${key}`)
  return found
}

function versions(definition: ApiDefinition): number[] {
  return Array.from({ length: definition.maxVersion - definition.minVersion + 1 }, (_, i) => definition.minVersion + i)
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
async function roundTrip(key: number, version: number, handler: Handler, broker: Broker, request: object): Promise<any> {
  const definition = api(key)
  const frame = Buffer.concat(encodeRequest(definition, version, { correlationId: 7, clientId: 'wire-test' }, request)).subarray(SIZE_PREFIX_BYTES)
  const { header, bodyOffset } = decodeRequestHeader(frame)
  const body = decodeRequestBody(definition, version, frame, bodyOffset)
  const answer = await handler(body, { apiVersion: version, clientId: header.clientId, broker, advertised: ADVERTISED, signal: new AbortController().signal, afterResponse: () => undefined })
  expect(answer).not.toBeNull()
  const response = Buffer.concat(encodeResponse(definition, version, header.correlationId, answer!)).subarray(SIZE_PREFIX_BYTES)
  const decoded = decodeResponse(definition, version, response)
  expect(decoded.correlationId).toBe(7)
  return decoded.body
}

describe('ApiVersions', () => {
  it('lists every API of the table with its advertised versions, at every version', async () => {
    const { broker } = await setUp()
    const expected = [...APIS.values()].map((a) => ({ apiKey: a.key, minVersion: a.advertisedMinVersion ?? a.minVersion, maxVersion: a.maxVersion })).sort((a, b) => a.apiKey - b.apiKey)
    expect(expected.find((a) => a.apiKey === API_KEYS.Produce)).toEqual({ apiKey: 0, minVersion: 0, maxVersion: 8 })
    expect(servedApiVersions()).toEqual(expected)
    expect(expected.find((a) => a.apiKey === API_KEYS.Metadata)).toEqual({ apiKey: 3, minVersion: 0, maxVersion: 8 })
    for (const version of versions(api(API_KEYS.ApiVersions))) {
      const body = await roundTrip(API_KEYS.ApiVersions, version, handleApiVersions, broker, { clientSoftwareName: 'librdkafka', clientSoftwareVersion: '2.3.0' })
      expect(body.errorCode, `v${version}`).toBe(0)
      expect(body.apiKeys).toEqual(expected)
      if (version >= 1) expect(body.throttleTimeMs).toBe(0)
      if (version >= 3) expect(body).toMatchObject({ supportedFeatures: [], finalizedFeaturesEpoch: -1, finalizedFeatures: [] })
    }
  })

  it('v3: a client software name Kafka would refuse gets INVALID_REQUEST', async () => {
    const { broker } = await setUp()
    const body = await roundTrip(API_KEYS.ApiVersions, 3, handleApiVersions, broker, { clientSoftwareName: 'bad name!', clientSoftwareVersion: '1.0' })
    expect(body).toMatchObject({ errorCode: KAFKA_ERRORS.INVALID_REQUEST, apiKeys: [] })
    const empty = await roundTrip(API_KEYS.ApiVersions, 3, handleApiVersions, broker, { clientSoftwareName: 'kcat', clientSoftwareVersion: '' })
    expect(empty.errorCode).toBe(KAFKA_ERRORS.INVALID_REQUEST)
  })
})

describe('the admin handlers through the codec, at every served version', () => {
  it('Metadata 0–8', async () => {
    const { spool, broker } = await setUp()
    await spool.createTopic('t', { partitions: 2 })
    for (const version of versions(api(API_KEYS.Metadata))) {
      const request = { topics: [{ name: 't' }, { name: 'missing' }], allowAutoTopicCreation: false, includeClusterAuthorizedOperations: true, includeTopicAuthorizedOperations: true }
      const body = await roundTrip(API_KEYS.Metadata, version, handleMetadata, broker, request)
      expect(body.brokers, `v${version}`).toMatchObject([{ nodeId: broker.nodeId, host: 'localhost', port: 29092 }])
      expect(body.topics.map((t: { name: string; errorCode: number }) => [t.name, t.errorCode])).toEqual([
        ['t', 0],
        ['missing', KAFKA_ERRORS.UNKNOWN_TOPIC_OR_PARTITION],
      ])
      expect(body.topics[0].partitions).toHaveLength(2)
      expect(body.topics[0].partitions[1]).toMatchObject({ partitionIndex: 1, leaderId: broker.nodeId, replicaNodes: [broker.nodeId], isrNodes: [broker.nodeId] })
      if (version >= 1) expect(body.controllerId).toBe(broker.nodeId)
      if (version >= 2) expect(body.clusterId).toBe(broker.clusterId)
      if (version >= 5) expect(body.topics[0].partitions[0].offlineReplicas).toEqual([])
      if (version >= 7) expect(body.topics[0].partitions[0].leaderEpoch).toBe((await broker.log('t', 0)).epoch)
      if (version >= 8) expect(body.clusterAuthorizedOperations).toBe(-2147483648)
    }
    // v0 asks for every topic with an empty list.
    expect((await roundTrip(API_KEYS.Metadata, 0, handleMetadata, broker, { topics: [] })).topics.map((t: { name: string }) => t.name)).toEqual(['t'])
  })

  it('ListOffsets 1–5', async () => {
    const { spool, broker } = await setUp()
    await spool.createTopic('t')
    const producer = spool.producer()
    const base = Date.now() - 10_000
    for (let i = 0; i < 3; i++) await producer.send({ topic: 't', partition: 0, value: 'x', timestamp: base + i })
    await producer.close()
    for (const version of versions(api(API_KEYS.ListOffsets))) {
      const request = {
        replicaId: -1,
        isolationLevel: 1,
        topics: [{ name: 't', partitions: [{ partitionIndex: 0, currentLeaderEpoch: -1, timestamp: base + 1 }, { partitionIndex: 1, currentLeaderEpoch: -1, timestamp: -1 }] }],
      }
      const body = await roundTrip(API_KEYS.ListOffsets, version, handleListOffsets, broker, request)
      const [found, missing] = body.topics[0].partitions
      expect(found, `v${version}`).toMatchObject({ partitionIndex: 0, errorCode: 0, offset: 1, timestamp: base + 1 })
      expect(missing).toMatchObject({ partitionIndex: 1, errorCode: KAFKA_ERRORS.UNKNOWN_TOPIC_OR_PARTITION, offset: -1 })
      if (version >= 4) expect(found.leaderEpoch).toBe((await broker.log('t', 0)).epoch)
    }
  })

  it('CreateTopics 0–4, DeleteTopics 0–3, CreatePartitions 0–1', async () => {
    const { broker } = await setUp()
    for (const version of versions(api(API_KEYS.CreateTopics))) {
      const name = `created-v${version}`
      const request = {
        topics: [
          { name, numPartitions: 2, replicationFactor: 1, assignments: [], configs: [{ name: 'retention.ms', value: '-1' }] },
          { name: `bad-v${version}`, numPartitions: 1, replicationFactor: 1, assignments: [], configs: [{ name: 'nope', value: 'x' }] },
        ],
        timeoutMs: 1000,
        validateOnly: false,
      }
      const body = await roundTrip(API_KEYS.CreateTopics, version, handleCreateTopics, broker, request)
      expect(body.topics[0], `v${version}`).toMatchObject({ name, errorCode: 0 })
      expect(body.topics[1]).toMatchObject({ errorCode: KAFKA_ERRORS.INVALID_CONFIG })
      // The message travels from v1 on.
      if (version >= 1) expect(body.topics[1].errorMessage).toMatch(/unknown topic config "nope"/)
      else expect(body.topics[1].errorMessage).toBeUndefined()
      expect(broker.topicConfig(name)).toMatchObject({ partitions: 2, retentionMs: null })
    }
    for (const version of versions(api(API_KEYS.CreatePartitions))) {
      const request = { topics: [{ name: `created-v${version}`, count: 3, assignments: null }], timeoutMs: 1000, validateOnly: false }
      const body = await roundTrip(API_KEYS.CreatePartitions, version, handleCreatePartitions, broker, request)
      expect(body.results, `v${version}`).toEqual([{ name: `created-v${version}`, errorCode: 0, errorMessage: null }])
      expect(broker.topicConfig(`created-v${version}`).partitions).toBe(3)
    }
    for (const version of versions(api(API_KEYS.DeleteTopics))) {
      const body = await roundTrip(API_KEYS.DeleteTopics, version, handleDeleteTopics, broker, { topicNames: [`created-v${version}`, 'missing'], timeoutMs: 1000 })
      expect(body.responses, `v${version}`).toEqual([
        { name: `created-v${version}`, errorCode: 0 },
        { name: 'missing', errorCode: KAFKA_ERRORS.UNKNOWN_TOPIC_OR_PARTITION },
      ])
    }
    expect(broker.topicNames()).toEqual(['created-v4'])
  })
})
