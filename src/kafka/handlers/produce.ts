import { isSpoolError } from '../../errors.js'
import type { PartitionLog } from '../../storage/partition-log.js'
import { KAFKA_ERRORS, kafkaErrorOf } from '../protocol/error-codes.js'
import type { Handler, RequestContext } from './handler.js'

interface ProducePartition {
  index: number
  records: Buffer | null
}

interface ProduceTopic {
  name: string
  partitionData: ProducePartition[]
}

interface ProducePartitionResponse {
  index: number
  errorCode: number
  baseOffset: number
  logAppendTimeMs: number
  logStartOffset: number
  errorMessage: string | null
}

/** Kafka's acks: 0 (no answer), 1 (the leader has it), -1 (all in-sync replicas have it: here, the one). */
const VALID_ACKS = new Set([0, 1, -1])

/**
 * Produce: each partition's batch is checked and stored as it is (PartitionLog.appendBatch),
 * and answered once the topic's flush policy made it durable — for acks 1 and -1 alike,
 * since this broker is the only replica. With acks 0 nothing is answered; failures are
 * logged, as the client asked to hear nothing.
 */
export const handleProduce: Handler = async (request: { acks: number; transactionalId?: string | null; topicData: ProduceTopic[] }, context) => {
  const responses = await produceAll(request, context)
  if (request.acks !== 0) return { responses }
  // acks 0: the client reads no answer, whatever happened (one would be taken for the next request's).
  for (const topic of responses) {
    for (const partition of topic.partitionResponses) {
      if (partition.errorCode !== KAFKA_ERRORS.NONE) context.broker.logger.warn(`produce (acks 0) to ${topic.name}/${partition.index} failed: ${partition.errorMessage}`)
    }
  }
  return null
}

async function produceAll(
  { acks, transactionalId, topicData }: { acks: number; transactionalId?: string | null; topicData: ProduceTopic[] },
  context: RequestContext,
): Promise<Array<{ name: string; partitionResponses: ProducePartitionResponse[] }>> {
  if (!VALID_ACKS.has(acks)) return topicData.map((topic) => answerAll(topic, KAFKA_ERRORS.INVALID_REQUIRED_ACKS, `acks must be 0, 1 or -1, not ${acks}`))
  if (transactionalId !== undefined && transactionalId !== null) {
    return topicData.map((topic) => answerAll(topic, KAFKA_ERRORS.INVALID_RECORD, 'spool has no transactions yet; produce without a transactional id'))
  }
  return Promise.all(
    topicData.map(async (topic) => ({
      name: topic.name,
      partitionResponses: await Promise.all(topic.partitionData.map((partition) => producePartition(topic.name, partition, context))),
    })),
  )
}

async function producePartition(topic: string, partition: ProducePartition, context: RequestContext): Promise<ProducePartitionResponse> {
  const { broker } = context
  let log: PartitionLog | null = null
  try {
    log = await broker.log(topic, partition.index)
    if (partition.records === null || partition.records.length === 0) {
      return answer(partition.index, KAFKA_ERRORS.INVALID_RECORD, 'the partition had no record batch')
    }
    const { maxRecordBytes } = broker.topicConfig(topic)
    const result = await log.appendBatch(partition.records, { maxRecordBytes })
    return {
      index: partition.index,
      errorCode: KAFKA_ERRORS.NONE,
      baseOffset: result.baseOffset,
      logAppendTimeMs: result.logAppendTime ?? -1, // set only on a topic of log-append time
      logStartOffset: log.startOffset,
      errorMessage: null,
    }
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error)
    if (!isSpoolError(error)) broker.logger.warn(`produce to ${topic}/${partition.index} failed: ${message}`)
    return { ...answer(partition.index, kafkaErrorOf(error), message), logStartOffset: log === null ? -1 : log.startOffset }
  }
}

function answer(index: number, errorCode: number, errorMessage: string | null): ProducePartitionResponse {
  return { index, errorCode, baseOffset: -1, logAppendTimeMs: -1, logStartOffset: -1, errorMessage }
}

function answerAll(topic: ProduceTopic, errorCode: number, message: string): { name: string; partitionResponses: ProducePartitionResponse[] } {
  return { name: topic.name, partitionResponses: topic.partitionData.map((partition) => answer(partition.index, errorCode, message)) }
}
