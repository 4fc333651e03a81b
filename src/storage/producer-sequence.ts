import { SpoolError, invalidArgument } from '../errors.js'
import { MAX_PRODUCER_EPOCH, MAX_SEQUENCE } from '../record/batch-format.js'
import { PRODUCER_BATCHES_RETAINED, type ProducerEntry, type RetainedBatch } from './producer-state-snapshot.js'

/**
 * The sequence rules of idempotent producers (Kafka's ProducerAppendInfo.checkSequence
 * and checkProducerEpoch after KIP-360), on one producer's entry: see producer-state.ts.
 */

/** Sequences and offset deltas are int32; epochs int16 (batch-format.ts). */
const INT32_MAX = MAX_SEQUENCE
const INT16_MAX = MAX_PRODUCER_EPOCH

export interface ProducerBatch {
  /** -1 (any negative) for a batch of a producer that is not idempotent: never checked nor kept. */
  producerId: number
  producerEpoch: number
  baseSequence: number
  /** Records in the batch; not used by the rules (compaction may remove records, never the span lastOffsetDelta covers). */
  recordCount: number
  /** The batch's last sequence is baseSequence + lastOffsetDelta, wrapping past 2^31 - 1 to 0. */
  lastOffsetDelta: number
  /** The batch's (max) timestamp, in ms: what expiry measures silence from. */
  timestamp: number
}

export type SequenceVerdict =
  /** A new batch: write it. */
  | { kind: 'append' }
  /** Already in the log: answer with these offsets, write nothing. */
  | { kind: 'duplicate'; baseOffset: number; lastOffset: number }

export const APPEND: SequenceVerdict = Object.freeze({ kind: 'append' })

/** The sequence of a batch's last record: Kafka's DefaultRecordBatch.incrementSequence. */
export function lastSequenceOf(baseSequence: number, lastOffsetDelta: number): number {
  return baseSequence > INT32_MAX - lastOffsetDelta ? lastOffsetDelta - (INT32_MAX - baseSequence) - 1 : baseSequence + lastOffsetDelta
}

/** The sequence that follows `sequence`: after 2^31 - 1 comes 0. */
export function nextSequence(sequence: number): number {
  return sequence === INT32_MAX ? 0 : sequence + 1
}

/** The verdict on `batch` given what is known of its producer; throws SpoolError on a bad epoch, sequence or field. */
export function verdict(entry: ProducerEntry | undefined, batch: ProducerBatch): SequenceVerdict {
  checkFields(batch)
  if (entry === undefined) return APPEND
  const { producerId, producerEpoch, baseSequence } = batch
  if (producerEpoch < entry.epoch) {
    throw new SpoolError(
      'PRODUCER_FENCED',
      `producer ${producerId} has epoch ${producerEpoch}, but a newer instance of it (epoch ${entry.epoch}) took over; close this one`,
      { details: { producerId, producerEpoch, currentEpoch: entry.epoch } },
    )
  }
  if (producerEpoch > entry.epoch) {
    if (baseSequence !== 0) throw outOfOrder(batch, 0, `a new epoch (${producerEpoch}) must start at sequence 0, not ${baseSequence}`)
    return APPEND
  }
  const lastSequence = lastSequenceOf(baseSequence, batch.lastOffsetDelta)
  for (const retained of entry.batches) {
    if (retained.firstSeq === baseSequence && retained.lastSeq === lastSequence) {
      return { kind: 'duplicate', baseOffset: retained.firstOffset, lastOffset: retained.lastOffset }
    }
  }
  const expected = nextSequence(newestOf(entry).lastSeq)
  if (baseSequence === expected) return APPEND
  // Ahead or behind on the circle of sequences: a batch less than half of it ahead skipped some.
  const ahead = (baseSequence - expected + INT32_MAX + 1) % (INT32_MAX + 1) < 2 ** 30
  const problem =
    ahead
      ? `a batch is missing before sequence ${baseSequence} (expected ${expected}): the producer must not skip batches`
      : `sequence ${baseSequence} was already written and is not one of the last ${PRODUCER_BATCHES_RETAINED} batches (expected ${expected})`
  throw outOfOrder(batch, expected, problem)
}

function outOfOrder(batch: ProducerBatch, expectedSequence: number, problem: string): SpoolError {
  const { producerId, producerEpoch, baseSequence } = batch
  return new SpoolError('OUT_OF_ORDER_SEQUENCE', `producer ${producerId} (epoch ${producerEpoch}): ${problem}; restart it to get a new producer id`, {
    details: { producerId, producerEpoch, expectedSequence, sequence: baseSequence },
  })
}

/** The entry after `batch` was written at [baseOffset, lastOffset]; a new array, `entry` is untouched. */
export function applied(entry: ProducerEntry | undefined, batch: ProducerBatch, baseOffset: number, lastOffset: number): ProducerEntry {
  checkFields(batch)
  if (!Number.isSafeInteger(baseOffset) || baseOffset < 0 || !Number.isSafeInteger(lastOffset) || lastOffset < baseOffset) {
    throw invalidArgument('offsets', `must be 0 <= baseOffset <= lastOffset, not ${baseOffset}..${lastOffset}`)
  }
  const retained: RetainedBatch = {
    firstSeq: batch.baseSequence,
    lastSeq: lastSequenceOf(batch.baseSequence, batch.lastOffsetDelta),
    firstOffset: baseOffset,
    lastOffset,
    timestamp: batch.timestamp,
  }
  // A new epoch starts over: the batches of the old one are no longer duplicates.
  if (entry === undefined || entry.epoch !== batch.producerEpoch) return { epoch: batch.producerEpoch, batches: [retained] }
  return { epoch: entry.epoch, batches: [...entry.batches.slice(-(PRODUCER_BATCHES_RETAINED - 1)), retained] }
}

/** Field ranges a batch header can hold; they keep every snapshot encodable. */
function checkFields(batch: ProducerBatch): void {
  const { producerId, producerEpoch, baseSequence, lastOffsetDelta, timestamp } = batch
  if (!Number.isSafeInteger(producerId)) throw invalidArgument('producerId', `must be an integer below 2^53, not ${producerId}`)
  if (!Number.isInteger(producerEpoch) || producerEpoch < 0 || producerEpoch > INT16_MAX) {
    throw invalidArgument('producerEpoch', `must be an integer from 0 to ${INT16_MAX}, not ${producerEpoch}`)
  }
  if (!Number.isInteger(baseSequence) || baseSequence < 0 || baseSequence > INT32_MAX) {
    throw invalidArgument('baseSequence', `must be an integer from 0 to ${INT32_MAX}, not ${baseSequence}`)
  }
  if (!Number.isInteger(lastOffsetDelta) || lastOffsetDelta < 0 || lastOffsetDelta > INT32_MAX) {
    throw invalidArgument('lastOffsetDelta', `must be an integer from 0 to ${INT32_MAX}, not ${lastOffsetDelta}`)
  }
  if (!Number.isSafeInteger(timestamp)) throw invalidArgument('timestamp', `must be an integer, not ${timestamp}`)
}

/** A producer's newest retained batch. */
export function newestOf(entry: ProducerEntry): RetainedBatch {
  return entry.batches[entry.batches.length - 1]!
}
