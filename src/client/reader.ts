import { SpoolError, invalidArgument } from '../errors.js'
import type { RecordHeader, RecordLabel } from '../record/types.js'
import type { PartitionLog, ReadOptions } from '../storage/partition-log.js'
import type { Topics } from '../topics/topics.js'
import { nonNegativeInteger } from '../validate.js'

/** A record as an application receives it. `key` and `value` are views into the read buffer. */
export interface ConsumedRecord {
  topic: string
  partition: number
  offset: number
  timestamp: number
  key: Buffer | null
  value: Buffer | null
  headers: RecordHeader[]
}

export interface ReadStreamOptions {
  /** Required when the topic has more than one partition. */
  partition?: number
  /** Start here (default: the partition's first offset). */
  fromOffset?: number
  /** Or start at the first record stamped at or after this time (ms since the epoch). */
  fromTimestamp?: number
  /** The last offset to deliver (inclusive). */
  toOffset?: number
  /** At the end of the partition, wait for new records instead of finishing. */
  follow?: boolean
  /** Bytes fetched per read from the log (default: the log's read default). */
  maxBytes?: number
  /** Ends the iteration (also while it waits for new records). */
  signal?: AbortSignal
}

/** A log read whose records carry their topic and partition, as the application receives them. */
export async function readLabelled(log: PartitionLog, fromOffset: number, options: ReadOptions & { label: RecordLabel }): Promise<{ records: ConsumedRecord[]; nextOffset: number }> {
  const { records, nextOffset } = await log.read(fromOffset, options)
  return { records: records as ConsumedRecord[], nextOffset }
}

function partitionOf(topics: Topics, topic: string, options: ReadStreamOptions): number {
  if (options.partition !== undefined) return options.partition // topics.logOf() checks it
  const count = topics.partitionCount(topic)
  if (count > 1) throw invalidArgument('partition', `is required: topic "${topic}" has ${count} partitions`)
  return 0
}

async function startOffset(log: PartitionLog, options: ReadStreamOptions): Promise<number> {
  if (options.fromOffset !== undefined && options.fromTimestamp !== undefined) {
    throw invalidArgument('fromTimestamp', 'cannot be combined with fromOffset')
  }
  if (options.fromOffset !== undefined) return nonNegativeInteger('fromOffset', options.fromOffset)
  if (options.fromTimestamp !== undefined) return (await log.offsetForTimestamp(options.fromTimestamp)) ?? log.endOffset
  return log.startOffset
}

/**
 * Replays one partition in offset order, with no group and no commits: from an offset or
 * a time, to an offset or (with `follow`) forever, woken by appends — in a read-only
 * spool, by those of the writer in another process, within milliseconds and never past
 * what it made durable (PartitionLog.waitForAppend, storage/log-follower.ts). A start
 * below the partition's first offset fails with OFFSET_OUT_OF_RANGE, carrying that first
 * offset.
 */
export async function* readTopic(topics: Topics, topic: string, options: ReadStreamOptions = {}): AsyncGenerator<ConsumedRecord> {
  if (typeof options !== 'object' || options === null) throw invalidArgument('options', 'must be an object')
  const partition = partitionOf(topics, topic, options)
  const log = await topics.logOf(topic, partition)
  const last = options.toOffset === undefined ? Infinity : nonNegativeInteger('toOffset', options.toOffset)
  const readOptions = options.maxBytes === undefined ? {} : { maxBytes: options.maxBytes }
  let offset = await startOffset(log, options)
  // Following may start at a future offset and wait for it; anything else must exist now.
  if (options.follow !== true || offset < log.startOffset) log.checkInRange(offset)
  while (offset <= last && options.signal?.aborted !== true) {
    if (offset >= log.endOffset) {
      if (options.follow !== true || !(await log.waitForAppend(offset, options.signal))) return
      continue
    }
    const { records, nextOffset } = await readLabelled(log, offset, { ...readOptions, label: { topic, partition } })
    for (const record of records) {
      if (record.offset > last) return
      yield record
    }
    if (nextOffset <= offset) throw new SpoolError('CORRUPT_BATCH', `reading ${topic}-${partition} made no progress at offset ${offset}`)
    offset = nextOffset
  }
}
