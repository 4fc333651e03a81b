/**
 * The codec against code nobody here wrote: kafkajs's own request encoders and response
 * decoders (node_modules/kafkajs/src/protocol/requests/<api>/v<N>/). Requests kafkajs
 * encodes must decode with spool's codec to the same values; responses spool encodes must
 * decode with kafkajs to the values spool meant — for every version both sides have.
 */
import { createRequire } from 'node:module'
import { describe, expect, it } from 'vitest'
import {
  API_VERSIONS, CREATE_PARTITIONS, CREATE_TOPICS, DELETE_TOPICS, FETCH, INIT_PRODUCER_ID, LIST_OFFSETS, METADATA, PRODUCE,
  type ApiDefinition,
} from '../../src/kafka/apis/index.js'
import { decodeRequestBody, decodeRequestHeader, encodeResponse } from '../../src/kafka/protocol/frames.js'
import { readBatchHeader, decodeRecords } from '../../src/record/batch-decoder.js'
import { encodeBatch } from '../../src/record/batch-encoder.js'
import type { StoredRecord } from '../../src/record/types.js'
import { KAFKA_ERRORS } from '../../src/kafka/protocol/error-codes.js'

const require = createRequire(import.meta.url)
const kafkajsRequestFrame = require('kafkajs/src/protocol/request.js') as (args: { correlationId: number; clientId: string; request: unknown }) => Promise<{ buffer: Buffer }>

interface KafkajsVersion {
  request: (args: object) => { apiKey: number; apiVersion: number }
  response: { decode: (body: Buffer) => Promise<Record<string, unknown>> }
}

function kafkajs(api: string, version: number): KafkajsVersion {
  return {
    request: require(`kafkajs/src/protocol/requests/${api}/v${version}/request.js`),
    response: require(`kafkajs/src/protocol/requests/${api}/v${version}/response.js`),
  }
}

function range(min: number, max: number): number[] {
  return Array.from({ length: max - min + 1 }, (_, i) => min + i)
}

/** kafkajs encodes a request frame; spool decodes it. */
async function decodeKafkajsRequest(api: ApiDefinition, kafkajsApi: string, version: number, args: object): Promise<any> {
  const request = kafkajs(kafkajsApi, version).request(args)
  expect(request).toMatchObject({ apiKey: api.key, apiVersion: version })
  const whole = (await kafkajsRequestFrame({ correlationId: 1234, clientId: 'kafkajs-oracle', request })).buffer
  expect(whole.readInt32BE(0)).toBe(whole.length - 4)
  const frame = whole.subarray(4)
  const { header, bodyOffset } = decodeRequestHeader(frame)
  expect(header).toEqual({ apiKey: api.key, apiVersion: version, correlationId: 1234, clientId: 'kafkajs-oracle' })
  return decodeRequestBody(api, version, frame, bodyOffset)
}

/** spool encodes a response frame; kafkajs decodes its body (after size and correlation id, as kafkajs's connection does). */
async function decodeWithKafkajs(api: ApiDefinition, kafkajsApi: string, version: number, body: object): Promise<any> {
  const whole = Buffer.concat(encodeResponse(api, version, 4321, body))
  expect(whole.readInt32BE(0)).toBe(whole.length - 4)
  expect(whole.readInt32BE(4)).toBe(4321)
  return kafkajs(kafkajsApi, version).response.decode(whole.subarray(8))
}

function recordsOf(batch: Buffer): StoredRecord[] {
  const out: StoredRecord[] = []
  decodeRecords(batch, 0, readBatchHeader(batch, 0), 0, out)
  return out
}

describe('ApiVersions (kafkajs v0–2)', () => {
  for (const version of range(0, 2)) {
    it(`v${version}`, async () => {
      expect(await decodeKafkajsRequest(API_VERSIONS, 'apiVersions', version, {})).toEqual({})
      const apiKeys = [{ apiKey: 0, minVersion: 3, maxVersion: 8 }, { apiKey: 18, minVersion: 0, maxVersion: 3 }]
      const decoded = await decodeWithKafkajs(API_VERSIONS, 'apiVersions', version, { errorCode: 0, apiKeys, throttleTimeMs: 7 })
      expect(decoded).toMatchObject({ errorCode: 0, apiVersions: apiKeys })
      if (version >= 1) expect(decoded.throttleTime + (decoded.clientSideThrottleTime ?? 0)).toBe(7)
    })
  }
})

