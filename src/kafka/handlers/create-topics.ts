import type { TopicOptions } from '../../client/spool.js'
import { isSpoolError } from '../../errors.js'
import { MAX_PARTITIONS } from '../../topics/topic-config.js'
import { checkTopicName } from '../../topics/topic-name.js'
import type { Broker } from '../broker.js'
import { KAFKA_ERRORS, kafkaErrorOf } from '../protocol/error-codes.js'
import type { Handler } from './handler.js'
import { type KafkaConfigEntry, topicOptionsOf } from './topic-configs.js'

/** numPartitions and replicationFactor -1: the broker's default (spool's defaults; one replica). */
const DEFAULT_FROM_BROKER = -1

interface CreatableTopic {
  name: string
  numPartitions: number
  replicationFactor: number
  assignments: Array<{ partitionIndex: number; brokerIds: number[] }>
  configs: KafkaConfigEntry[]
}

interface CreateTopicsRequest {
  topics: CreatableTopic[]
  timeoutMs: number
  /** v1+. */
  validateOnly?: boolean
}

export interface TopicResult {
  name: string
  errorCode: number
  /** v1+ (the encoder leaves it out of v0). */
  errorMessage: string | null
}

/**
 * CreateTopics, one topic at a time, each answered on its own (a refused topic does not
 * stop the others). A topic is checked whole before anything is written: its name, that
 * it does not exist, its partition count (-1: the spool's default), a replication factor
 * of 1 or -1 (there is one broker), a manual assignment only if it puts every partition
 * on this broker alone, and its configs (topic-configs.ts). validateOnly stops there.
 * timeoutMs is ignored: the create is finished, durably, when the answer goes out.
 * A name given twice in one request is refused (INVALID_REQUEST) and not created, as Kafka does.
 */
export const handleCreateTopics: Handler = async (request: CreateTopicsRequest, { broker }) => {
  const duplicated = duplicates(request.topics.map((topic) => topic.name))
  const topics: TopicResult[] = [...duplicated].map((name) =>
    refused(name, KAFKA_ERRORS.INVALID_REQUEST, `topic "${name}" appears more than once in the request; nothing was done for it`),
  )
  for (const topic of request.topics) {
    if (!duplicated.has(topic.name)) topics.push(await createTopic(broker, topic, request.validateOnly === true))
  }
  return { throttleTimeMs: 0, topics }
}

/** The names given more than once. */
export function duplicates(names: readonly string[]): Set<string> {
  const seen = new Set<string>()
  const twice = new Set<string>()
  for (const name of names) {
    if (seen.has(name)) twice.add(name)
    else seen.add(name)
  }
  return twice
}

export function refused(name: string, errorCode: number, errorMessage: string): TopicResult {
  return { name, errorCode, errorMessage }
}

async function createTopic(broker: Broker, topic: CreatableTopic, validateOnly: boolean): Promise<TopicResult> {
  const { name } = topic
  const planned = planTopic(broker, topic)
  if ('errorCode' in planned) return planned
  if (!validateOnly) {
    try {
      await broker.createTopic(name, planned)
    } catch (error) {
      return refused(name, adminErrorOf(error), error instanceof Error ? error.message : String(error))
    }
  }
  return { name, errorCode: KAFKA_ERRORS.NONE, errorMessage: null }
}

/** The topic options the request asks for, or why it is refused. */
function planTopic(broker: Broker, topic: CreatableTopic): TopicOptions | TopicResult {
  const { name, numPartitions, replicationFactor } = topic
  try {
    checkTopicName(name)
  } catch (error) {
    return refused(name, KAFKA_ERRORS.INVALID_TOPIC_EXCEPTION, (error as Error).message)
  }
  if (broker.hasTopic(name)) return refused(name, KAFKA_ERRORS.TOPIC_ALREADY_EXISTS, `topic "${name}" already exists`)
  const assignments = topic.assignments ?? []
  let partitions: number | undefined
  if (assignments.length > 0) {
    if (numPartitions !== DEFAULT_FROM_BROKER || replicationFactor !== DEFAULT_FROM_BROKER) {
      return refused(name, KAFKA_ERRORS.INVALID_REQUEST, 'numPartitions and replicationFactor must be -1 when assignments are given')
    }
    const problem = assignmentProblem(assignments, broker.nodeId)
    if (problem !== null) return refused(name, KAFKA_ERRORS.INVALID_REPLICA_ASSIGNMENT, problem)
    partitions = assignments.length
  } else {
    if (numPartitions !== DEFAULT_FROM_BROKER) partitions = numPartitions
    if (replicationFactor !== DEFAULT_FROM_BROKER && replicationFactor !== 1) {
      return refused(
        name,
        KAFKA_ERRORS.INVALID_REPLICATION_FACTOR,
        replicationFactor < 1
          ? `replication factor must be at least 1, or -1 for the default; ${replicationFactor} was given`
          : `replication factor ${replicationFactor} cannot be reached: spool is a single broker (use 1, or -1)`,
      )
    }
  }
  if (partitions !== undefined && (!Number.isSafeInteger(partitions) || partitions < 1 || partitions > MAX_PARTITIONS)) {
    return refused(name, KAFKA_ERRORS.INVALID_PARTITIONS, `numPartitions must be from 1 to ${MAX_PARTITIONS}, or -1 for the default; ${partitions} was given`)
  }
  try {
    const options = topicOptionsOf(topic.configs)
    return partitions === undefined ? options : { ...options, partitions }
  } catch (error) {
    if (!isSpoolError(error, 'INVALID_ARGUMENT')) throw error
    return refused(name, KAFKA_ERRORS.INVALID_CONFIG, error.message)
  }
}

/**
 * Why a manual assignment cannot be honoured by one broker, or null: Kafka's own rules
 * (partition indexes 0 to n-1, each once; each partition on at least one broker, none
 * twice), and every partition on this broker alone.
 */
export function assignmentProblem(assignments: ReadonlyArray<{ partitionIndex?: number; brokerIds: readonly number[] }>, nodeId: number): string | null {
  const indexes = new Set(assignments.map((a, i) => a.partitionIndex ?? i))
  for (let index = 0; index < assignments.length; index++) {
    if (!indexes.has(index)) return `partition indexes must run from 0 to ${assignments.length - 1}, each once`
  }
  for (const { brokerIds } of assignments) {
    if (brokerIds.length !== 1 || brokerIds[0] !== nodeId) {
      return `spool is a single broker (node ${nodeId}): every partition must be assigned to [${nodeId}] alone, not [${brokerIds.join(', ')}]`
    }
  }
  return null
}

/**
 * Kafka's code for a failed topic change: an invalid argument there is the partition
 * count (INVALID_PARTITIONS) or a config the request carried (INVALID_CONFIG).
 */
export function adminErrorOf(error: unknown): number {
  if (isSpoolError(error, 'INVALID_ARGUMENT') && error.details['field'] === 'partitions') return KAFKA_ERRORS.INVALID_PARTITIONS
  return kafkaErrorOf(error, { invalidArgument: KAFKA_ERRORS.INVALID_CONFIG })
}
