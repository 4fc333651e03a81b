import type { TopicOptions } from '../../client/spool.js'
import { SpoolError, isSpoolError } from '../../errors.js'
import type { FlushPolicy } from '../../storage/flush-policy.js'
import { type TopicConfig, resolveTopicConfig } from '../../topics/topic-config.js'

/**
 * Kafka's topic configs (the strings a CreateTopics request carries) as spool topic
 * options. Each accepted name maps to one option; any other name is refused, so that a
 * client never believes a setting took effect that spool does not have.
 *
 * Where the meanings differ:
 * - max.message.bytes bounds one record (key + value + headers: maxRecordBytes); Kafka's
 *   bounds a whole (compressed) batch. A batch larger than spool's batch limit is refused
 *   whatever this says.
 * - retention.ms and retention.bytes: -1 (Kafka's "no limit") keeps everything (null).
 *   Values past 2^53 - 1, such as Kafka's Long.MAX_VALUE default of
 *   message.timestamp.before.max.ms, also mean "no limit" on the options where null does.
 * - spool.flush is spool's own: when an append is durable (Kafka leaves that to
 *   replication; flush.ms and flush.messages are refused rather than half honoured).
 *   `always` (fdatasync before the acknowledgement), `never` (the operating system
 *   flushes), or a positive number of milliseconds (fsync on that interval).
 */

/** Kafka's sentinel for "no limit" on retention.ms and retention.bytes. */
const KAFKA_NO_LIMIT = -1

interface ConfigMapping {
  option: keyof TopicConfig
  parse(value: string): TopicConfig[keyof TopicConfig]
}

/** A Kafka long/int config: an optionally signed decimal integer, blanks around it ignored (as ConfigDef parses). */
function parseInteger(value: string): number {
  const trimmed = value.trim()
  if (!/^[-+]?\d+$/.test(trimmed)) throw new Error('must be an integer')
  const parsed = Number(trimmed)
  if (!Number.isSafeInteger(parsed)) throw new Error(`must be between ${Number.MIN_SAFE_INTEGER} and ${Number.MAX_SAFE_INTEGER}`)
  return parsed
}

/** An integer limit: past 2^53 - 1 (Kafka's Long.MAX_VALUE included) means none (null), and so does -1 where Kafka says so. */
function parseLimit(minusOneMeansNone: boolean) {
  return (value: string): number | null => {
    const trimmed = value.trim()
    if (/^\+?\d+$/.test(trimmed) && !Number.isSafeInteger(Number(trimmed))) return null
    const parsed = parseInteger(trimmed)
    return minusOneMeansNone && parsed === KAFKA_NO_LIMIT ? null : parsed
  }
}

function oneOf<T>(choices: Readonly<Record<string, T>>) {
  return (value: string): T => {
    const found = Object.hasOwn(choices, value) ? choices[value] : undefined
    if (found === undefined) throw new Error(`must be one of ${Object.keys(choices).join(', ')}`)
    return found
  }
}

function parseFlush(value: string): FlushPolicy {
  if (value === 'always' || value === 'never') return value
  if (/^\d+$/.test(value.trim())) return { intervalMs: parseInteger(value) }
  throw new Error('must be always, never or a number of milliseconds (fsync on that interval)')
}

const TOPIC_CONFIGS: Readonly<Record<string, ConfigMapping>> = {
  'retention.ms': { option: 'retentionMs', parse: parseLimit(true) },
  'retention.bytes': { option: 'retentionBytes', parse: parseLimit(true) },
  'cleanup.policy': { option: 'cleanup', parse: oneOf({ delete: 'delete', compact: 'compact' }) },
  'segment.bytes': { option: 'segmentBytes', parse: parseInteger },
  'segment.ms': { option: 'segmentMs', parse: parseInteger },
  'max.message.bytes': { option: 'maxRecordBytes', parse: parseInteger },
  'delete.retention.ms': { option: 'deleteRetentionMs', parse: parseInteger },
  'index.interval.bytes': { option: 'indexIntervalBytes', parse: parseInteger },
  'compression.type': {
    option: 'compression',
    parse: oneOf({ producer: 'producer', uncompressed: 'none', none: 'none', gzip: 'gzip', snappy: 'snappy', lz4: 'lz4', zstd: 'zstd' }),
  },
  'message.timestamp.type': { option: 'timestampType', parse: oneOf({ CreateTime: 'create', LogAppendTime: 'logAppend' }) },
  'message.timestamp.before.max.ms': { option: 'timestampBeforeMaxMs', parse: parseLimit(false) },
  'message.timestamp.after.max.ms': { option: 'timestampAfterMaxMs', parse: parseLimit(false) },
  'spool.flush': { option: 'flush', parse: parseFlush },
}

/** The Kafka config names CreateTopics accepts, for documentation and error messages. */
export const KAFKA_TOPIC_CONFIG_NAMES: readonly string[] = Object.keys(TOPIC_CONFIGS)

export interface KafkaConfigEntry {
  name: string
  value: string | null
}

/**
 * The topic options that Kafka configs ask for, checked as a topic create checks them.
 * Throws SpoolError INVALID_ARGUMENT (Kafka's INVALID_CONFIG) naming the Kafka config:
 * an unknown name, a null or malformed value, a name given twice, or a value out of range.
 */
export function topicOptionsOf(configs: readonly KafkaConfigEntry[] | null | undefined): TopicOptions {
  const options: Record<string, unknown> = {}
  const kafkaNameOf = new Map<string, string>()
  for (const { name, value } of configs ?? []) {
    const mapping = Object.hasOwn(TOPIC_CONFIGS, name) ? TOPIC_CONFIGS[name] : undefined
    if (mapping === undefined) {
      throw configError(name, `unknown topic config "${name}"; spool accepts ${KAFKA_TOPIC_CONFIG_NAMES.join(', ')}`)
    }
    if (kafkaNameOf.has(mapping.option)) throw configError(name, `topic config "${name}" is given more than once`)
    // Kafka refuses null values in CreateTopics too (they mean "the default" only in AlterConfigs).
    if (value === null) throw configError(name, `topic config "${name}" has a null value`)
    try {
      options[mapping.option] = mapping.parse(value)
    } catch (error) {
      throw configError(name, `invalid value "${value}" for topic config "${name}": ${(error as Error).message}`)
    }
    kafkaNameOf.set(mapping.option, name)
  }
  try {
    // Checks each given option's range; the spool's own defaults fill the rest at create time.
    resolveTopicConfig(options)
  } catch (error) {
    if (!isSpoolError(error, 'INVALID_ARGUMENT')) throw error
    const option = String(error.details['field'])
    const name = kafkaNameOf.get(option) ?? option
    const given = configs?.find((c) => c.name === name)?.value
    throw configError(name, `invalid value "${given ?? ''}" for topic config "${name}": ${error.message}`, error)
  }
  return options as TopicOptions
}

function configError(name: string, message: string, cause?: unknown): SpoolError {
  return new SpoolError('INVALID_ARGUMENT', message, { cause, details: { field: name } })
}