describe('Metadata (kafkajs v0–6)', () => {
  for (const version of range(0, 6)) {
    it(`v${version}`, async () => {
      const request = await decodeKafkajsRequest(METADATA, 'metadata', version, { topics: ['orders', 'payments'], allowAutoTopicCreation: false })
      expect(request.topics).toEqual([{ name: 'orders' }, { name: 'payments' }])
      if (version >= 4) expect(request.allowAutoTopicCreation).toBe(false)

      const body = {
        throttleTimeMs: 0,
        brokers: [{ nodeId: 0, host: '127.0.0.1', port: 9092, rack: null }],
        clusterId: 'AAAAAAAAAAAAAAAAAAAAAA',
        controllerId: 0,
        topics: [{
          errorCode: 0, name: 'orders', isInternal: false,
          partitions: [0, 1].map((p) => ({ errorCode: 0, partitionIndex: p, leaderId: 0, replicaNodes: [0], isrNodes: [0], offlineReplicas: [] })),
        }, { errorCode: 3, name: 'payments', partitions: [] }],
      }
      const decoded = await decodeWithKafkajs(METADATA, 'metadata', version, body)
      expect(decoded.brokers).toEqual([expect.objectContaining({ nodeId: 0, host: '127.0.0.1', port: 9092 })])
      expect(decoded.topicMetadata).toMatchObject([
        { topicErrorCode: 0, topic: 'orders', partitionMetadata: [{ partitionErrorCode: 0, partitionId: 0, leader: 0, replicas: [0], isr: [0] }, { partitionId: 1 }] },
        { topicErrorCode: 3, topic: 'payments', partitionMetadata: [] },
      ])
      if (version >= 2) expect(decoded.clusterId).toBe('AAAAAAAAAAAAAAAAAAAAAA')
      if (version >= 1) expect(decoded.controllerId).toBe(0)
    })
  }
})

describe('Produce (kafkajs v3–7)', () => {
  for (const version of range(3, 7)) {
    it(`v${version}`, async () => {
      const messages = [{ key: 'k1', value: 'hello', timestamp: 1_700_000_000_000 }, { key: null, value: 'world', timestamp: 1_700_000_000_005 }]
      const request = await decodeKafkajsRequest(PRODUCE, 'produce', version, {
        acks: -1, timeout: 30_000, topicData: [{ topic: 'orders', partitions: [{ partition: 2, messages }] }],
      })
      expect(request).toMatchObject({ transactionalId: null, acks: -1, timeoutMs: 30_000 })
      expect(request.topicData).toHaveLength(1)
      expect(request.topicData[0].name).toBe('orders')
      const partition = request.topicData[0].partitionData[0]
      expect(partition.index).toBe(2)
      // The records field is kafkajs's whole record batch, readable by spool's batch decoder.
      const records = recordsOf(partition.records)
      expect(records.map((r) => [r.key?.toString() ?? null, r.value?.toString(), r.timestamp])).toEqual([
        ['k1', 'hello', 1_700_000_000_000],
        [null, 'world', 1_700_000_000_005],
      ])

      const decoded = await decodeWithKafkajs(PRODUCE, 'produce', version, {
        responses: [{ name: 'orders', partitionResponses: [{ index: 2, errorCode: 0, baseOffset: 41, logAppendTimeMs: -1, logStartOffset: 3 }] }],
        throttleTimeMs: 0,
      })
      expect(decoded.topics).toEqual([{ topicName: 'orders', partitions: [expect.objectContaining({ partition: 2, errorCode: 0, baseOffset: '41', logAppendTime: '-1' })] }])
      if (version >= 5) expect(decoded.topics[0].partitions[0].logStartOffset).toBe('3')
    })
  }
})

