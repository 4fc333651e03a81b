import type { Spool } from '../../src/client/spool.js'
import type { Broker } from '../../src/kafka/broker.js'
import type { RequestContext } from '../../src/kafka/handlers/handler.js'
import { handleProduce } from '../../src/kafka/handlers/produce.js'
import { encodeBatch } from '../../src/record/batch-encoder.js'
import { type Step, acknowledge, newRecord } from './steps.js'

/** Kafka's limit for one batch here: far above what one sim record needs. */
const BATCH_LIMIT_BYTES = 1 << 20

const brokers = new WeakMap<Spool, Promise<Broker>>()

/**
 * A record produced as a Kafka client sends it: a batch encoded outside the engine, through
 * the listener's Produce handler with acks -1 (PartitionLog.appendBatch), not the
 * producer. Acknowledged records are then held to the same checks after every power cut.
 */
export const wireSend: Step = async (world) => {
  const topic = world.random.pick(world.model.usableTopics())
  const partition = world.random.int(topic.partitions.length)
  const record = newRecord(world, topic)
  topic.partitions[partition]!.sent.set(record.id, record)
  const label = `${topic.name}/${partition} #${record.id}`
  const { spool } = world.process
  let broker = brokers.get(spool)
  if (broker === undefined) brokers.set(spool, (broker = spool.kafkaBroker({ autoCreateTopics: false })))
  const context: RequestContext = {
    apiVersion: 8,
    clientId: 'sim',
    broker: await broker,
    advertised: { host: '127.0.0.1', port: 9092 },
    signal: new AbortController().signal,
    afterResponse: () => undefined,
  }
  const bytes = Buffer.from(encodeBatch([{ key: record.key, value: record.value, headers: record.headers }], world.loop.time.now, BATCH_LIMIT_BYTES).bytes)
  const request = { transactionalId: null, acks: -1, timeoutMs: 1000, topicData: [{ name: topic.name, partitionData: [{ index: partition, records: bytes }] }] }
  const answer = (await handleProduce(request, context)) as { responses: Array<{ partitionResponses: Array<{ errorCode: number; baseOffset: number; errorMessage: string | null }> }> }
  const { errorCode, baseOffset, errorMessage } = answer.responses[0]!.partitionResponses[0]!
  if (errorCode === 0) {
    acknowledge(world, topic, partition, baseOffset, record)
    return `wire send ${label}@${baseOffset}`
  }
  if (!world.model.faultyTopics.has(topic.name)) throw new Error(`wire send ${label} refused with Kafka error ${errorCode}: ${errorMessage}`)
  return `wire send ${label} refused (Kafka error ${errorCode})`
}
