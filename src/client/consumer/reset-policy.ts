import { SpoolError } from '../../errors.js'
import type { TopicPartition } from '../../groups/assignors.js'
import type { Logger } from '../../storage/logger.js'
import type { PartitionLog } from '../../storage/partition-log.js'
import { type TopicIdentity, topicIdentityOf } from '../../topics/topics.js'
import type { ResolvedConsumerOptions } from '../consumer-options.js'

/** A group's committed position on a partition, as the store has it. */
export interface CommittedPosition {
  offset: number
  /** The log incarnation of the record before `offset`; null when the commit carried none. */
  leaderEpoch: number | null
  /** The id of the topic it was committed on; absent for commits made before topic ids. */
  topicId?: string
  /** When it was committed; null or absent when unknown. */
  committedAt?: number | null
}

/**
 * Why `committed` belongs to an earlier topic of the same name, or null if it may be this
 * one's. A commit names the topic it was made on by id; one made before topic ids is
 * an earlier topic's only if it is older than this topic. An offset of a deleted topic
 * means nothing in a new one: taken as is, it would skip the new topic's first records.
 */
export function earlierTopicsCommit(committed: CommittedPosition, topic: TopicIdentity): string | null {
  if (committed.topicId !== undefined) {
    return committed.topicId === topic.topicId ? null : `it was committed on topic id ${committed.topicId}, and the topic now is ${topic.topicId} (deleted and created again)`
  }
  const at = committed.committedAt ?? null
  return at !== null && at < topic.createdAt ? `it was committed at ${at}, before the topic now was created (${topic.createdAt})` : null
}

/** Whether `stored` was committed on this incarnation of the log's topic (see earlierTopicsCommit). */
export function isOwnCommit(stored: CommittedPosition, log: PartitionLog): boolean {
  const topic = topicIdentityOf(log)
  return topic === undefined || earlierTopicsCommit(stored, topic) === null
}

/**
 * Where a group starts on a partition: at its committed offset if the log still holds it
 * as the group saw it, else where the group's reset policy says — with a warning when a
 * committed offset is passed over, and never by a guess under 'error'. Every start and
 * every reset of a consumer's position goes through here.
 *
 * A log that lost records in a crash (flush 'never' or an interval) hands their offsets
 * out again, to new records. A committed offset past the end of the epoch it was
 * committed in would skip those new records silently: the group resumes instead at the
 * first offset handed out again (Kafka's consumer does the same when it detects a log
 * truncation), with a warning; under 'error' it is an error.
 */
export function startOffset(
  { group, resetPolicy }: Pick<ResolvedConsumerOptions, 'group' | 'resetPolicy'>,
  logger: Logger,
  tp: TopicPartition,
  log: PartitionLog,
  stored: CommittedPosition | undefined,
): number {
  const at = `${tp.topic}-${tp.partition}`
  const topic = topicIdentityOf(log)
  const foreign = stored === undefined || topic === undefined ? null : earlierTopicsCommit(stored, topic)
  if (foreign !== null) logger.warn(`group "${group}" ignores its committed offset ${stored!.offset} on ${at}: ${foreign}; it starts per its resetPolicy '${resetPolicy}'`)
  const committed = foreign === null ? stored : undefined
  if (committed !== undefined && committed.leaderEpoch !== null) {
    const diverged = log.divergence(committed.offset, committed.leaderEpoch)
    if (diverged !== null) {
      const why = `group "${group}" committed offset ${committed.offset} on ${at} in log epoch ${committed.leaderEpoch}, but a crash took that epoch's records from offset ${diverged} on away and new records took their offsets`
      if (resetPolicy === 'error') throw outOfRange(why, { group, tp, offset: committed.offset, log })
      const resume = Math.min(Math.max(diverged, log.startOffset), log.endOffset)
      logger.warn(`${why}; resuming at ${resume} so that none of the new records is skipped`)
      return resume
    }
  }
  const offset = committed?.offset
  if (offset !== undefined && offset >= log.startOffset && offset <= log.endOffset) return offset
  const where = offset === undefined ? 'has no committed offset' : `committed offset ${offset}, outside the log [${log.startOffset}, ${log.endOffset}]`
  switch (resetPolicy) {
    case 'earliest':
      if (offset !== undefined) logger.warn(`group "${group}" ${where} on ${at}; starting at the earliest offset`)
      return log.startOffset
    case 'latest':
      if (offset !== undefined) logger.warn(`group "${group}" ${where} on ${at}; starting at the latest offset`)
      return log.endOffset
    case 'error':
      throw outOfRange(`group "${group}" ${where} on ${at} and its resetPolicy is 'error'`, { group, tp, offset: offset ?? null, log })
  }
}

function outOfRange(why: string, facts: { group: string; tp: TopicPartition; offset: number | null; log: PartitionLog }): SpoolError {
  const { group, tp, offset, log } = facts
  return new SpoolError(
    'OFFSET_OUT_OF_RANGE',
    `${why}; set an offset with spool groups reset-offsets, or use resetPolicy 'earliest' or 'latest'`,
    { details: { group, topic: tp.topic, partition: tp.partition, offset, startOffset: log.startOffset, endOffset: log.endOffset } },
  )
}
