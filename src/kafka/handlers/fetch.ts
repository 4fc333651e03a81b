import { Coalesced } from '../../concurrency/coalesced.js'
import { MAX_KAFKA_FETCH_RESPONSE_BYTES } from '../../limits.js'
import type { PartitionLog } from '../../storage/partition-log.js'
import { KAFKA_ERRORS, kafkaErrorOf } from '../protocol/error-codes.js'
import type { Handler, RequestContext } from './handler.js'
import { ReadBufferLease, ReadBufferPool } from './read-buffers.js'

interface FetchPartitionRequest {
  partition: number
  currentLeaderEpoch?: number
  fetchOffset: number
  partitionMaxBytes: number
}

interface FetchTopicRequest {
  topic: string
  partitions: FetchPartitionRequest[]
}

interface FetchRequest {
  maxWaitMs: number
  minBytes: number
  maxBytes?: number
  sessionId?: number
  sessionEpoch?: number
  topics: FetchTopicRequest[]
}

interface FetchPartitionResponse {
  partitionIndex: number
  errorCode: number
  highWatermark: number
  lastStableOffset: number
  logStartOffset: number
  abortedTransactions: null
  preferredReadReplica: number
  /** Stored batches, sent as they are. */
  records: Buffer[]
}

/** Fetch v3's response limit when a request has none (v0–v2 had no maxBytes): Kafka's fetch.max.bytes default. */
const DEFAULT_FETCH_MAX_BYTES = 50 * 1024 * 1024

/** Kafka's INVALID_SESSION_ID / "no session": spool declines fetch sessions (KIP-227 allows it). */
const NO_SESSION = 0

/**
 * The buffers fetches read into, shared by every connection: a unit fits the usual
 * fetch (a client's default max.partition.fetch.bytes, 1 MiB, and the headers read
 * around it); 17 MiB of free ones are kept at most.
 */
const READ_BUFFERS = new ReadBufferPool(1024 * 1024 + 64 * 1024, 17 * (1024 * 1024 + 64 * 1024))

/** A partition the request names, resolved once: its log, or why it has none. */
interface Target {
  topic: string
  request: FetchPartitionRequest
  log: PartitionLog | null
  errorCode: number
}

/**
 * Fetch: the stored batches from each partition's fetch offset, sent unchanged (no decode,
 * no re-encode), within the request's and each partition's byte limits, with at least one
 * whole batch (KIP-74). When less than minBytes is there, the request waits — woken by
 * the append itself, answered when maxWaitMs passes or the listener closes. The high
 * watermark is the durable end: readers never see what a crash could take back.
 * Fetch sessions are declined (session id 0: clients then send full requests), and
 * read_committed reads as read_uncommitted, since there are no transactions.
 */
export const handleFetch: Handler = async (request: FetchRequest, context) => {
  if (request.sessionId !== undefined && request.sessionId !== NO_SESSION) {
    return { errorCode: KAFKA_ERRORS.FETCH_SESSION_ID_NOT_FOUND, sessionId: NO_SESSION, responses: [] }
  }
  const targets = await resolveTargets(request.topics, context)
  const maxBytes = Math.min(request.maxBytes ?? DEFAULT_FETCH_MAX_BYTES, MAX_KAFKA_FETCH_RESPONSE_BYTES)
  let answer = await readAll(targets, maxBytes)
  if (request.maxWaitMs > 0 && answer.bytes < request.minBytes && !answer.failed && !context.signal.aborted) {
    answer = await waitForMore(targets, request, maxBytes, answer, context.signal)
  }
  context.afterResponse(() => answer.lease.giveBackAll())
  return { errorCode: KAFKA_ERRORS.NONE, sessionId: NO_SESSION, responses: responsesOf(targets, answer.partitions) }
}

async function resolveTargets(topics: readonly FetchTopicRequest[], { broker }: RequestContext): Promise<Target[]> {
  const targets: Target[] = []
  for (const { topic, partitions } of topics) {
    for (const partition of partitions) {
      try {
        const log = await broker.log(topic, partition.partition)
        targets.push({ topic, request: partition, log, errorCode: leaderEpochError(log, partition.currentLeaderEpoch) })
      } catch (error) {
        targets.push({ topic, request: partition, log: null, errorCode: kafkaErrorOf(error) })
      }
    }
  }
  return targets
}

/**
 * A client that read the partition's leader epoch (Metadata v7+) from an older
 * incarnation of the log (epochs.ts: each recovering open starts a new one) is told so,
 * and refreshes its metadata; one from the future knows more than this broker.
 */
function leaderEpochError(log: PartitionLog, clientEpoch: number | undefined): number {
  if (clientEpoch === undefined || clientEpoch < 0 || clientEpoch === log.epoch) return KAFKA_ERRORS.NONE
  return clientEpoch < log.epoch ? KAFKA_ERRORS.FENCED_LEADER_EPOCH : KAFKA_ERRORS.UNKNOWN_LEADER_EPOCH
}

interface Answer {
  partitions: FetchPartitionResponse[]
  bytes: number
  /** Some partition has an error: answer at once, as Kafka does. */
  failed: boolean
  /** Each target's end offset when it was read: an append after it must wake a waiting fetch. */
  ends: number[]
  /** The buffers its records were read into, given back once they were sent (or dropped). */
  lease: ReadBufferLease
}

