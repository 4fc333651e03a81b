import type { FlushPolicy } from '../../storage/flush-policy.js'
import type { TopicConfig } from '../../topics/topic-config.js'
import type { TopicConfigEntry } from './kafka-client.js'

/**
 * Topic options as the Kafka configs a CreateTopics request carries: the inverse of what
 * the listener accepts (kafka/handlers/topic-configs.ts). The partition count is not a
 * config (it is the request's numPartitions).
 */
const NAMES: Readonly<Record<Exclude<keyof TopicConfig, 'partitions'>, string>> = {
  flush: 'spool.flush',
  segmentBytes: 'segment.bytes',
  segmentMs: 'segment.ms',
  retentionMs: 'retention.ms',
  retentionBytes: 'retention.bytes',
  cleanup: 'cleanup.policy',
  maxRecordBytes: 'max.message.bytes',
  deleteRetentionMs: 'delete.retention.ms',
  indexIntervalBytes: 'index.interval.bytes',
  compression: 'compression.type',
  timestampType: 'message.timestamp.type',
  timestampBeforeMaxMs: 'message.timestamp.before.max.ms',
  timestampAfterMaxMs: 'message.timestamp.after.max.ms',
}

/** Kafka's "no limit" for retention.ms and retention.bytes; Long.MAX_VALUE for the timestamp bounds. */
const KAFKA_NO_LIMIT = '-1'
const KAFKA_LONG_MAX = '9223372036854775807'

function flushValue(flush: FlushPolicy): string {
  return typeof flush === 'string' ? flush : String(flush.intervalMs)
}

function valueOf(option: Exclude<keyof TopicConfig, 'partitions'>, value: unknown): string {
  if (option === 'flush') return flushValue(value as FlushPolicy)
  if (option === 'timestampType') return value === 'logAppend' ? 'LogAppendTime' : 'CreateTime'
  if (value === null) return option === 'retentionMs' || option === 'retentionBytes' ? KAFKA_NO_LIMIT : KAFKA_LONG_MAX
  return String(value)
}

/** The Kafka configs for the options given (those left out take the listener's defaults). */
export function kafkaTopicConfigs(options: Partial<TopicConfig>): TopicConfigEntry[] {
  const configs: TopicConfigEntry[] = []
  for (const [option, name] of Object.entries(NAMES) as Array<[Exclude<keyof TopicConfig, 'partitions'>, string]>) {
    if (options[option] !== undefined) configs.push({ name, value: valueOf(option, options[option]) })
  }
  return configs
}
