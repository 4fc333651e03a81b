import { invalidArgument } from '../errors.js'
import { DEFAULT_INDEX_INTERVAL_BYTES, DEFAULT_SEGMENT_BYTES, DEFAULT_SEGMENT_MS, MAX_RECORD_BYTES, MAX_SEGMENT_BYTES } from '../limits.js'
import { type CompressionCodec, parseCompressionCodec } from '../record/compression/index.js'
import { type FlushPolicy, checkFlushPolicy } from '../storage/flush-policy.js'
import { type TimestampType, parseTimestampType } from '../storage/timestamp-policy.js'
import { integerIn } from '../validate.js'

export type CleanupPolicy = 'delete' | 'compact'

/** Everything a topic is configured with; persisted in the catalog. */
export interface TopicConfig {
  partitions: number
  flush: FlushPolicy
  segmentBytes: number
  segmentMs: number
  /** Sealed segments whose newest record is older than this are deleted; null keeps them. */
  retentionMs: number | null
  /** Oldest sealed segments are deleted while the partition stays above this; null: no limit. */
  retentionBytes: number | null
  cleanup: CleanupPolicy
  /** Largest key + value + headers of one record, in bytes. */
  maxRecordBytes: number
  /** How long a tombstone (null value) survives compaction. */
  deleteRetentionMs: number
  indexIntervalBytes: number
  /** Kafka's compression.type: 'producer' keeps what each producer asks for; a codec compresses every batch with it. */
  compression: CompressionCodec | 'producer'
  /** Kafka's message.timestamp.type: 'create' keeps the producer's timestamps; 'logAppend' stamps the append time. */
  timestampType: TimestampType
  /** Kafka's message.timestamp.before.max.ms: older records are refused (INVALID_TIMESTAMP); null: any. */
  timestampBeforeMaxMs: number | null
  /** Kafka's message.timestamp.after.max.ms: records stamped further ahead are refused; null: any. */
  timestampAfterMaxMs: number | null
}

/**
 * Kafka's message.timestamp.after.max.ms since 4.0 (KIP-937): a record may be stamped at
 * most an hour ahead of the append time, so that a producer's clock cannot pin a segment
 * against retention. How far behind is unbounded by default, as in Kafka: importing
 * history is ordinary; a topic sets timestampBeforeMaxMs to refuse it.
 */
export const DEFAULT_TIMESTAMP_AFTER_MAX_MS = 60 * 60 * 1000

/** Kafka's max.message.bytes (1 MiB) and delete.retention.ms (1 day). */
export const DEFAULT_MAX_RECORD_BYTES = 1024 * 1024
export const DEFAULT_DELETE_RETENTION_MS = 24 * 60 * 60 * 1000
export const MAX_PARTITIONS = 10_000

/**
 * Defaults for an embedded store: durable ('always') and kept until told otherwise
 * (Redis Streams and JetStream keep everything by default; Kafka deletes after 7 days,
 * which surprises an application that uses the log as its store).
 */
export const DEFAULT_TOPIC_CONFIG: TopicConfig = {
  partitions: 1,
  flush: 'always',
  segmentBytes: DEFAULT_SEGMENT_BYTES,
  segmentMs: DEFAULT_SEGMENT_MS,
  retentionMs: null,
  retentionBytes: null,
  cleanup: 'delete',
  maxRecordBytes: DEFAULT_MAX_RECORD_BYTES,
  deleteRetentionMs: DEFAULT_DELETE_RETENTION_MS,
  indexIntervalBytes: DEFAULT_INDEX_INTERVAL_BYTES,
  compression: 'producer',
  timestampType: 'create',
  timestampBeforeMaxMs: null,
  timestampAfterMaxMs: DEFAULT_TIMESTAMP_AFTER_MAX_MS,
}

export const TOPIC_CONFIG_KEYS = Object.keys(DEFAULT_TOPIC_CONFIG) as Array<keyof TopicConfig>

function optionalLimit(field: string, value: unknown, min = 1): number | null {
  return value === null ? null : integerIn(field, value, min)
}

/** Merges `given` over `base` and checks every field; unknown fields are refused. */
export function resolveTopicConfig(given: unknown, base: TopicConfig = DEFAULT_TOPIC_CONFIG): TopicConfig {
  if (given === undefined) given = {}
  if (typeof given !== 'object' || given === null || Array.isArray(given)) throw invalidArgument('topic options', 'must be an object')
  for (const key of Object.keys(given)) {
    if (!TOPIC_CONFIG_KEYS.includes(key as keyof TopicConfig)) {
      throw invalidArgument(key, `is not a topic option (known: ${TOPIC_CONFIG_KEYS.join(', ')})`)
    }
  }
  const merged = { ...base, ...(given as Partial<TopicConfig>) }
  const cleanup = merged.cleanup
  if (cleanup !== 'delete' && cleanup !== 'compact') throw invalidArgument('cleanup', "must be 'delete' or 'compact'")
  return {
    partitions: integerIn('partitions', merged.partitions, 1, MAX_PARTITIONS),
    flush: checkFlushPolicy(merged.flush),
    segmentBytes: integerIn('segmentBytes', merged.segmentBytes, 1, MAX_SEGMENT_BYTES),
    segmentMs: integerIn('segmentMs', merged.segmentMs, 1),
    retentionMs: optionalLimit('retentionMs', merged.retentionMs),
    retentionBytes: optionalLimit('retentionBytes', merged.retentionBytes),
    cleanup,
    maxRecordBytes: integerIn('maxRecordBytes', merged.maxRecordBytes, 1, MAX_RECORD_BYTES),
    deleteRetentionMs: integerIn('deleteRetentionMs', merged.deleteRetentionMs, 0),
    indexIntervalBytes: integerIn('indexIntervalBytes', merged.indexIntervalBytes, 1, MAX_SEGMENT_BYTES),
    compression: merged.compression === 'producer' ? 'producer' : parseCompressionCodec(merged.compression, 'compression'),
    timestampType: parseTimestampType(merged.timestampType),
    timestampBeforeMaxMs: optionalLimit('timestampBeforeMaxMs', merged.timestampBeforeMaxMs, 0),
    timestampAfterMaxMs: optionalLimit('timestampAfterMaxMs', merged.timestampAfterMaxMs, 0),
  }
}

