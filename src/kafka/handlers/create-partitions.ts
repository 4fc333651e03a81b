import { MAX_PARTITIONS } from '../../topics/topic-config.js'
import type { Broker } from '../broker.js'
import { KAFKA_ERRORS } from '../protocol/error-codes.js'
import { type TopicResult, adminErrorOf, assignmentProblem, duplicates, refused } from './create-topics.js'
import type { Handler } from './handler.js'

interface CreatePartitionsTopic {
  name: string
  /** The new total, not the number to add. */
  count: number
  /** One entry per new partition, or null to let the broker place them. */
  assignments: Array<{ brokerIds: number[] }> | null
}

interface CreatePartitionsRequest {
  topics: CreatePartitionsTopic[]
  timeoutMs: number
  validateOnly: boolean
}

/**
 * CreatePartitions: grows each topic to `count` partitions (partitions are never removed:
 * a count not above the current one is INVALID_PARTITIONS). Manual assignments, if given,
 * must name one entry per new partition, each on this broker alone. validateOnly checks
 * and changes nothing; timeoutMs is ignored (the change is durable when answered). Keys
 * already produced keep their partition only while the count stays the same: the usual
 * Kafka caveat, since the default partitioner hashes modulo the partition count.
 */
export const handleCreatePartitions: Handler = async (request: CreatePartitionsRequest, { broker }) => {
  const duplicated = duplicates(request.topics.map((topic) => topic.name))
  const results: TopicResult[] = [...duplicated].map((name) =>
    refused(name, KAFKA_ERRORS.INVALID_REQUEST, `topic "${name}" appears more than once in the request; nothing was done for it`),
  )
  for (const topic of request.topics) {
    if (!duplicated.has(topic.name)) results.push(await createPartitions(broker, topic, request.validateOnly))
  }
  return { throttleTimeMs: 0, results }
}

async function createPartitions(broker: Broker, topic: CreatePartitionsTopic, validateOnly: boolean): Promise<TopicResult> {
  const { name, count, assignments } = topic
  if (!broker.hasTopic(name)) return refused(name, KAFKA_ERRORS.UNKNOWN_TOPIC_OR_PARTITION, `topic "${name}" does not exist`)
  try {
    const current = broker.topicConfig(name).partitions
    if (count <= current) {
      const why = count === current ? `topic "${name}" already has ${current} partitions` : `topic "${name}" has ${current} partitions; partitions are never removed`
      return refused(name, KAFKA_ERRORS.INVALID_PARTITIONS, why)
    }
    if (count > MAX_PARTITIONS) return refused(name, KAFKA_ERRORS.INVALID_PARTITIONS, `a topic has at most ${MAX_PARTITIONS} partitions; ${count} were asked for`)
    if (assignments !== null) {
      if (assignments.length !== count - current) {
        return refused(name, KAFKA_ERRORS.INVALID_REPLICA_ASSIGNMENT, `${count - current} new partitions need ${count - current} assignments; ${assignments.length} were given`)
      }
      const problem = assignmentProblem(assignments, broker.nodeId)
      if (problem !== null) return refused(name, KAFKA_ERRORS.INVALID_REPLICA_ASSIGNMENT, problem)
    }
    if (!validateOnly) await broker.addPartitions(name, count)
    return { name, errorCode: KAFKA_ERRORS.NONE, errorMessage: null }
  } catch (error) {
    return refused(name, adminErrorOf(error), error instanceof Error ? error.message : String(error))
  }
}
