import { type SpoolError, invalidArgument } from '../errors.js'
import { MAX_TIMER_MS } from '../limits.js'
import { type Assignor, type TopicPartition, resolveAssignor } from '../groups/assignors.js'
import { checkGroupName } from '../groups/offset-store.js'
import {
  DEFAULT_HEARTBEAT_INTERVAL_MS,
  DEFAULT_MAX_POLL_INTERVAL_MS,
  DEFAULT_MAX_PREFETCH_BYTES,
  DEFAULT_MAX_PREFETCH_RECORDS,
  DEFAULT_SESSION_TIMEOUT_MS,
  MAX_SESSION_TIMEOUT_MS,
  MIN_SESSION_TIMEOUT_MS,
} from '../limits.js'
import type { Topics } from '../topics/topics.js'
import { integerIn } from '../validate.js'

/** Where a group starts on a partition it has no committed offset for (or one outside the log). */
export type ResetPolicy = 'earliest' | 'latest' | 'error'

export interface ConsumerOptions {
  group: string
  topics: readonly string[]
  /** A built-in assignor's name ('range', 'round-robin', 'cooperative-sticky', the default) or your own. */
  assignor?: string | Assignor
  /**
   * true (default): commit after each processed batch, in the background, coalesced;
   * `{ intervalMs }`: on a timer; false: only when you call `commit()`. Every mode also
   * commits before giving a partition up and on `close()`.
   */
  autoCommit?: boolean | { intervalMs: number }
  /** Default 'earliest': a new group reads each partition from its start, skipping nothing. */
  resetPolicy?: ResetPolicy
  maxPrefetchRecords?: number
  maxPrefetchBytes?: number
  sessionTimeoutMs?: number
  heartbeatIntervalMs?: number
  /** A handler running longer than this is taken for stuck: the member leaves the group and its partitions move. */
  maxPollIntervalMs?: number
  /** A stable id across restarts (Kafka's group.instance.id): come back within the session timeout and keep your partitions. */
  instanceId?: string
  /** Called when partitions are granted, before any of their records is delivered (seek here if you like). */
  onAssigned?: (partitions: TopicPartition[]) => void | Promise<void>
  /** Called when partitions are taken away, after their processed records were committed (with autoCommit). */
  onRevoked?: (partitions: TopicPartition[]) => void | Promise<void>
  /**
   * Called once when a partition stops at a damaged batch (CORRUPT_BATCH, which names the
   * file, position and offset). Only that partition stops; the others go on. It stays
   * stopped until you seek it (past the damage to skip it, or to the same offset after a
   * repair) or it moves to another member.
   */
  onPartitionError?: (partition: TopicPartition, error: SpoolError) => void | Promise<void>
}

export interface ResolvedConsumerOptions {
  group: string
  topics: string[]
  assignor: Assignor
  commitAfterBatch: boolean
  commitIntervalMs: number | null
  autoCommit: boolean
  resetPolicy: ResetPolicy
  maxPrefetchRecords: number
  maxPrefetchBytes: number
  sessionTimeoutMs: number
  heartbeatIntervalMs: number
  maxPollIntervalMs: number
  instanceId: string | undefined
  onAssigned: ConsumerOptions['onAssigned']
  onRevoked: ConsumerOptions['onRevoked']
  onPartitionError: ConsumerOptions['onPartitionError']
}

const RESET_POLICIES: readonly ResetPolicy[] = ['earliest', 'latest', 'error']
const positive = (field: string, value: unknown, fallback: number): number => (value === undefined ? fallback : integerIn(field, value, 1))

function checkCallback<T>(field: string, value: T | undefined): T | undefined {
  if (value !== undefined && typeof value !== 'function') throw invalidArgument(field, 'must be a function')
  return value
}

/** Checks every option at once, so that a mistake fails `spool.consumer()` rather than a background join. */
export function resolveConsumerOptions(options: ConsumerOptions, topics: Topics): ResolvedConsumerOptions {
  if (typeof options !== 'object' || options === null) throw invalidArgument('options', 'must be an object with a group and topics')
  const group = checkGroupName(options.group)
  if (!Array.isArray(options.topics) || options.topics.length === 0) throw invalidArgument('topics', 'must list at least one topic')
  for (const topic of options.topics) topics.partitionCount(topic) // UNKNOWN_TOPIC for a typo, now
  const resetPolicy = options.resetPolicy ?? 'earliest'
  if (!RESET_POLICIES.includes(resetPolicy)) throw invalidArgument('resetPolicy', `must be one of ${RESET_POLICIES.join(', ')}`)
  const autoCommit = options.autoCommit ?? true
  let commitIntervalMs: number | null = null
  if (typeof autoCommit === 'object' && autoCommit !== null) commitIntervalMs = integerIn('autoCommit.intervalMs', autoCommit.intervalMs, 1, MAX_TIMER_MS)
  else if (typeof autoCommit !== 'boolean') throw invalidArgument('autoCommit', 'must be true, false or { intervalMs }')
  const sessionTimeoutMs =
    options.sessionTimeoutMs === undefined ? DEFAULT_SESSION_TIMEOUT_MS : integerIn('sessionTimeoutMs', options.sessionTimeoutMs, MIN_SESSION_TIMEOUT_MS, MAX_SESSION_TIMEOUT_MS)
  const heartbeatIntervalMs =
    options.heartbeatIntervalMs === undefined
      ? Math.min(DEFAULT_HEARTBEAT_INTERVAL_MS, Math.floor(sessionTimeoutMs / 3))
      : integerIn('heartbeatIntervalMs', options.heartbeatIntervalMs, 1, sessionTimeoutMs)
  if (options.instanceId !== undefined && (typeof options.instanceId !== 'string' || options.instanceId === '')) {
    throw invalidArgument('instanceId', 'must be a non-empty string')
  }
  return {
    group,
    topics: [...new Set(options.topics)].sort(),
    assignor: resolveAssignor(options.assignor),
    autoCommit: autoCommit !== false,
    commitAfterBatch: autoCommit === true,
    commitIntervalMs,
    resetPolicy,
    maxPrefetchRecords: positive('maxPrefetchRecords', options.maxPrefetchRecords, DEFAULT_MAX_PREFETCH_RECORDS),
    maxPrefetchBytes: positive('maxPrefetchBytes', options.maxPrefetchBytes, DEFAULT_MAX_PREFETCH_BYTES),
    sessionTimeoutMs,
    heartbeatIntervalMs,
    maxPollIntervalMs: options.maxPollIntervalMs === undefined ? DEFAULT_MAX_POLL_INTERVAL_MS : integerIn('maxPollIntervalMs', options.maxPollIntervalMs, 1, MAX_TIMER_MS),
    instanceId: options.instanceId,
    onAssigned: checkCallback('onAssigned', options.onAssigned),
    onRevoked: checkCallback('onRevoked', options.onRevoked),
    onPartitionError: checkCallback('onPartitionError', options.onPartitionError),
  }
}
