// Imported, not the global: the global `Buffer` is a getter in Node, called at every use.
import { Buffer } from 'node:buffer'
import { SpoolError, invalidArgument } from '../errors.js'
import { DEFAULT_MAX_BATCH_BYTES, HEADER_FRAMING_MAX_BYTES, RECORD_FRAMING_MAX_BYTES } from '../limits.js'
import { BATCH_HEADER_BYTES } from '../record/batch-format.js'
import type { RecordInput } from '../record/types.js'
import { partitionForKey } from '../topics/partitioner.js'
import type { PartitionLog } from '../storage/partition-log.js'
import type { Topics } from '../topics/topics.js'
import { nonNegativeInteger } from '../validate.js'
import { type Bytes, type HeadersInput, payloadBytes, toBuffer, toHeaders } from './bytes.js'
import type { TopicBatches } from './producer-batch.js'

export interface ProducerRecord {
  topic: string
  key?: Bytes | null
  value: Bytes | null
  headers?: HeadersInput
  /** Omit to let the partitioner choose (by key, or sticky without one). */
  partition?: number
  /** Milliseconds since the epoch; the send time when omitted. */
  timestamp?: number
}

/** The framed records one batch may carry: what the log takes in one batch, less the batch header. */
export const BATCH_RECORDS_MAX_BYTES = DEFAULT_MAX_BATCH_BYTES - BATCH_HEADER_BYTES

/** What prepareRecord finds besides the record, for its caller to read at once (no object a record). */
export interface Placement {
  partition: number
  /** What the record takes framed: batches are cut by it, so a full one stays within the log's limit. */
  bytes: number
  keyless: boolean
}

/** The field a record's error names: `record` for send(), `records[i]` for sendBatch. Built only for an error. */
function fieldOf(index: number, name: string): string {
  return index < 0 ? `record.${name}` : `records[${index}].${name}`
}

/** The empty headers toHeaders gives a record without any (shared and frozen). */
const NO_HEADERS = toHeaders('headers', undefined)

function bytesOf(index: number, name: string, value: unknown): Buffer | null {
  // The usual case first, without building the field name.
  if (Buffer.isBuffer(value)) return value
  return toBuffer(fieldOf(index, name), value)
}

/** A record must be an object (checked before its topic is looked up). */
export function checkRecord(record: unknown, index: number): asserts record is ProducerRecord {
  if (typeof record !== 'object' || record === null) throw invalidArgument(index < 0 ? 'record' : `records[${index}]`, 'must be an object')
}

/**
 * Checks a record (an object: checkRecord) and puts it in bytes; `index` is -1 for a
 * send(), else the record's index in a sendBatch. Its partition and framed size go to
 * `out`. Throws INVALID_ARGUMENT, RECORD_TOO_LARGE or UNKNOWN_PARTITION, naming the field.
 */
export function prepareRecord(record: ProducerRecord, index: number, target: TopicBatches, topics: Topics, out: Placement): RecordInput {
  if (!('value' in record)) throw invalidArgument(fieldOf(index, 'value'), 'is required (null for a tombstone)')
  const key = bytesOf(index, 'key', record.key)
  const value = bytesOf(index, 'value', record.value)
  const headers = record.headers === undefined ? NO_HEADERS : toHeaders(fieldOf(index, 'headers'), record.headers)
  const payload = headers.length === 0 ? (key?.length ?? 0) + (value?.length ?? 0) : payloadBytes(key, value, headers)
  const bytes = payload + RECORD_FRAMING_MAX_BYTES + headers.length * HEADER_FRAMING_MAX_BYTES
  const { config, logs, name } = target
  if (payload > config.maxRecordBytes || bytes > BATCH_RECORDS_MAX_BYTES) {
    throw new SpoolError(
      'RECORD_TOO_LARGE',
      `a record of ${payload} bytes (${headers.length} headers) exceeds topic "${name}"'s maxRecordBytes of ${config.maxRecordBytes}; split it or raise maxRecordBytes`,
      { details: { topic: name, bytes: payload, maxRecordBytes: config.maxRecordBytes } },
    )
  }
  const chosen = record.partition
  // A partition that is not a log's index gets the lookup's precise error.
  if (!isPartitionOf(chosen, logs)) topics.log(name, chosen as number)
  const partition = fixedPartition(chosen, key, logs.length) ?? target.sticky.partition(logs.length)
  const input: RecordInput = { key, value, headers }
  // Checked here, not when the batch is encoded: one bad send must not fail the sends it shares a batch with.
  if (record.timestamp !== undefined) input.timestamp = nonNegativeInteger(fieldOf(index, 'timestamp'), record.timestamp)
  out.partition = partition
  out.bytes = bytes
  out.keyless = key === null && chosen === undefined
  return input
}

/**
 * Whether a sendBatch's records can go to the log as they are, unconverted and uncopied
 * (the log encodes them before the call returns, so the caller cannot change them
 * meanwhile): each an object of topic `target` with a Buffer or null key and value, no
 * headers, no timestamp, within maxRecordBytes, and all for one partition (chosen, by
 * key, or the only one). If so, that partition and their framed size go to `out`. Any
 * other case, an invalid record included, answers false: the records then take the
 * general path, which converts them or reports what is wrong.
 */
export function scanPlain(records: readonly ProducerRecord[], target: TopicBatches, out: Placement): boolean {
  const { name, logs } = target
  const maxRecordBytes = target.config.maxRecordBytes
  let partition = -1
  let bytes = 0
  for (let i = 0; i < records.length; i++) {
    const record = records[i]!
    if (typeof record !== 'object' || record === null || record.topic !== name) return false
    if (record.headers !== undefined || record.timestamp !== undefined) return false
    const { key, value } = record
    if ((key !== null && !Buffer.isBuffer(key)) || (value !== null && !Buffer.isBuffer(value))) return false
    const payload = (key === null ? 0 : key.length) + (value === null ? 0 : value.length)
    if (payload > maxRecordBytes) return false
    bytes += payload + RECORD_FRAMING_MAX_BYTES
    const chosen = record.partition
    if (!isPartitionOf(chosen, logs)) return false
    const p = fixedPartition(chosen, key, logs.length)
    // Keyless on several partitions: the sticky partitioner's, on the general path.
    if (p === null || (p !== partition && i > 0)) return false
    partition = p
  }
  out.partition = partition
  out.bytes = bytes
  out.keyless = false
  return true
}

/** Whether `chosen` is absent or the index of one of `logs`. */
function isPartitionOf(chosen: unknown, logs: readonly PartitionLog[]): boolean {
  return chosen === undefined || (typeof chosen === 'number' && logs[chosen] !== undefined)
}

/**
 * The partition of a record that names one (`chosen`, already checked) or has a key, or
 * of any record of a one-partition topic (what partitionForKey and the sticky partitioner
 * answer there); null for a keyless record of a topic with several: the sticky
 * partitioner's choice. Both send paths place records through it, so that a key goes to
 * the same partition whichever path its record took.
 */
function fixedPartition(chosen: number | undefined, key: Buffer | null, partitions: number): number | null {
  if (chosen !== undefined) return chosen
  if (partitions === 1) return 0
  return key === null ? null : partitionForKey(key, partitions)
}