describe('Fetch (kafkajs v4–11)', () => {
  for (const version of range(4, 11)) {
    it(`v${version}`, async () => {
      const request = await decodeKafkajsRequest(FETCH, 'fetch', version, {
        replicaId: -1, maxWaitTime: 500, minBytes: 1, maxBytes: 1_048_576, isolationLevel: 0, rackId: 'rack-a',
        topics: [{ topic: 'orders', partitions: [{ partition: 1, fetchOffset: '12345678901', maxBytes: 65536 }] }],
      })
      expect(request).toMatchObject({ replicaId: -1, maxWaitMs: 500, minBytes: 1, maxBytes: 1_048_576, isolationLevel: 0 })
      expect(request.topics).toEqual([{ topic: 'orders', partitions: [expect.objectContaining({ partition: 1, fetchOffset: 12345678901, partitionMaxBytes: 65536 })] }])
      if (version >= 7) expect(request).toMatchObject({ sessionId: 0, sessionEpoch: -1, forgottenTopicsData: [] })
      if (version >= 11) expect(request.rackId).toBe('rack-a')

      // Stored batches, sent as two chunks: kafkajs must read both batches' records.
      const first = encodeBatch([{ key: Buffer.from('a'), value: Buffer.from('one'), timestamp: 1000 }], 1000, 1 << 20).bytes
      const second = encodeBatch([{ key: Buffer.from('b'), value: Buffer.from('two'), timestamp: 2000 }], 2000, 1 << 20).bytes
      second.writeBigInt64BE(1n, 0) // base offset 1
      // the CRC covers attributes onward, so the base offset may change without restamping
      const decoded = await decodeWithKafkajs(FETCH, 'fetch', version, {
        throttleTimeMs: 0, errorCode: 0, sessionId: 0,
        responses: [{ topic: 'orders', partitions: [{ partitionIndex: 1, errorCode: 0, highWatermark: 2, lastStableOffset: 2, logStartOffset: 0, abortedTransactions: [], records: [first, second] }] }],
      })
      const partition = decoded.responses[0].partitions[0]
      expect(decoded.responses[0].topicName).toBe('orders')
      expect(partition).toMatchObject({ partition: 1, errorCode: 0, highWatermark: '2', lastStableOffset: '2' })
      expect(partition.messages.map((m: { offset: string; key: Buffer; value: Buffer }) => [m.offset, m.key.toString(), m.value.toString()])).toEqual([
        ['0', 'a', 'one'],
        ['1', 'b', 'two'],
      ])
    })
  }
})

describe('ListOffsets (kafkajs v1–3)', () => {
  for (const version of range(1, 3)) {
    it(`v${version}`, async () => {
      const request = await decodeKafkajsRequest(LIST_OFFSETS, 'listOffsets', version, {
        replicaId: -1, isolationLevel: 1, topics: [{ topic: 'orders', partitions: [{ partition: 0, timestamp: -2 }, { partition: 1, timestamp: 1_700_000_000_000 }] }],
      })
      expect(request.replicaId).toBe(-1)
      if (version >= 2) expect(request.isolationLevel).toBe(1)
      expect(request.topics).toEqual([{ name: 'orders', partitions: [{ partitionIndex: 0, timestamp: -2 }, { partitionIndex: 1, timestamp: 1_700_000_000_000 }] }])

      const decoded = await decodeWithKafkajs(LIST_OFFSETS, 'listOffsets', version, {
        topics: [{ name: 'orders', partitions: [{ partitionIndex: 0, errorCode: 0, timestamp: -1, offset: 17 }] }],
      })
      expect(decoded.responses).toEqual([{ topic: 'orders', partitions: [expect.objectContaining({ partition: 0, errorCode: 0, timestamp: '-1', offset: '17' })] }])
    })
  }
})

