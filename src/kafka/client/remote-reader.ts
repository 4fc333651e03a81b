import type { ConsumedRecord, ReadStreamOptions } from '../../client/reader.js'
import { SpoolError } from '../../errors.js'
import { nonNegativeInteger } from '../../validate.js'
import { MAX_RESPONSE_BYTES } from './connection.js'
import { decodeFetchedRecords } from './fetched-records.js'
import { EARLIEST_TIMESTAMP, type FetchPartition, type FetchedPartition, type KafkaClient, LATEST_TIMESTAMP } from './kafka-client.js'
import { KAFKA_ERRORS, errorFromKafka } from './errors.js'

/**
 * How long one Fetch waits at the end of the log while following (Kafka's fetch.max.wait.ms
 * is 500 ms too). The listener answers as soon as an append arrives, so this bounds only
 * how late a stop is noticed when nothing is written, and how often an idle follow asks.
 */
export const FOLLOW_WAIT_MS = 500
/** Bytes asked per partition and per response (Kafka's max.partition.fetch.bytes is 1 MiB, fetch.max.bytes 50 MiB). */
export const PARTITION_FETCH_BYTES = 1024 * 1024
export const FETCH_MAX_BYTES = 16 * 1024 * 1024

export interface RemoteReadOptions {
  /** At the end, wait for new records (until `signal`) instead of finishing. */
  follow: boolean
  signal?: AbortSignal
  /** Where each partition starts (fromOffset or fromTimestamp; default its first offset) and ends (toOffset). */
  start: (partition: number) => Promise<Omit<ReadStreamOptions, 'partition' | 'follow' | 'signal'>>
}

interface Cursor {
  partition: number
  offset: number
  last: number
  maxBytes: number
  /** The log's end as last seen (the high watermark of the last answer). */
  end: number
}

/**
 * Records of `partitions` of `topic` through a listener, as spool.read() gives them from
 * the data directory: each partition in offset order from its start, records below the
 * start skipped, a start outside the log OFFSET_OUT_OF_RANGE with the engine's words.
 * Without `follow`, partition after partition to the end each had when reached (as the
 * CLI reads them locally); with it, one long-polling Fetch for all of them, so that an
 * append to any is printed at once.
 */
export async function* readRemote(client: KafkaClient, topic: string, partitions: readonly number[], options: RemoteReadOptions): AsyncGenerator<ConsumedRecord> {
  const cursors: Cursor[] = []
  for (const partition of partitions) cursors.push(await startCursor(client, topic, partition, options))
  if (!options.follow) {
    for (const cursor of cursors) yield* readToEnd(client, topic, cursor, options.signal)
    return
  }
  yield* follow(client, topic, cursors, options.signal)
}

async function startCursor(client: KafkaClient, topic: string, partition: number, options: RemoteReadOptions): Promise<Cursor> {
  const range = await options.start(partition)
  const last = range.toOffset === undefined ? Infinity : nonNegativeInteger('toOffset', range.toOffset)
  const first = (await client.listOffset(topic, partition, EARLIEST_TIMESTAMP)) ?? 0
  const end = (await client.listOffset(topic, partition, LATEST_TIMESTAMP)) ?? first
  let offset: number
  if (range.fromOffset !== undefined) offset = nonNegativeInteger('fromOffset', range.fromOffset)
  else if (range.fromTimestamp !== undefined) offset = (await client.listOffset(topic, partition, range.fromTimestamp)) ?? end
  else offset = first
  // Following may start at a future offset and wait for it; anything else must exist now (as PartitionLog.checkInRange).
  if ((!options.follow || offset < first) && (offset < first || offset > end)) {
    throw new SpoolError('OFFSET_OUT_OF_RANGE', `offset ${offset} is outside the log [${first}, ${end}]; read from an offset in that range`, {
      details: { offset, startOffset: first, endOffset: end },
    })
  }
  return { partition, offset, last, maxBytes: PARTITION_FETCH_BYTES, end }
}

