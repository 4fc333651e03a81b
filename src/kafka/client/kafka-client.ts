import { SpoolError } from '../../errors.js'
import { API_VERSIONS, type ApiDefinition, CREATE_PARTITIONS, CREATE_TOPICS, DELETE_TOPICS, FETCH, LIST_OFFSETS, METADATA, PRODUCE } from '../apis/index.js'
import { type Address, hostPort } from './address.js'
import { CONNECT_TIMEOUT_MS, ClientConnection, MALFORMED_RESPONSE } from './connection.js'
import { KAFKA_ERRORS, errorFromKafka } from './errors.js'

/**
 * A minimal Kafka client on spool's own codec: what the CLI needs to produce, read and
 * manage topics through a running listener (spool's, or any broker that serves these
 * versions). One connection to one broker; it does not follow leaders elsewhere, since a
 * spool listener leads every partition.
 *
 * Versions: ApiVersions is the first request, and each API is then spoken at the highest
 * version both sides serve (spool's table in apis/index.ts is what this client can encode).
 */

/** Kafka's ListOffsets timestamps for the first and the next offset. */
export const EARLIEST_TIMESTAMP = -2
export const LATEST_TIMESTAMP = -1
/** How long the listener may take over an admin request or a Produce with acks -1 (Kafka's request.timeout.ms default). */
export const REQUEST_TIMEOUT_MS = 30_000
const CLIENT_SOFTWARE_NAME = 'spool-cli'
const CLIENT_SOFTWARE_VERSION = '0.1.0'
/** Kafka's READ_UNCOMMITTED: spool has no transactions yet, so both levels read the same. */
const READ_UNCOMMITTED = 0
/** A consumer, not a follower broker. */
const CONSUMER_REPLICA_ID = -1

export interface KafkaClientOptions {
  /** The client id in every request header (the listener logs it). */
  clientId?: string
  connectTimeoutMs?: number
}

export interface ProduceAck {
  baseOffset: number
  /** The append time when the topic stamps it (LogAppendTime), else -1. */
  logAppendTimeMs: number
}

export interface FetchPartition {
  topic: string
  partition: number
  offset: number
  maxBytes: number
}

export interface FetchOptions {
  /** How long the listener may wait for minBytes (a long poll). */
  maxWaitMs: number
  minBytes: number
  /** The whole response's bound (at least one batch is returned whatever it says, KIP-74). */
  maxBytes: number
}

export interface FetchedPartition {
  topic: string
  partition: number
  errorCode: number
  highWatermark: number
  logStartOffset: number
  /** Whole record batches, maybe with a partial batch at the end; null or empty for none. */
  records: Buffer | null
}

export interface TopicConfigEntry {
  name: string
  value: string
}

type VersionRange = { min: number; max: number }

export class KafkaClient {
  private constructor(
    private readonly connection: ClientConnection,
    private readonly versions: ReadonlyMap<number, number>,
  ) {}

  /** Connects and asks which versions the listener serves. LISTENER_UNREACHABLE, one line, when nothing answers. */
  static async connect(address: Address, options: KafkaClientOptions = {}): Promise<KafkaClient> {
    const connection = await ClientConnection.connect(address, options.clientId ?? CLIENT_SOFTWARE_NAME, options.connectTimeoutMs ?? CONNECT_TIMEOUT_MS)
    try {
      const served = await askVersions(connection)
      const versions = new Map<number, number>()
      for (const api of [PRODUCE, FETCH, LIST_OFFSETS, METADATA, CREATE_TOPICS, DELETE_TOPICS, CREATE_PARTITIONS]) {
        const theirs = served.get(api.key)
        if (theirs === undefined) continue // refused when used: a listener may serve only some APIs
        const version = Math.min(api.maxVersion, theirs.max)
        if (version >= Math.max(api.minVersion, theirs.min)) versions.set(api.key, version)
      }
      return new KafkaClient(connection, versions)
    } catch (error) {
      connection.close()
      throw error
    }
  }

  get address(): Address {
    return this.connection.address
  }

  /** The version this client speaks `api` at with this listener. */
  versionOf(api: ApiDefinition): number {
    const version = this.versions.get(api.key)
    if (version === undefined) {
      throw new SpoolError('IO_ERROR', `the Kafka listener at ${hostPort(this.address)} serves no ${api.name} version this client speaks (${api.minVersion}-${api.maxVersion})`, {
        details: { api: api.name },
      })
    }
    return version
  }

  private call(api: ApiDefinition, body: object): Promise<any> {
    return this.connection.request(api, this.versionOf(api), body)
  }

