import { afterEach, describe, expect, it } from 'vitest'
import type { Spool } from '../../src/client/spool.js'
import type { Broker } from '../../src/kafka/broker.js'
import { handleFetch } from '../../src/kafka/handlers/fetch.js'
import type { Handler, RequestContext } from '../../src/kafka/handlers/handler.js'
import { handleInitProducerId } from '../../src/kafka/handlers/init-producer-id.js'
import { handleProduce } from '../../src/kafka/handlers/produce.js'
import { KAFKA_ERRORS } from '../../src/kafka/protocol/error-codes.js'
import { readBatchHeader } from '../../src/record/batch-decoder.js'
import { encodeBatch } from '../../src/record/batch-encoder.js'
import { OFFSET_BASE_OFFSET } from '../../src/record/batch-format.js'
import { readInt64 } from '../../src/record/int64.js'
import { batchOf } from '../helpers/records.js'
import { openTestSpool } from '../helpers/open-spool.js'
import { tempDir } from '../helpers/temp-dir.js'

/*
 * Produce, Fetch and InitProducerId called with decoded request bodies against a real
 * spool through its broker: the data path of the Kafka listener without the network.
 */

const opened: Spool[] = []
afterEach(async () => {
  for (const spool of opened.splice(0)) await spool.close()
})

/** Longer than any test runs: a fetch that answers was woken by an append, not its timer. */
const FOREVER_MS = 2 ** 31 - 1

