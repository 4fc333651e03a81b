import type { PartitionLog } from '../storage/partition-log.js'

/** How far a reader at `offset` is behind the end of one partition. */
export interface PartitionLag {
  topic: string
  partition: number
  /** Where the reader is: the next offset it will process. */
  offset: number
  /** The partition's end offset (the next offset to be written). */
  endOffset: number
  /** Records behind (an upper bound if compaction removed some). */
  records: number
  /** Bytes of log behind. */
  bytes: number
  /** The age of the oldest unprocessed record, in ms; 0 when caught up. */
  timeMs: number
}

/**
 * The lag of a reader at `offset`. An offset below the partition's start (retention
 * removed what it had not read) counts from the start: those records are gone.
 */
export async function partitionLag(topic: string, partition: number, log: PartitionLog, offset: number, now: number): Promise<PartitionLag> {
  const endOffset = log.endOffset
  const from = Math.max(offset, log.startOffset)
  if (from >= endOffset) return { topic, partition, offset, endOffset, records: 0, bytes: 0, timeMs: 0 }
  const [bytes, oldest] = await Promise.all([log.bytesFrom(from), log.read(from, { maxBytes: 1 })])
  const first = oldest.records[0]
  return {
    topic,
    partition,
    offset,
    endOffset,
    records: endOffset - from,
    bytes,
    timeMs: first === undefined ? 0 : Math.max(0, now - first.timestamp),
  }
}