  /** The number of partitions of `topic`; UNKNOWN_TOPIC when the listener has no such topic. */
  async partitionCount(topic: string): Promise<number> {
    const response = await this.call(METADATA, { topics: [{ name: topic }], allowAutoTopicCreation: false, includeClusterAuthorizedOperations: false, includeTopicAuthorizedOperations: false })
    const found = (response.topics as Array<{ name: string; errorCode: number; partitions: unknown[] }>).find((t) => t.name === topic)
    if (found === undefined || found.errorCode === KAFKA_ERRORS.UNKNOWN_TOPIC_OR_PARTITION) {
      throw new SpoolError('UNKNOWN_TOPIC', `topic "${topic}" does not exist; create it first (spool topics create ${topic})`, { details: { topic } })
    }
    if (found.errorCode !== KAFKA_ERRORS.NONE) throw errorFromKafka(found.errorCode, null, `metadata of topic "${topic}" failed`, { topic })
    return found.partitions.length
  }

  /**
   * Sends one batch (format v2, encoded by record/batch-encoder.ts) to one partition;
   * resolves once the listener has it (acks -1: durable under the topic's flush policy).
   */
  async produce(topic: string, partition: number, batch: Buffer, acks: -1 | 1 = -1): Promise<ProduceAck> {
    const response = await this.call(PRODUCE, { transactionalId: null, acks, timeoutMs: REQUEST_TIMEOUT_MS, topicData: [{ name: topic, partitionData: [{ index: partition, records: batch }] }] })
    const answer = response.responses?.[0]?.partitionResponses?.[0] as { errorCode: number; baseOffset: number; logAppendTimeMs?: number; errorMessage?: string | null } | undefined
    if (answer === undefined) throw new SpoolError('IO_ERROR', `the Kafka listener at ${hostPort(this.address)} did not answer for ${topic}/${partition}`)
    if (answer.errorCode !== KAFKA_ERRORS.NONE) {
      throw this.partitionError(answer.errorCode, answer.errorMessage, topic, partition, `produce to ${topic}/${partition} failed`)
    }
    return { baseOffset: answer.baseOffset, logAppendTimeMs: answer.logAppendTimeMs ?? -1 }
  }

  /**
   * One Fetch for several partitions (no fetch session: each request names them all).
   * `signal` ends the wait of a long poll early: the promise then resolves with nothing,
   * and the late answer is dropped when it comes.
   */
  async fetch(partitions: readonly FetchPartition[], options: FetchOptions, signal?: AbortSignal): Promise<FetchedPartition[]> {
    const byTopic = new Map<string, FetchPartition[]>()
    for (const p of partitions) byTopic.set(p.topic, [...(byTopic.get(p.topic) ?? []), p])
    const request = {
      replicaId: CONSUMER_REPLICA_ID,
      maxWaitMs: options.maxWaitMs,
      minBytes: options.minBytes,
      maxBytes: options.maxBytes,
      isolationLevel: READ_UNCOMMITTED,
      sessionId: 0,
      sessionEpoch: -1, // no session: a full request every time
      topics: [...byTopic].map(([topic, ps]) => ({
        topic,
        partitions: ps.map((p) => ({ partition: p.partition, currentLeaderEpoch: -1, fetchOffset: p.offset, logStartOffset: -1, partitionMaxBytes: p.maxBytes })),
      })),
      forgottenTopicsData: [],
      rackId: '',
    }
    const answer = this.call(FETCH, request)
    const response = await (signal === undefined ? answer : abortable(answer, signal))
    if (response === ABORTED) return []
    if (response.errorCode !== undefined && response.errorCode !== KAFKA_ERRORS.NONE) throw errorFromKafka(response.errorCode, null, 'fetch failed')
    const fetched: FetchedPartition[] = []
    for (const topic of response.responses as Array<{ topic: string; partitions: any[] }>) {
      for (const p of topic.partitions) {
        fetched.push({ topic: topic.topic, partition: p.partitionIndex, errorCode: p.errorCode, highWatermark: p.highWatermark, logStartOffset: p.logStartOffset ?? -1, records: p.records ?? null })
      }
    }
    return fetched
  }

  /**
   * ListOffsets for one partition: the first offset (EARLIEST_TIMESTAMP), the next one
   * (LATEST_TIMESTAMP), or the first at or after a time; null when no record is that recent.
   */
  async listOffset(topic: string, partition: number, timestamp: number): Promise<number | null> {
    const response = await this.call(LIST_OFFSETS, {
      replicaId: CONSUMER_REPLICA_ID,
      isolationLevel: READ_UNCOMMITTED,
      topics: [{ name: topic, partitions: [{ partitionIndex: partition, currentLeaderEpoch: -1, timestamp }] }],
    })
    const answer = response.topics?.[0]?.partitions?.[0] as { errorCode: number; offset: number } | undefined
    if (answer === undefined) throw new SpoolError('IO_ERROR', `the Kafka listener at ${hostPort(this.address)} did not answer for ${topic}/${partition}`)
    if (answer.errorCode !== KAFKA_ERRORS.NONE) throw this.partitionError(answer.errorCode, null, topic, partition, `listing offsets of ${topic}/${partition} failed`)
    return answer.offset < 0 ? null : answer.offset
  }

