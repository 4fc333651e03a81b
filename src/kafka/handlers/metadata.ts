import { isSpoolError } from '../../errors.js'
import { checkTopicName } from '../../topics/topic-name.js'
import type { Broker } from '../broker.js'
import { KAFKA_ERRORS, kafkaErrorOf } from '../protocol/error-codes.js'
import type { Handler } from './handler.js'

/** Kafka's value for "authorized operations not computed": spool has no authorization yet. */
export const AUTHORIZED_OPERATIONS_OMITTED = -2147483648

/** Version 1 made the topic list nullable: null asks for every topic, [] for none (v0: [] asks for every one). */
const NULLABLE_TOPICS_VERSION = 1
/** Version 4 lets the client forbid auto creation (allowAutoTopicCreation); before it, requests allow it. */
const ALLOW_AUTO_CREATION_VERSION = 4
/** Version 7 adds each partition's leader epoch. */
const LEADER_EPOCH_VERSION = 7

interface MetadataRequest {
  topics: Array<{ name: string }> | null
  allowAutoTopicCreation?: boolean
}

/**
 * Metadata: this process is the whole cluster. One broker (the advertised address), the
 * controller too, and the leader, only replica and only in-sync replica of every
 * partition. The leader epoch (v7+) is the partition log's incarnation, the one Fetch and
 * ListOffsets check a client's currentLeaderEpoch against.
 *
 * Auto creation: an unknown topic is created with the spool's defaults when the listener
 * allows it (autoCreateTopics, off by default) and the request does too (v4+). Kafka
 * answers such a topic LEADER_NOT_AVAILABLE and lets the client ask again; spool creates
 * it before answering, so it answers the created topic at once. An invalid name is
 * INVALID_TOPIC_EXCEPTION whether or not creation is allowed: no such topic can exist.
 */
export const handleMetadata: Handler = async (request: MetadataRequest, { apiVersion, broker, advertised }) => {
  const autoCreate = broker.autoCreateTopics && (apiVersion < ALLOW_AUTO_CREATION_VERSION || request.allowAutoTopicCreation !== false)
  const topics = []
  for (const name of requestedTopics(request, apiVersion, broker)) {
    topics.push(await describeTopic(broker, name, autoCreate, apiVersion >= LEADER_EPOCH_VERSION))
  }
  return {
    throttleTimeMs: 0,
    brokers: [{ nodeId: broker.nodeId, host: advertised.host, port: advertised.port, rack: null }],
    clusterId: broker.clusterId,
    controllerId: broker.nodeId,
    topics,
    clusterAuthorizedOperations: AUTHORIZED_OPERATIONS_OMITTED,
  }
}

function requestedTopics(request: MetadataRequest, apiVersion: number, broker: Broker): string[] {
  const all = request.topics === null || (apiVersion < NULLABLE_TOPICS_VERSION && request.topics.length === 0)
  if (all) return broker.topicNames()
  // A name asked twice is answered once, as Kafka answers a set.
  return [...new Set(request.topics!.map((topic) => topic.name))]
}

async function describeTopic(broker: Broker, name: string, autoCreate: boolean, withEpochs: boolean): Promise<object> {
  const answer = (errorCode: number, partitions: object[] = []): object => ({
    errorCode,
    name,
    isInternal: false,
    partitions,
    topicAuthorizedOperations: AUTHORIZED_OPERATIONS_OMITTED,
  })
  try {
    if (!broker.hasTopic(name)) {
      checkTopicName(name)
      if (!autoCreate) return answer(KAFKA_ERRORS.UNKNOWN_TOPIC_OR_PARTITION)
      await createIfMissing(broker, name)
    }
    const count = broker.topicConfig(name).partitions
    const partitions = []
    for (let index = 0; index < count; index++) partitions.push(await describePartition(broker, name, index, withEpochs))
    return answer(KAFKA_ERRORS.NONE, partitions)
  } catch (error) {
    return answer(kafkaErrorOf(error))
  }
}

async function createIfMissing(broker: Broker, name: string): Promise<void> {
  try {
    await broker.createTopic(name, {})
  } catch (error) {
    // Another request created it meanwhile: answer it as it is.
    if (!isSpoolError(error, 'TOPIC_EXISTS') || !broker.hasTopic(name)) throw error
  }
}

async function describePartition(broker: Broker, topic: string, partitionIndex: number, withEpoch: boolean): Promise<object> {
  const partition = {
    errorCode: KAFKA_ERRORS.NONE as number,
    partitionIndex,
    leaderId: broker.nodeId,
    leaderEpoch: -1,
    replicaNodes: [broker.nodeId],
    isrNodes: [broker.nodeId],
    offlineReplicas: [] as number[],
  }
  // Only versions with the epoch open the partition's log to read it: older clients asking
  // for every topic do not make the listener open every partition of the directory.
  if (!withEpoch) return partition
  try {
    partition.leaderEpoch = (await broker.log(topic, partitionIndex)).epoch
  } catch (error) {
    // A partition that cannot open (its disk failed) is reported offline, as Kafka reports a failed log dir.
    partition.errorCode = kafkaErrorOf(error)
    partition.offlineReplicas = [broker.nodeId]
  }
  return partition
}
