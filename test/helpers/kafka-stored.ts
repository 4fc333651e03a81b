/**
 * What a spool data directory holds, read after its listener closed: the records (to
 * compare with what a client was told) and the codecs of the stored batches (to check a
 * client's compressed batches were kept as it sent them).
 */
import { partitionDir } from '../../src/topics/catalog.js'
import type { ReadRecord } from './kafka-records.js'
import { openLog } from './open-log.js'
import { openTestSpool } from './open-spool.js'

/** Every record of `topic`, partition by partition, through spool's own reader. */
export async function storedRecords(dir: string, topic: string): Promise<ReadRecord[]> {
  const spool = await openTestSpool(dir, { cleanerIntervalMs: 0, readOnly: true })
  try {
    const partitions = (await spool.describeTopic(topic)).partitions.length
    const records: ReadRecord[] = []
    for (let partition = 0; partition < partitions; partition++) {
      for await (const record of spool.read(topic, { partition })) {
        records.push({ partition, offset: record.offset, key: record.key === null ? null : Buffer.from(record.key), value: record.value === null ? null : Buffer.from(record.value) })
      }
    }
    return records
  } finally {
    await spool.close()
  }
}

/** Byte 21 of a v2 batch: attributes (int16); the codec is its low 3 bits. */
const ATTRIBUTES_OFFSET = 21
const CODEC_NAMES = ['none', 'gzip', 'snappy', 'lz4', 'zstd']
const READ_BYTES = 1024 * 1024

/** The codec of every stored batch of one partition, counted by name. */
export async function storedCodecs(dir: string, topic: string, partition: number): Promise<Record<string, number>> {
  const log = await openLog(partitionDir(dir, topic, partition), { readOnly: true })
  try {
    const counts: Record<string, number> = {}
    let offset = log.startOffset
    while (offset < log.endOffset) {
      const { chunks, nextOffset } = await log.readBatchBytes(offset, READ_BYTES)
      for (const chunk of chunks) {
        for (let at = 0; at + ATTRIBUTES_OFFSET + 2 <= chunk.length; ) {
          const codec = CODEC_NAMES[chunk.readInt16BE(at + ATTRIBUTES_OFFSET) & 0x07] ?? 'unknown'
          counts[codec] = (counts[codec] ?? 0) + 1
          at += 12 + chunk.readInt32BE(at + 8) // baseOffset (8) + batchLength (4) + batchLength bytes
        }
      }
      if (nextOffset <= offset) break
      offset = nextOffset
    }
    return counts
  } finally {
    await log.close()
  }
}
