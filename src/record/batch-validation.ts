import { SpoolError } from '../errors.js'
import { type BatchHeader, MalformedBatchError, batchChecksumFormat, batchCodec, decodeRecords, headerProblem, readBatchHeader } from './batch-decoder.js'
import { type EncodedBatch, type ProducerIdentity, stampCrc } from './batch-encoder.js'
import { writeInt64 } from './int64.js'
import {
  ATTRIBUTES_CONTROL,
  ATTRIBUTES_LOG_APPEND_TIME,
  ATTRIBUTES_TRANSACTIONAL,
  BATCH_HEADER_BYTES,
  NO_TIMESTAMP,
  OFFSET_MAX_TIMESTAMP,
} from './batch-format.js'
import type { CompressionCodec } from './compression/index.js'
import { payloadBytes } from './payload.js'
import type { StoredRecord } from './types.js'

/** A batch a client sent, checked whole: ready to be stored as it is. */
export interface ValidatedBatch {
  batch: EncodedBatch
  producer: ProducerIdentity
  codec: CompressionCodec
  /** Its records, decoded (views into the batch or its decompressed records). */
  records: StoredRecord[]
}

export interface BatchLimits {
  maxBatchBytes: number
  /** Largest key + value + headers of one record (the topic's maxRecordBytes). */
  maxRecordBytes: number
}

/**
 * Checks a record batch that arrived from outside (a Kafka client's Produce) before it
 * is stored byte for byte: exactly one batch; magic 2; its CRC-32C; not transactional nor
 * a control batch (spool has no transactions yet: such a batch would later be served as
 * committed data); record count and offset deltas 0..n-1, as Kafka requires of producers;
 * every record parses to the batch's end (compressed ones are decompressed to check
 * them), none larger than the topic allows. The max timestamp is set to what the records
 * carry when a client got it wrong (the CRC is computed again then), so that the time
 * index and retention see the truth.
 *
 * A damaged checksum is CORRUPT_BATCH (the bytes changed on the way: a retry may pass);
 * anything else is INVALID_BATCH or RECORD_TOO_LARGE (sending it again cannot help).
 */
export function validateClientBatch(bytes: Buffer, limits: BatchLimits): ValidatedBatch {
  if (bytes.length < BATCH_HEADER_BYTES) throw invalid(`it is ${bytes.length} bytes, shorter than a batch header (${BATCH_HEADER_BYTES})`)
  const header = readBatchHeader(bytes, 0)
  if (header.sizeBytes > limits.maxBatchBytes && header.sizeBytes <= bytes.length) {
    throw new SpoolError('RECORD_TOO_LARGE', `a batch of ${header.sizeBytes} bytes exceeds the limit of ${limits.maxBatchBytes}; send smaller batches`, {
      details: { bytes: header.sizeBytes, maxBatchBytes: limits.maxBatchBytes },
    })
  }
  const problem = headerProblem(header, limits.maxBatchBytes)
  if (problem !== null) throw invalid(problem)
  if (header.sizeBytes !== bytes.length) {
    throw invalid(`its length field says ${header.sizeBytes} bytes but ${bytes.length} were sent: a partition's records must be exactly one batch`)
  }
  if (batchChecksumFormat(bytes, 0, header) !== 2) {
    throw new SpoolError('CORRUPT_BATCH', 'the batch sent fails its CRC-32C check: it was damaged on the way; send it again', { details: { reason: 'crc' } })
  }
  if ((header.attributes & (ATTRIBUTES_TRANSACTIONAL | ATTRIBUTES_CONTROL)) !== 0) {
    throw invalid('it is transactional or a control batch, and spool has no transactions yet; produce without a transactional id')
  }
  if (header.lastOffsetDelta !== header.recordCount - 1) {
    throw invalid(`its last offset delta ${header.lastOffsetDelta} does not match its ${header.recordCount} records`)
  }
  const records = decodeChecked(bytes, header)
  let maxTimestamp = NO_TIMESTAMP
  let minTimestamp = Number.POSITIVE_INFINITY
  for (let i = 0; i < records.length; i++) {
    const record = records[i]!
    if (record.offset - header.baseOffset !== i) throw invalid(`record ${i} has offset delta ${record.offset - header.baseOffset}, expected ${i}`)
    const size = payloadBytes(record.key, record.value, record.headers)
    if (size > limits.maxRecordBytes) {
      throw new SpoolError('RECORD_TOO_LARGE', `record ${i} holds ${size} bytes, more than the topic's maxRecordBytes of ${limits.maxRecordBytes}`, {
        details: { bytes: size, maxRecordBytes: limits.maxRecordBytes },
      })
    }
    if (record.timestamp > maxTimestamp) maxTimestamp = record.timestamp
    if (record.timestamp !== NO_TIMESTAMP && record.timestamp < minTimestamp) minTimestamp = record.timestamp
  }
  const logAppendTime = (header.attributes & ATTRIBUTES_LOG_APPEND_TIME) !== 0
  if (!logAppendTime && header.maxTimestamp !== maxTimestamp) {
    writeInt64(bytes, OFFSET_MAX_TIMESTAMP, maxTimestamp)
    stampCrc(bytes)
  }
  return {
    batch: {
      bytes,
      recordCount: header.recordCount,
      maxTimestamp,
      minTimestamp: minTimestamp === Number.POSITIVE_INFINITY ? NO_TIMESTAMP : minTimestamp,
    },
    producer: { producerId: header.producerId, producerEpoch: header.producerEpoch, baseSequence: header.baseSequence },
    codec: batchCodec(header),
    records,
  }
}

function decodeChecked(bytes: Buffer, header: BatchHeader): StoredRecord[] {
  const records: StoredRecord[] = []
  try {
    decodeRecords(bytes, 0, header, header.baseOffset, records)
  } catch (error) {
    if (error instanceof MalformedBatchError) throw invalid(`its records do not parse: ${error.message}`)
    throw error
  }
  if (records.length !== header.recordCount) throw invalid(`it holds ${records.length} records, its header says ${header.recordCount}`)
  return records
}

function invalid(why: string): SpoolError {
  return new SpoolError('INVALID_BATCH', `the batch sent was refused: ${why}`, { details: { reason: why } })
}