describe('CreateTopics (kafkajs v0–3)', () => {
  for (const version of range(0, 3)) {
    it(`v${version}`, async () => {
      const request = await decodeKafkajsRequest(CREATE_TOPICS, 'createTopics', version, {
        topics: [{ topic: 'orders', numPartitions: 3, replicationFactor: 1, configEntries: [{ name: 'retention.ms', value: '60000' }] },
          { topic: 'manual', replicaAssignment: [{ partition: 0, replicas: [0] }] }],
        validateOnly: true, timeout: 5000,
      })
      expect(request.topics).toEqual([
        { name: 'orders', numPartitions: 3, replicationFactor: 1, assignments: [], configs: [{ name: 'retention.ms', value: '60000' }] },
        { name: 'manual', numPartitions: -1, replicationFactor: -1, assignments: [{ partitionIndex: 0, brokerIds: [0] }], configs: [] },
      ])
      expect(request.timeoutMs).toBe(5000)
      if (version >= 1) expect(request.validateOnly).toBe(true)

      const decoded = await decodeWithKafkajs(CREATE_TOPICS, 'createTopics', version, {
        topics: [{ name: 'orders', errorCode: 0 }, { name: 'manual', errorCode: 36, errorMessage: 'exists' }],
      })
      // kafkajs sorts the results by topic name.
      expect(decoded.topicErrors).toEqual([
        expect.objectContaining({ topic: 'manual', errorCode: 36, ...(version >= 1 ? { errorMessage: 'exists' } : {}) }),
        expect.objectContaining({ topic: 'orders', errorCode: 0 }),
      ])
    })
  }
})

describe('DeleteTopics (kafkajs v0–1)', () => {
  for (const version of range(0, 1)) {
    it(`v${version}`, async () => {
      const request = await decodeKafkajsRequest(DELETE_TOPICS, 'deleteTopics', version, { topics: ['a', 'b'], timeout: 3000 })
      expect(request).toEqual({ topicNames: ['a', 'b'], timeoutMs: 3000 })
      const decoded = await decodeWithKafkajs(DELETE_TOPICS, 'deleteTopics', version, { responses: [{ name: 'a', errorCode: 0 }, { name: 'b', errorCode: 3 }] })
      expect(decoded.topicErrors).toEqual([{ topic: 'a', errorCode: 0 }, { topic: 'b', errorCode: 3 }])
    })
  }
})

describe('CreatePartitions (kafkajs v0–1)', () => {
  for (const version of range(0, 1)) {
    it(`v${version}`, async () => {
      const request = await decodeKafkajsRequest(CREATE_PARTITIONS, 'createPartitions', version, {
        topicPartitions: [{ topic: 'orders', count: 6 }, { topic: 'placed', count: 2, assignments: [[0], [0]] }], validateOnly: false, timeout: 2000,
      })
      // kafkajs sends "no assignments" as a null array, which the schema allows.
      expect(request).toEqual({
        topics: [{ name: 'orders', count: 6, assignments: null }, { name: 'placed', count: 2, assignments: [{ brokerIds: [0] }, { brokerIds: [0] }] }],
        timeoutMs: 2000, validateOnly: false,
      })
      const decoded = await decodeWithKafkajs(CREATE_PARTITIONS, 'createPartitions', version, { results: [{ name: 'orders', errorCode: 37, errorMessage: 'bad count' }] })
      expect(decoded.topicErrors).toEqual([expect.objectContaining({ topic: 'orders', errorCode: 37, errorMessage: 'bad count' })])
    })
  }
})

describe('InitProducerId (kafkajs v0–1)', () => {
  for (const version of range(0, 1)) {
    it(`v${version}`, async () => {
      const request = await decodeKafkajsRequest(INIT_PRODUCER_ID, 'initProducerId', version, { transactionalId: null, transactionTimeout: 60_000 })
      expect(request).toEqual({ transactionalId: null, transactionTimeoutMs: 60_000 })
      const decoded = await decodeWithKafkajs(INIT_PRODUCER_ID, 'initProducerId', version, { errorCode: 0, producerId: 9_007_199_254_740_000, producerEpoch: 3 })
      expect(decoded).toMatchObject({ errorCode: 0, producerId: '9007199254740000', producerEpoch: 3 })
    })
  }
})

describe('error codes', () => {
  it('agree with kafkajs on every name both know', () => {
    const { errorCodes } = require('kafkajs/src/protocol/error.js') as { errorCodes: Array<{ type: string; code: number }> }
    const ours = KAFKA_ERRORS as Record<string, number>
    const shared = errorCodes.filter((e) => ours[e.type] !== undefined)
    expect(shared.length).toBeGreaterThan(75)
    for (const { type, code } of shared) expect(ours[type], type).toBe(code)
    // Names kafkajs spells differently still carry the same code.
    const byCode = new Map(errorCodes.map((e) => [e.code, e.type]))
    for (const [name, code] of Object.entries(ours)) if (code >= 1 && code <= 88) expect(byCode.has(code), name).toBe(true)
  })
})