async function readAll(targets: readonly Target[], maxBytes: number): Promise<Answer> {
  const partitions: FetchPartitionResponse[] = []
  let bytes = 0
  let failed = false
  const ends: number[] = []
  const lease = new ReadBufferLease(READ_BUFFERS)
  for (const target of targets) {
    ends.push(target.log === null ? -1 : target.log.endOffset)
    const partition = await readPartition(target, maxBytes - bytes, bytes === 0, lease)
    if (partition.errorCode !== KAFKA_ERRORS.NONE) failed = true
    for (const chunk of partition.records) bytes += chunk.length
    partitions.push(partition)
  }
  return { partitions, bytes, failed, ends, lease }
}

async function readPartition(target: Target, budget: number, firstWithData: boolean, lease: ReadBufferLease): Promise<FetchPartitionResponse> {
  const { log, request } = target
  if (log === null || target.errorCode !== KAFKA_ERRORS.NONE) return emptyPartition(request.partition, target.errorCode, log)
  try {
    const end = log.endOffset
    const start = log.startOffset
    const offset = request.fetchOffset
    if (offset < start || offset > end) return emptyPartition(request.partition, KAFKA_ERRORS.OFFSET_OUT_OF_RANGE, log)
    const limit = Math.min(request.partitionMaxBytes, budget)
    const response = emptyPartition(request.partition, KAFKA_ERRORS.NONE, log)
    if (offset === end || request.partitionMaxBytes <= 0 || (limit <= 0 && !firstWithData)) return response
    const read = await log.readBatchBytes(offset, Math.max(limit, 1), lease)
    // KIP-74: an oversized first batch is sent whole only when nothing came before it in
    // the response; later partitions stop at the response's limit.
    if (!firstWithData && read.bytes > budget) return response
    response.records = read.chunks
    return response
  } catch (error) {
    return emptyPartition(request.partition, kafkaErrorOf(error), log)
  }
}

function emptyPartition(partitionIndex: number, errorCode: number, log: PartitionLog | null): FetchPartitionResponse {
  const highWatermark = log === null ? -1 : log.endOffset
  return {
    partitionIndex,
    errorCode,
    highWatermark,
    lastStableOffset: highWatermark,
    logStartOffset: log === null ? -1 : log.startOffset,
    abortedTransactions: null,
    preferredReadReplica: -1,
    records: [],
  }
}

/**
 * Waits for appends to any requested partition (each log's own append signal: no timer
 * loop), reading again after each, until minBytes is there, maxWaitMs has passed (always
 * answered then, with what there is), the listener closes, or a partition's log closes
 * (its topic deleted: answered with what there is; the client's next fetch learns
 * UNKNOWN_TOPIC_OR_PARTITION, as from Kafka, instead of waiting out maxWaitMs).
 */
function waitForMore(targets: readonly Target[], request: FetchRequest, maxBytes: number, first: Answer, closing: AbortSignal): Promise<Answer> {
  return new Promise<Answer>((resolve) => {
    let latest = first
    let done = false
    const unsubscribes: Array<() => void> = []
    const finish = (): void => {
      if (done) return
      done = true
      clearTimeout(timer)
      closing.removeEventListener('abort', finish)
      for (const unsubscribe of unsubscribes) unsubscribe()
      resolve(latest)
    }
    // The answer not sent gives its buffers back; once one was sent (done), it is the newer one.
    const replaceLatest = (answer: Answer): void => {
      if (done) return answer.lease.giveBackAll()
      latest.lease.giveBackAll()
      latest = answer
    }
    // Appends during a read are served by one more read after it, not one each.
    const reads = new Coalesced(async () => {
      if (done) return
      replaceLatest(await readAll(targets, maxBytes))
      if (latest.bytes >= request.minBytes || latest.failed) finish()
    })
    const readAgain = (): void => void reads.request().catch(finish)
    const timer = setTimeout(() => {
      // At the deadline, answer with a fresh read, unless one is running (its result is as fresh).
      if (reads.running !== null) return finish()
      void readAll(targets, maxBytes).then(replaceLatest).finally(finish)
    }, request.maxWaitMs)
    closing.addEventListener('abort', finish, { once: true })
    for (const target of targets) {
      if (target.log !== null && target.errorCode === KAFKA_ERRORS.NONE) unsubscribes.push(target.log.onAppend(readAgain, finish))
    }
    // Appends between the first read and the subscriptions woke no one: look once more.
    if (targets.some((target, i) => target.log !== null && target.log.endOffset !== first.ends[i])) readAgain()
  })
}

function responsesOf(targets: readonly Target[], partitions: readonly FetchPartitionResponse[]): Array<{ topic: string; partitions: FetchPartitionResponse[] }> {
  const responses: Array<{ topic: string; partitions: FetchPartitionResponse[] }> = []
  for (let i = 0; i < targets.length; i++) {
    const topic = targets[i]!.topic
    const last = responses[responses.length - 1]
    if (last !== undefined && last.topic === topic) last.partitions.push(partitions[i]!)
    else responses.push({ topic, partitions: [partitions[i]!] })
  }
  return responses
}
