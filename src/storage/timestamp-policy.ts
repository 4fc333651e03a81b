import { SpoolError, invalidArgument } from '../errors.js'
import type { EncodedBatch } from '../record/batch-encoder.js'
import { NO_TIMESTAMP } from '../record/batch-format.js'

/**
 * Which time a topic's records carry, and how far a producer's clock may stray.
 * - 'create' (Kafka's CreateTime): the producer's timestamp, kept as given.
 * - 'logAppend' (Kafka's LogAppendTime): the log stamps each batch with the time it
 *   appended it, and readers give every record of the batch that time.
 * Under 'create', a record stamped far in the past would make time-based retention delete
 * its segment at once, and one far in the future would pin its segment: the bounds
 * (Kafka's message.timestamp.before.max.ms and .after.max.ms) refuse such records with
 * INVALID_TIMESTAMP. NO_TIMESTAMP (-1) is always accepted, as in Kafka.
 */
export type TimestampType = 'create' | 'logAppend'

export interface TimestampPolicy {
  type: TimestampType
  /** How far before the append time a record's timestamp may be; null: any. */
  beforeMaxMs: number | null
  /** How far after the append time a record's timestamp may be; null: any. */
  afterMaxMs: number | null
}

export function checkTimestamps(policy: TimestampPolicy, batch: EncodedBatch, now: number): void {
  if (policy.type === 'logAppend') return
  const { beforeMaxMs, afterMaxMs } = policy
  if (beforeMaxMs !== null && batch.minTimestamp !== NO_TIMESTAMP && now - batch.minTimestamp > beforeMaxMs) {
    throw invalidTimestamp(batch.minTimestamp, now, `more than ${beforeMaxMs} ms before`, 'timestampBeforeMaxMs')
  }
  if (afterMaxMs !== null && batch.maxTimestamp - now > afterMaxMs) {
    throw invalidTimestamp(batch.maxTimestamp, now, `more than ${afterMaxMs} ms after`, 'timestampAfterMaxMs')
  }
}

function invalidTimestamp(timestamp: number, now: number, how: string, option: string): SpoolError {
  return new SpoolError(
    'INVALID_TIMESTAMP',
    `a record's timestamp ${timestamp} is ${how} the append time ${now}; check the producer's clock, or raise the topic's ${option}`,
    { details: { timestamp, now, option } },
  )
}

export function parseTimestampType(value: unknown): TimestampType {
  if (value === 'create' || value === 'logAppend') return value
  throw invalidArgument('timestampType', "must be 'create' or 'logAppend'")
}