async function setUp(partitions = 1): Promise<{ spool: Spool; broker: Broker }> {
  const spool = await openTestSpool(tempDir())
  opened.push(spool)
  await spool.createTopic('t', { partitions })
  return { spool, broker: await spool.kafkaBroker({ autoCreateTopics: false }) }
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
function call(handler: Handler, broker: Broker, apiVersion: number, request: object, signal = new AbortController().signal): Promise<any> {
  const context: RequestContext = { apiVersion, clientId: 'test', broker, advertised: { host: '127.0.0.1', port: 9092 }, signal, afterResponse: () => undefined }
  return handler(request, context)
}

function batch(first: number, count: number): Buffer {
  return Buffer.from(encodeBatch(batchOf(first, count), Date.now(), 1 << 20).bytes)
}

function produce(broker: Broker, records: Buffer | null, { acks = -1, partition = 0, topic = 't' } = {}): Promise<any> {
  return call(handleProduce, broker, 8, { transactionalId: null, acks, timeoutMs: 1000, topicData: [{ name: topic, partitionData: [{ index: partition, records }] }] })
}

function fetchRequest(partitions: Array<{ partition?: number; fetchOffset: number; partitionMaxBytes?: number; currentLeaderEpoch?: number }>, over: object = {}): object {
  return {
    replicaId: -1,
    maxWaitMs: 0,
    minBytes: 1,
    maxBytes: 1 << 20,
    isolationLevel: 0,
    sessionId: 0,
    sessionEpoch: -1,
    topics: [{ topic: 't', partitions: partitions.map((p) => ({ partition: 0, partitionMaxBytes: 1 << 20, currentLeaderEpoch: -1, logStartOffset: -1, ...p })) }],
    forgottenTopicsData: [],
    rackId: '',
    ...over,
  }
}

function baseOffsetsOf(records: Buffer[]): number[] {
  return records.map((chunk) => readInt64(chunk, OFFSET_BASE_OFFSET))
}

describe('Produce', () => {
  it('stores the batch and answers with its base offset and the log start', async () => {
    const { broker } = await setUp()
    const first = await produce(broker, batch(0, 3))
    expect(first.responses[0].partitionResponses[0]).toMatchObject({ index: 0, errorCode: 0, baseOffset: 0, logStartOffset: 0, logAppendTimeMs: -1 })
    const second = await produce(broker, batch(3, 2), { acks: 1 })
    expect(second.responses[0].partitionResponses[0]).toMatchObject({ errorCode: 0, baseOffset: 3 })
    expect((await broker.log('t', 0)).endOffset).toBe(5)
  })

  it('acks 0: stores the batch and answers nothing', async () => {
    const { broker } = await setUp()
    expect(await produce(broker, batch(0, 2), { acks: 0 })).toBeNull()
    expect((await broker.log('t', 0)).endOffset).toBe(2)
  })

  it('answers each failure with Kafka’s code per partition, storing nothing', async () => {
    const { broker } = await setUp()
    const damaged = batch(0, 2)
    damaged[damaged.length - 1]! ^= 1
    const codeOf = async (records: Buffer | null, options = {}): Promise<number> => (await produce(broker, records, options)).responses[0].partitionResponses[0].errorCode
    expect(await codeOf(damaged)).toBe(KAFKA_ERRORS.CORRUPT_MESSAGE)
    expect(await codeOf(Buffer.concat([batch(0, 1), batch(1, 1)]))).toBe(KAFKA_ERRORS.INVALID_RECORD)
    expect(await codeOf(null)).toBe(KAFKA_ERRORS.INVALID_RECORD)
    expect(await codeOf(batch(0, 1), { partition: 5 })).toBe(KAFKA_ERRORS.UNKNOWN_TOPIC_OR_PARTITION)
    expect(await codeOf(batch(0, 1), { topic: 'nope' })).toBe(KAFKA_ERRORS.UNKNOWN_TOPIC_OR_PARTITION)
    expect(await codeOf(batch(0, 1), { acks: 2 })).toBe(KAFKA_ERRORS.INVALID_REQUIRED_ACKS)
    const big = Buffer.from(encodeBatch([{ key: null, value: Buffer.alloc(2 << 20) }], Date.now(), 4 << 20).bytes)
    expect(await codeOf(big)).toBe(KAFKA_ERRORS.MESSAGE_TOO_LARGE)
    expect((await broker.log('t', 0)).endOffset).toBe(0)
  })

  it('an idempotent producer from InitProducerId: a batch sent twice is stored once', async () => {
    const { broker } = await setUp()
    const init = await call(handleInitProducerId, broker, 1, { transactionalId: null, transactionTimeoutMs: 60000 })
    expect(init).toMatchObject({ errorCode: 0, producerEpoch: 0 })
    const other = await call(handleInitProducerId, broker, 1, { transactionalId: null, transactionTimeoutMs: 60000 })
    expect(other.producerId).not.toBe(init.producerId)
    const identity = { producerId: init.producerId, producerEpoch: 0, baseSequence: 0 }
    const bytes = Buffer.from(encodeBatch(batchOf(0, 3), Date.now(), 1 << 20, Buffer.allocUnsafe, identity).bytes)
    expect((await produce(broker, Buffer.from(bytes))).responses[0].partitionResponses[0]).toMatchObject({ errorCode: 0, baseOffset: 0 })
    expect((await produce(broker, Buffer.from(bytes))).responses[0].partitionResponses[0]).toMatchObject({ errorCode: 0, baseOffset: 0 })
    expect((await broker.log('t', 0)).endOffset).toBe(3)
    const transactional = await call(handleInitProducerId, broker, 1, { transactionalId: 'tx', transactionTimeoutMs: 60000 })
    expect(transactional.errorCode).not.toBe(0)
  })
})

describe('Fetch', () => {
  it('sends the stored batches as they are, from the batch holding the offset, with the high watermark and log start', async () => {
    const { broker } = await setUp()
    const sent = [batch(0, 3), batch(3, 3)]
    for (const bytes of sent) await produce(broker, Buffer.from(bytes))
    const log = await broker.log('t', 0)
    const stored = (await log.readBatchBytes(0, 1 << 20)).chunks
    const answer = await call(handleFetch, broker, 11, fetchRequest([{ fetchOffset: 4 }]))
    const [partition] = answer.responses[0].partitions
    expect(partition).toMatchObject({ partitionIndex: 0, errorCode: 0, highWatermark: 6, lastStableOffset: 6, logStartOffset: 0, preferredReadReplica: -1 })
    expect(Buffer.concat(partition.records)).toEqual(stored[1])
    expect(answer.sessionId).toBe(0)
  })

  it('keeps to partitionMaxBytes and maxBytes, with at least one whole batch first (KIP-74)', async () => {
    const { broker } = await setUp(2)
    for (let i = 0; i < 4; i++) await produce(broker, batch(i * 2, 2))
    for (let i = 0; i < 4; i++) await produce(broker, batch(i * 2, 2), { partition: 1 })
    const size = readBatchHeader(batch(0, 2), 0).sizeBytes
    const tiny = await call(handleFetch, broker, 11, fetchRequest([{ fetchOffset: 0, partitionMaxBytes: 1 }, { partition: 1, fetchOffset: 0, partitionMaxBytes: 1 }], { maxBytes: 1 }))
    const [first, second] = tiny.responses[0].partitions
    expect(baseOffsetsOf(first.records)).toEqual([0])
    expect(second.records).toEqual([])
    const two = await call(handleFetch, broker, 11, fetchRequest([{ fetchOffset: 0, partitionMaxBytes: 2 * size }, { partition: 1, fetchOffset: 2, partitionMaxBytes: 1 << 20 }], { maxBytes: 3 * size }))
    expect(baseOffsetsOf(two.responses[0].partitions[0].records)).toEqual([0, 2])
    expect(baseOffsetsOf(two.responses[0].partitions[1].records)).toEqual([2])
  })

  it('OFFSET_OUT_OF_RANGE past the end; UNKNOWN_TOPIC_OR_PARTITION; FENCED_LEADER_EPOCH for an older epoch', async () => {
    const { broker } = await setUp()
    await produce(broker, batch(0, 2))
    const codeOf = async (partition: object, over: object = {}): Promise<number> =>
      (await call(handleFetch, broker, 11, fetchRequest([partition as never], over))).responses[0].partitions[0].errorCode
    expect(await codeOf({ fetchOffset: 3 })).toBe(KAFKA_ERRORS.OFFSET_OUT_OF_RANGE)
    expect(await codeOf({ fetchOffset: 0, partition: 4 })).toBe(KAFKA_ERRORS.UNKNOWN_TOPIC_OR_PARTITION)
    const epoch = (await broker.log('t', 0)).epoch
    expect(await codeOf({ fetchOffset: 0, currentLeaderEpoch: epoch })).toBe(0)
    expect(await codeOf({ fetchOffset: 0, currentLeaderEpoch: epoch + 1 })).toBe(KAFKA_ERRORS.UNKNOWN_LEADER_EPOCH)
    if (epoch > 0) expect(await codeOf({ fetchOffset: 0, currentLeaderEpoch: epoch - 1 })).toBe(KAFKA_ERRORS.FENCED_LEADER_EPOCH)
    const session = await call(handleFetch, broker, 11, fetchRequest([{ fetchOffset: 0 }], { sessionId: 42, sessionEpoch: 1 }))
    expect(session.errorCode).toBe(KAFKA_ERRORS.FETCH_SESSION_ID_NOT_FOUND)
  })

  it('a long poll at the end is woken by the append itself, not by its timer', async () => {
    const { broker, spool } = await setUp()
    const waiting = call(handleFetch, broker, 11, fetchRequest([{ fetchOffset: 0 }], { maxWaitMs: FOREVER_MS }))
    const producer = spool.producer()
    await producer.send({ topic: 't', key: 'k', value: 'woke it' })
    const answer = await waiting
    expect(baseOffsetsOf(answer.responses[0].partitions[0].records)).toEqual([0])
    await producer.close()
  })

  it('waits for minBytes across appends, and answers with what there is when maxWaitMs passes', async () => {
    const { broker } = await setUp()
    const size = readBatchHeader(batch(0, 1), 0).sizeBytes
    const waiting = call(handleFetch, broker, 11, fetchRequest([{ fetchOffset: 0 }], { maxWaitMs: FOREVER_MS, minBytes: 2 * size + 1 }))
    let settled = false
    void waiting.then(() => (settled = true))
    await produce(broker, batch(0, 1))
    await produce(broker, batch(1, 1))
    await new Promise((resolve) => setTimeout(resolve, 20))
    expect(settled).toBe(false)
    await produce(broker, batch(2, 1))
    expect(baseOffsetsOf((await waiting).responses[0].partitions[0].records)).toEqual([0, 1, 2])
    const timedOut = await call(handleFetch, broker, 11, fetchRequest([{ fetchOffset: 3 }], { maxWaitMs: 10, minBytes: 1 }))
    expect(timedOut.responses[0].partitions[0]).toMatchObject({ errorCode: 0, records: [], highWatermark: 3 })
  })

  it('a long poll on a topic that is deleted is answered at the delete, and the next fetch hears UNKNOWN_TOPIC_OR_PARTITION', { timeout: 60_000 }, async () => {
    const { broker, spool } = await setUp()
    // Deleted once the fetch waits on the log (subscribed), not before it found the topic.
    const log = await broker.log('t', 0)
    const subscribe = log.onAppend.bind(log)
    const subscribed = new Promise<void>((resolve) => {
      log.onAppend = (listener, onClose) => {
        resolve()
        return subscribe(listener, onClose)
      }
    })
    const waiting = call(handleFetch, broker, 11, fetchRequest([{ fetchOffset: 0 }], { maxWaitMs: FOREVER_MS }))
    await subscribed
    await spool.deleteTopic('t')
    expect((await waiting).responses[0].partitions[0]).toMatchObject({ errorCode: 0, records: [] })
    const after = await call(handleFetch, broker, 11, fetchRequest([{ fetchOffset: 0 }]))
    expect(after.responses[0].partitions[0].errorCode).toBe(KAFKA_ERRORS.UNKNOWN_TOPIC_OR_PARTITION)
  })

  it('answers at once when the listener closes', async () => {
    const { broker } = await setUp()
    const closing = new AbortController()
    const waiting = call(handleFetch, broker, 11, fetchRequest([{ fetchOffset: 0 }], { maxWaitMs: FOREVER_MS }), closing.signal)
    closing.abort()
    expect((await waiting).responses[0].partitions[0].records).toEqual([])
  })
})

describe('Produce with acks 0', () => {
  it('answers nothing even when it refuses the request (found by the fuzz)', async () => {
    const { broker } = await setUp()
    const transactional = { transactionalId: 'tx', acks: 0, timeoutMs: 1000, topicData: [{ name: 't', partitionData: [{ index: 0, records: batch(0, 1) }] }] }
    expect(await call(handleProduce, broker, 8, transactional)).toBeNull()
    expect(await produce(broker, batch(0, 1), { acks: 0, topic: 'nope' })).toBeNull()
    expect((await broker.log('t', 0)).endOffset).toBe(0)
  })
})