function request(topic: string, cursor: Cursor): FetchPartition {
  return { topic, partition: cursor.partition, offset: cursor.offset, maxBytes: cursor.maxBytes }
}

/** Applies one partition's answer to its cursor; returns its records up to the cursor's last offset. */
function advance(topic: string, cursor: Cursor, fetched: FetchedPartition): ConsumedRecord[] {
  if (fetched.errorCode !== KAFKA_ERRORS.NONE) {
    throw errorFromKafka(fetched.errorCode, null, `fetching ${topic}/${cursor.partition} at offset ${cursor.offset} failed`, { topic, partition: cursor.partition, offset: cursor.offset })
  }
  cursor.end = fetched.highWatermark
  const { records, nextOffset, partialBytes } = decodeFetchedRecords(fetched.records, cursor.offset, topic, cursor.partition)
  if (nextOffset === cursor.offset && partialBytes > 0) {
    // Only part of one batch came: it is larger than what was asked. Ask for more next time.
    if (cursor.maxBytes >= MAX_RESPONSE_BYTES) throw new SpoolError('RECORD_TOO_LARGE', `a batch of ${topic}/${cursor.partition} at offset ${cursor.offset} is larger than ${MAX_RESPONSE_BYTES} bytes`)
    cursor.maxBytes = Math.min(cursor.maxBytes * 2, MAX_RESPONSE_BYTES)
  }
  cursor.offset = nextOffset
  const last = records.findIndex((r) => r.offset > cursor.last)
  return last < 0 ? records : records.slice(0, last)
}

async function* readToEnd(client: KafkaClient, topic: string, cursor: Cursor, signal: AbortSignal | undefined): AsyncGenerator<ConsumedRecord> {
  while (cursor.offset <= cursor.last && signal?.aborted !== true) {
    const before = cursor.offset
    const [fetched] = await client.fetch([request(topic, cursor)], { maxWaitMs: 0, minBytes: 0, maxBytes: Math.max(FETCH_MAX_BYTES, cursor.maxBytes) })
    if (fetched === undefined) throw new SpoolError('IO_ERROR', `the Kafka listener did not answer for ${topic}/${cursor.partition}`)
    yield* advance(topic, cursor, fetched)
    if (cursor.offset >= fetched.highWatermark) return
    if (cursor.offset === before && cursor.maxBytes === PARTITION_FETCH_BYTES) {
      throw new SpoolError('CORRUPT_BATCH', `reading ${topic}-${cursor.partition} made no progress at offset ${before}`)
    }
  }
}

async function* follow(client: KafkaClient, topic: string, cursors: Cursor[], signal: AbortSignal | undefined): AsyncGenerator<ConsumedRecord> {
  let open = cursors.filter((c) => c.offset <= c.last)
  while (open.length > 0 && signal?.aborted !== true) {
    // A partition followed from a future offset waits until its log gets there (a Fetch past the end is out of range).
    const ready: Cursor[] = []
    for (const cursor of open) {
      if (cursor.offset > cursor.end) cursor.end = (await client.listOffset(topic, cursor.partition, LATEST_TIMESTAMP)) ?? cursor.end
      if (cursor.offset <= cursor.end) ready.push(cursor)
    }
    if (ready.length === 0) {
      await sleep(FOLLOW_WAIT_MS, signal)
      continue
    }
    const maxBytes = Math.max(FETCH_MAX_BYTES, ...ready.map((c) => c.maxBytes))
    const fetched = await client.fetch(ready.map((c) => request(topic, c)), { maxWaitMs: FOLLOW_WAIT_MS, minBytes: 1, maxBytes }, signal)
    for (const answer of fetched) {
      const cursor = ready.find((c) => c.partition === answer.partition)
      if (cursor !== undefined) yield* advance(topic, cursor, answer)
    }
    open = open.filter((c) => c.offset <= c.last)
  }
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms)
    function done(): void {
      clearTimeout(timer)
      signal?.removeEventListener('abort', done)
      resolve()
    }
    signal?.addEventListener('abort', done, { once: true })
  })
}
