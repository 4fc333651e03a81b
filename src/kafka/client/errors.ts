import { SpoolError, type SpoolErrorCode } from '../../errors.js'
import { KAFKA_ERRORS, kafkaErrorName } from '../protocol/error-codes.js'

/**
 * Kafka's error codes as spool's: the reverse of protocol/error-codes.ts kafkaErrorOf, so
 * that a command that goes through a listener fails with the code it would have failed
 * with on the data directory. A code spool never answers with (or a broker's own) is
 * IO_ERROR, naming the Kafka error.
 */
const BY_KAFKA_CODE: ReadonlyMap<number, SpoolErrorCode> = new Map<number, SpoolErrorCode>([
  [KAFKA_ERRORS.OFFSET_OUT_OF_RANGE, 'OFFSET_OUT_OF_RANGE'],
  [KAFKA_ERRORS.CORRUPT_MESSAGE, 'CORRUPT_BATCH'],
  [KAFKA_ERRORS.UNKNOWN_TOPIC_OR_PARTITION, 'UNKNOWN_TOPIC'],
  [KAFKA_ERRORS.MESSAGE_TOO_LARGE, 'RECORD_TOO_LARGE'],
  [KAFKA_ERRORS.RECORD_LIST_TOO_LARGE, 'RECORD_TOO_LARGE'],
  [KAFKA_ERRORS.INVALID_TOPIC_EXCEPTION, 'INVALID_TOPIC_NAME'],
  [KAFKA_ERRORS.INVALID_TIMESTAMP, 'INVALID_TIMESTAMP'],
  [KAFKA_ERRORS.TOPIC_ALREADY_EXISTS, 'TOPIC_EXISTS'],
  [KAFKA_ERRORS.INVALID_PARTITIONS, 'INVALID_ARGUMENT'],
  [KAFKA_ERRORS.INVALID_REPLICATION_FACTOR, 'INVALID_ARGUMENT'],
  [KAFKA_ERRORS.INVALID_REPLICA_ASSIGNMENT, 'INVALID_ARGUMENT'],
  [KAFKA_ERRORS.INVALID_CONFIG, 'INVALID_ARGUMENT'],
  [KAFKA_ERRORS.INVALID_REQUEST, 'INVALID_ARGUMENT'],
  [KAFKA_ERRORS.POLICY_VIOLATION, 'INVALID_ARGUMENT'],
  [KAFKA_ERRORS.OUT_OF_ORDER_SEQUENCE_NUMBER, 'OUT_OF_ORDER_SEQUENCE'],
  [KAFKA_ERRORS.INVALID_PRODUCER_EPOCH, 'PRODUCER_FENCED'],
  [KAFKA_ERRORS.PRODUCER_FENCED, 'PRODUCER_FENCED'],
  [KAFKA_ERRORS.INVALID_RECORD, 'INVALID_BATCH'],
  [KAFKA_ERRORS.KAFKA_STORAGE_ERROR, 'IO_ERROR'],
])

/**
 * The SpoolError for a Kafka error code the listener answered with. `message` is the
 * listener's own message when the API version carries one (spool's, as the engine
 * wrote it), else what the caller knows; `details` say where.
 */
export function errorFromKafka(errorCode: number, message: string | null | undefined, fallback: string, details: Record<string, unknown> = {}): SpoolError {
  const name = kafkaErrorName(errorCode) ?? `error ${errorCode}`
  const code = BY_KAFKA_CODE.get(errorCode) ?? 'IO_ERROR'
  const text = message !== null && message !== undefined && message !== '' ? message : fallback
  return new SpoolError(code, BY_KAFKA_CODE.has(errorCode) ? text : `${text} (the Kafka listener answered ${name})`, { details: { ...details, kafkaError: name } })
}

export { KAFKA_ERRORS }
