import { SpoolError } from '../../errors.js'
import type { TopicPartition } from '../../groups/assignors.js'
import type { Logger } from '../../storage/logger.js'
import type { PartitionLog } from '../../storage/partition-log.js'
import type { ResolvedConsumerOptions } from '../consumer-options.js'

/**
 * Where a group starts on a partition: at its committed offset if the log still holds it,
 * else where the group's reset policy says — with a warning when a committed offset is
 * passed over, and never by a guess under 'error'. Every start and every reset of a
 * consumer's position goes through here.
 */
export function startOffset(
  { group, resetPolicy }: Pick<ResolvedConsumerOptions, 'group' | 'resetPolicy'>,
  logger: Logger,
  tp: TopicPartition,
  log: PartitionLog,
  committed: number | undefined,
): number {
  if (committed !== undefined && committed >= log.startOffset && committed <= log.endOffset) return committed
  const where = committed === undefined ? 'has no committed offset' : `committed offset ${committed}, outside the log [${log.startOffset}, ${log.endOffset}]`
  switch (resetPolicy) {
    case 'earliest':
      if (committed !== undefined) logger.warn(`group "${group}" ${where} on ${tp.topic}-${tp.partition}; starting at the earliest offset`)
      return log.startOffset
    case 'latest':
      if (committed !== undefined) logger.warn(`group "${group}" ${where} on ${tp.topic}-${tp.partition}; starting at the latest offset`)
      return log.endOffset
    case 'error':
      throw new SpoolError(
        'OFFSET_OUT_OF_RANGE',
        `group "${group}" ${where} on ${tp.topic}-${tp.partition} and its resetPolicy is 'error'; set one with spool groups reset-offsets, or use resetPolicy 'earliest' or 'latest'`,
        { details: { group, topic: tp.topic, partition: tp.partition, offset: committed ?? null, startOffset: log.startOffset, endOffset: log.endOffset } },
      )
  }
}
