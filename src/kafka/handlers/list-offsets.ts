import { isSpoolError } from '../../errors.js'
import type { PartitionLog } from '../../storage/partition-log.js'
import type { Broker } from '../broker.js'
import { KAFKA_ERRORS, kafkaErrorOf } from '../protocol/error-codes.js'
import type { Handler } from './handler.js'

/** ListOffsets' special timestamps (the versions served, 1–5, know only these two). */
export const LATEST_TIMESTAMP = -1
export const EARLIEST_TIMESTAMP = -2
/** Kafka's "none": no offset found, or no timestamp for a special lookup. */
const UNKNOWN = -1

interface ListOffsetsPartition {
  partitionIndex: number
  /** v4+; -1 when the client does not know it. */
  currentLeaderEpoch?: number
  timestamp: number
}

interface ListOffsetsRequest {
  replicaId: number
  isolationLevel?: number
  topics: Array<{ name: string; partitions: ListOffsetsPartition[] }>
}

interface PartitionAnswer {
  partitionIndex: number
  errorCode: number
  timestamp: number
  offset: number
  leaderEpoch: number
}

/**
 * ListOffsets: where a consumer starts. Earliest (-2) is the log start offset; latest (-1)
 * is the durable end (the high watermark; with read_committed the same, until spool has
 * transactions); any other timestamp is the first record stamped at or after it, with
 * that record's timestamp, or offset and timestamp -1 when none is. v4+ answers the leader
 * epoch of the offset found, and fences a client whose currentLeaderEpoch is not the log's
 * (FENCED_LEADER_EPOCH if older, UNKNOWN_LEADER_EPOCH if newer), as Fetch does.
 * replicaId is ignored: there are no followers.
 */
export const handleListOffsets: Handler = async (request: ListOffsetsRequest, { broker }) => {
  const twice = askedTwice(request)
  const topics = []
  for (const topic of request.topics) {
    const partitions = []
    for (const partition of topic.partitions) {
      // Kafka refuses a partition asked twice in one request rather than answer it twice.
      if (twice.has(partitionKey(topic.name, partition.partitionIndex))) partitions.push(failed(partition.partitionIndex, KAFKA_ERRORS.INVALID_REQUEST))
      else partitions.push(await listOffset(broker, topic.name, partition))
    }
    topics.push({ name: topic.name, partitions })
  }
  return { throttleTimeMs: 0, topics }
}

function partitionKey(topic: string, partition: number): string {
  return `${partition}:${topic}`
}

/** The partitions the request names more than once (a topic may also appear twice). */
function askedTwice(request: ListOffsetsRequest): Set<string> {
  const seen = new Set<string>()
  const twice = new Set<string>()
  for (const topic of request.topics) {
    for (const { partitionIndex } of topic.partitions) {
      const key = partitionKey(topic.name, partitionIndex)
      if (seen.has(key)) twice.add(key)
      else seen.add(key)
    }
  }
  return twice
}

function failed(partitionIndex: number, errorCode: number): PartitionAnswer {
  return { partitionIndex, errorCode, timestamp: UNKNOWN, offset: UNKNOWN, leaderEpoch: UNKNOWN }
}

async function listOffset(broker: Broker, topic: string, request: ListOffsetsPartition): Promise<PartitionAnswer> {
  const { partitionIndex, timestamp } = request
  try {
    const log = await broker.log(topic, partitionIndex)
    const fenced = checkLeaderEpoch(log, request.currentLeaderEpoch)
    if (fenced !== KAFKA_ERRORS.NONE) return failed(partitionIndex, fenced)
    const answer = (offset: number, recordTimestamp: number, leaderEpoch: number): PartitionAnswer => ({
      partitionIndex,
      errorCode: KAFKA_ERRORS.NONE,
      timestamp: recordTimestamp,
      offset,
      leaderEpoch,
    })
    if (timestamp === LATEST_TIMESTAMP) return answer(log.endOffset, UNKNOWN, log.epoch)
    if (timestamp === EARLIEST_TIMESTAMP) return answer(log.startOffset, UNKNOWN, log.epochOf(log.startOffset))
    const found = await recordAtOrAfter(log, timestamp)
    return found === null ? answer(UNKNOWN, UNKNOWN, UNKNOWN) : answer(found.offset, found.timestamp, log.epochOf(found.offset))
  } catch (error) {
    if (!isSpoolError(error)) broker.logger.warn(`ListOffsets on ${topic}/${partitionIndex} failed: ${String(error)}`)
    return failed(partitionIndex, kafkaErrorOf(error))
  }
}

function checkLeaderEpoch(log: PartitionLog, clientEpoch: number | undefined): number {
  if (clientEpoch === undefined || clientEpoch < 0 || clientEpoch === log.epoch) return KAFKA_ERRORS.NONE
  return clientEpoch < log.epoch ? KAFKA_ERRORS.FENCED_LEADER_EPOCH : KAFKA_ERRORS.UNKNOWN_LEADER_EPOCH
}

/**
 * The first record stamped at or after `timestamp`, and its timestamp (the answer carries
 * it: KafkaConsumer.offsetsForTimes shows it). Reading the record costs a batch read; a
 * lookup by time is rare beside fetches. If retention removes the record between the
 * lookup and the read, the lookup runs once more on what is left.
 */
async function recordAtOrAfter(log: PartitionLog, timestamp: number): Promise<{ offset: number; timestamp: number } | null> {
  for (let attempt = 0; ; attempt++) {
    const offset = await log.offsetForTimestamp(timestamp)
    if (offset === null) return null
    try {
      const { records } = await log.read(offset, { maxBytes: 1 })
      const record = records.find((r) => r.offset >= offset)
      return { offset, timestamp: record?.timestamp ?? UNKNOWN }
    } catch (error) {
      if (attempt > 0 || !isSpoolError(error, 'OFFSET_OUT_OF_RANGE')) throw error
    }
  }
}
