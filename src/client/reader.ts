import { invalidArgument } from '../errors.js'
import { ChunkReader, RecordStream, type StreamBounds } from './record-stream.js'
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
 * offset. Like a generator, it checks its options and finds its start at the first `next()`.
 */
export function readTopic(topics: Topics, topic: string, options: ReadStreamOptions = {}): RecordStream {
  return new RecordStream(partitionChunks(topics, topic, options))
}

/** The same records as readTopic, a log read's worth (about `maxBytes`) at a time, for applications that work on batches. */
export async function* readTopicBatches(topics: Topics, topic: string, options: ReadStreamOptions = {}): AsyncGenerator<ConsumedRecord[], void, undefined> {
  const chunks = partitionChunks(topics, topic, options)
  try {
    for (let records = await chunks.next(); records !== null; records = await chunks.next()) yield records
  } finally {
    chunks.finish()
  }
}

function partitionChunks(topics: Topics, topic: string, options: ReadStreamOptions): ChunkReader {
  const valid = typeof options === 'object' && options !== null
  const given: ReadStreamOptions = valid ? options : {}
  const bounds: StreamBounds = { topic, partition: 0, last: Infinity, follow: given.follow === true, signal: given.signal }
  return new ChunkReader(bounds, async () => {
    if (!valid) throw invalidArgument('options', 'must be an object')
    bounds.partition = partitionOf(topics, topic, given)
    const log = await topics.logOf(topic, bounds.partition)
    if (given.toOffset !== undefined) bounds.last = nonNegativeInteger('toOffset', given.toOffset)
    const from = await startOffset(log, given)
    // Following may start at a future offset and wait for it; anything else must exist now.
    if (!bounds.follow || from < log.startOffset) log.checkInRange(from)
    const label = { topic, partition: bounds.partition }
    const readOptions = given.maxBytes === undefined ? { label } : { label, maxBytes: given.maxBytes }
    return { log, from, read: (offset: number) => readLabelled(log, offset, readOptions) }
  })
}