  /** Creates a topic; `partitions` -1 takes the listener's default. Errors as the engine's (TOPIC_EXISTS, INVALID_ARGUMENT, …). */
  async createTopic(name: string, partitions: number, configs: readonly TopicConfigEntry[]): Promise<void> {
    const response = await this.call(CREATE_TOPICS, {
      topics: [{ name, numPartitions: partitions, replicationFactor: -1, assignments: [], configs }],
      timeoutMs: REQUEST_TIMEOUT_MS,
      validateOnly: false,
    })
    this.checkTopicResult(response.topics, name, `creating topic "${name}" failed`)
  }

  async deleteTopic(name: string): Promise<void> {
    const response = await this.call(DELETE_TOPICS, { topicNames: [name], timeoutMs: REQUEST_TIMEOUT_MS })
    this.checkTopicResult(response.responses, name, `deleting topic "${name}" failed`)
  }

  /** Raises a topic's partition count to `total` (CreatePartitions). Errors as the engine's (UNKNOWN_TOPIC, INVALID_ARGUMENT). */
  async addPartitions(name: string, total: number): Promise<void> {
    const response = await this.call(CREATE_PARTITIONS, { topics: [{ name, count: total, assignments: null }], timeoutMs: REQUEST_TIMEOUT_MS, validateOnly: false })
    this.checkTopicResult(response.results, name, `adding partitions to topic "${name}" failed`)
  }

  /** An admin API's answer for one topic, as the engine would have failed: UNKNOWN_TOPIC says how to create it. */
  private checkTopicResult(results: Array<{ name: string; errorCode: number; errorMessage?: string | null }>, name: string, failed: string): void {
    const result = results.find((t) => t.name === name)
    if (result === undefined) throw new SpoolError('IO_ERROR', `the Kafka listener at ${hostPort(this.address)} did not answer for topic "${name}"`)
    if (result.errorCode === KAFKA_ERRORS.UNKNOWN_TOPIC_OR_PARTITION) {
      throw new SpoolError('UNKNOWN_TOPIC', `topic "${name}" does not exist; create it first (spool topics create ${name})`, { details: { topic: name } })
    }
    if (result.errorCode !== KAFKA_ERRORS.NONE) throw errorFromKafka(result.errorCode, result.errorMessage, failed, { topic: name })
  }

  close(): void {
    this.connection.close()
  }

  /** A partition's error: UNKNOWN_TOPIC_OR_PARTITION tells a missing partition from a missing topic by the engine's words. */
  private partitionError(errorCode: number, message: string | null | undefined, topic: string, partition: number, fallback: string): SpoolError {
    if (errorCode === KAFKA_ERRORS.UNKNOWN_TOPIC_OR_PARTITION && (message === null || message === undefined)) {
      return new SpoolError('UNKNOWN_TOPIC', `topic "${topic}" has no partition ${partition}, or does not exist`, { details: { topic, partition } })
    }
    return errorFromKafka(errorCode, message, fallback, { topic, partition })
  }
}

const ABORTED = Symbol('aborted')

function abortable<T>(promise: Promise<T>, signal: AbortSignal): Promise<T | typeof ABORTED> {
  if (signal.aborted) {
    promise.catch(() => undefined)
    return Promise.resolve(ABORTED)
  }
  return new Promise((resolve, reject) => {
    const onAbort = (): void => resolve(ABORTED)
    signal.addEventListener('abort', onAbort, { once: true })
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort)
        resolve(value)
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort)
        reject(error)
      },
    )
  })
}

/**
 * ApiVersions at the highest version this client knows. A broker that does not serve it
 * answers in the v0 format with UNSUPPORTED_VERSION (KIP-511), which the v3 decoder may
 * not parse: then the request is sent again at v0, which every broker serves.
 */
async function askVersions(connection: ClientConnection): Promise<Map<number, VersionRange>> {
  const body = { clientSoftwareName: CLIENT_SOFTWARE_NAME, clientSoftwareVersion: CLIENT_SOFTWARE_VERSION }
  let response: any
  try {
    response = await connection.request(API_VERSIONS, API_VERSIONS.maxVersion, body)
  } catch (error) {
    if (error instanceof SpoolError && error.details[MALFORMED_RESPONSE] === true) response = null
    else throw error
  }
  if (response === null || response.errorCode === KAFKA_ERRORS.UNSUPPORTED_VERSION) response = await connection.request(API_VERSIONS, 0, {})
  if (response.errorCode !== KAFKA_ERRORS.NONE) throw errorFromKafka(response.errorCode, null, `the Kafka listener at ${hostPort(connection.address)} refused ApiVersions`)
  const served = new Map<number, VersionRange>()
  for (const { apiKey, minVersion, maxVersion } of response.apiKeys as Array<{ apiKey: number; minVersion: number; maxVersion: number }>) served.set(apiKey, { min: minVersion, max: maxVersion })
  return served
}
