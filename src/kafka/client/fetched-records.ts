import type { ConsumedRecord } from '../../client/reader.js'
import { SpoolError } from '../../errors.js'
import { ATTRIBUTES_CONTROL, BATCH_HEADER_BYTES, BATCH_MAGIC } from '../../record/batch-format.js'
import { MalformedBatchError, batchCrcValid, decodeRecords, lastOffsetOf, readBatchHeader } from '../../record/batch-decoder.js'
import type { StoredRecord } from '../../record/types.js'

export interface DecodedFetch {
  /** The records at or after the requested offset, in offset order. */
  records: ConsumedRecord[]
  /** Where the next fetch starts: after the last whole batch (the requested offset when there was none). */
  nextOffset: number
  /** Bytes of a batch cut off at the end of the response (its maxBytes ran out inside it). */
  partialBytes: number
}

/**
 * Decodes the Records of one partition of a Fetch response, as a Kafka consumer must:
 *
 *   Records => RecordBatch* [partial RecordBatch]
 *   RecordBatch => BaseOffset:INT64 BatchLength:INT32 … (record/FORMAT: the v2 batch)
 *
 * - A broker may end the bytes inside a batch (maxBytes reached): that tail is not an
 *   error, it is fetched again from its offset next time.
 * - A batch starts at or before the requested offset (a broker sends whole batches):
 *   records below `fromOffset` are skipped.
 * - Control batches (transaction markers) hold no application records: skipped, but their
 *   offsets are passed.
 * - Each whole batch's CRC-32C is checked (Kafka's check.crcs): a bad one is CORRUPT_BATCH.
 */
export function decodeFetchedRecords(bytes: Buffer | null, fromOffset: number, topic: string, partition: number): DecodedFetch {
  const records: ConsumedRecord[] = []
  let nextOffset = fromOffset
  if (bytes === null) return { records, nextOffset, partialBytes: 0 }
  let pos = 0
  while (pos < bytes.length) {
    const left = bytes.length - pos
    if (left < BATCH_HEADER_BYTES) break
    const header = readBatchHeader(bytes, pos)
    if (header.sizeBytes < BATCH_HEADER_BYTES) throw corrupt(topic, partition, header.baseOffset, `a batch length of ${header.sizeBytes} bytes`)
    if (header.sizeBytes > left) break
    if (header.magic !== BATCH_MAGIC) throw corrupt(topic, partition, header.baseOffset, `a batch of magic ${header.magic} (spool reads format v2, magic 2)`)
    if (!batchCrcValid(bytes, pos, header)) throw corrupt(topic, partition, header.baseOffset, 'a batch whose CRC does not match its bytes')
    if ((header.attributes & ATTRIBUTES_CONTROL) === 0 && lastOffsetOf(header) >= fromOffset) {
      try {
        decodeRecords(bytes, pos, header, fromOffset, records as StoredRecord[], { topic, partition })
      } catch (error) {
        if (error instanceof MalformedBatchError) throw corrupt(topic, partition, header.baseOffset, `a batch whose records do not parse (${error.message})`)
        throw error
      }
    }
    nextOffset = Math.max(nextOffset, lastOffsetOf(header) + 1)
    pos += header.sizeBytes
  }
  return { records, nextOffset, partialBytes: bytes.length - pos }
}

function corrupt(topic: string, partition: number, offset: number, what: string): SpoolError {
  return new SpoolError('CORRUPT_BATCH', `the Kafka listener sent ${what} for ${topic}/${partition} at offset ${offset}`, { details: { topic, partition, offset } })
}
