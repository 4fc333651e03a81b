import { KAFKA_ERRORS, kafkaErrorOf } from '../protocol/error-codes.js'
import type { Handler } from './handler.js'

/**
 * InitProducerId for idempotent producers: a producer id never handed out before
 * (durable blocks in producer-ids.json, so not even after a power cut) at epoch 0. The
 * partitions' producer state (format issue) then drops a batch sent twice. A
 * transactional id is refused: spool has no transactions yet.
 */
export const handleInitProducerId: Handler = async (request: { transactionalId: string | null }, { broker }) => {
  if (request.transactionalId !== null) {
    return { errorCode: KAFKA_ERRORS.INVALID_REQUEST, producerId: -1, producerEpoch: -1 }
  }
  try {
    return { errorCode: KAFKA_ERRORS.NONE, producerId: await broker.allocateProducerId(), producerEpoch: 0 }
  } catch (error) {
    broker.logger.warn(`InitProducerId failed: ${error instanceof Error ? error.message : String(error)}`)
    return { errorCode: kafkaErrorOf(error), producerId: -1, producerEpoch: -1 }
  }
}
