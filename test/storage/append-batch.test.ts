import fs from 'node:fs'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { batchChecksumFormat, readBatchHeader } from '../../src/record/batch-decoder.js'
import { encodeBatch, stampCrc } from '../../src/record/batch-encoder.js'
import { ATTRIBUTES_TRANSACTIONAL, OFFSET_ATTRIBUTES, OFFSET_BASE_OFFSET, OFFSET_CRC, OFFSET_LEADER_EPOCH, OFFSET_MAX_TIMESTAMP } from '../../src/record/batch-format.js'
import { readInt64, writeInt64 } from '../../src/record/int64.js'
import { foreignLibraries } from '../helpers/foreign-batches.js'
import { openLog } from '../helpers/open-log.js'
import { readAll } from '../helpers/read-all.js'
import { batchOf, plain } from '../helpers/records.js'
import { tempDir } from '../helpers/temp-dir.js'

const GOLDEN_V1 = fileURLToPath(new URL('../../segments/golden/v1/', import.meta.url))
const NOW = Date.now()

function clientBatch(first: number, count: number, producer?: { producerId: number; producerEpoch: number; baseSequence: number }): Buffer {
  const records = batchOf(first, count).map((record) => ({ ...record, timestamp: NOW }))
  return Buffer.from(encodeBatch(records, NOW, 1 << 20, Buffer.allocUnsafe, producer).bytes)
}

/** The batch as sent, but for the two fields the log assigns (outside the CRC). */
function withoutPlacement(batch: Buffer): Buffer {
  const copy = Buffer.from(batch)
  copy.fill(0, OFFSET_BASE_OFFSET, OFFSET_BASE_OFFSET + 8)
  copy.fill(0, OFFSET_LEADER_EPOCH, OFFSET_LEADER_EPOCH + 4)
  return copy
}

describe('PartitionLog.appendBatch: a client batch stored as it is', () => {
  it('assigns base offsets and stores the bytes unchanged otherwise; readBatchBytes returns them', async () => {
    const log = await openLog(tempDir())
    try {
      const first = clientBatch(0, 3)
      const second = clientBatch(3, 2)
      expect(await log.appendBatch(Buffer.from(first))).toMatchObject({ baseOffset: 0, lastOffset: 2 })
      expect(await log.appendBatch(Buffer.from(second))).toMatchObject({ baseOffset: 3, lastOffset: 4 })
      const read = await log.readBatchBytes(0, 1 << 20)
      expect(read.chunks.map(withoutPlacement)).toEqual([first, second].map(withoutPlacement))
      expect(read.chunks.map((chunk) => readInt64(chunk, OFFSET_BASE_OFFSET))).toEqual([0, 3])
      expect(read.nextOffset).toBe(5)
      expect((await readAll(log)).map(plain)).toEqual(batchOf(0, 5).map(plain))
    } finally {
      await log.close()
    }
  })

  it('returns at least one whole batch however small maxBytes is, and starts at the batch holding the offset', async () => {
    const log = await openLog(tempDir())
    try {
      await log.appendBatch(clientBatch(0, 4))
      await log.appendBatch(clientBatch(4, 4))
      const one = await log.readBatchBytes(2, 1)
      expect(one.chunks).toHaveLength(1)
      expect(readInt64(one.chunks[0]!, OFFSET_BASE_OFFSET)).toBe(0)
      expect(one.nextOffset).toBe(4)
      expect((await log.readBatchBytes(8, 100)).chunks).toEqual([])
      await expect(log.readBatchBytes(9, 100)).rejects.toMatchObject({ code: 'OFFSET_OUT_OF_RANGE' })
    } finally {
      await log.close()
    }
  })

  it('refuses what is not one whole, valid, non-transactional batch, and stores nothing of it', async () => {
    const log = await openLog(tempDir())
    try {
      const good = clientBatch(0, 2)
      const crcDamaged = Buffer.from(good)
      crcDamaged[crcDamaged.length - 1]! ^= 0xff
      await expect(log.appendBatch(crcDamaged)).rejects.toMatchObject({ code: 'CORRUPT_BATCH' })
      await expect(log.appendBatch(Buffer.concat([good, good]))).rejects.toMatchObject({ code: 'INVALID_BATCH' })
      await expect(log.appendBatch(good.subarray(0, good.length - 3))).rejects.toMatchObject({ code: 'INVALID_BATCH' })
      await expect(log.appendBatch(good.subarray(0, 20))).rejects.toMatchObject({ code: 'INVALID_BATCH' })
      const transactional = Buffer.from(good)
      transactional.writeInt16BE(transactional.readInt16BE(OFFSET_ATTRIBUTES) | ATTRIBUTES_TRANSACTIONAL, OFFSET_ATTRIBUTES)
      stampCrc(transactional)
      await expect(log.appendBatch(transactional)).rejects.toMatchObject({ code: 'INVALID_BATCH' })
      await expect(log.appendBatch(Buffer.from(good), { maxRecordBytes: 2 })).rejects.toMatchObject({ code: 'RECORD_TOO_LARGE' })
      expect(log.endOffset).toBe(0)
      expect(await log.appendBatch(Buffer.from(good))).toMatchObject({ baseOffset: 0 })
    } finally {
      await log.close()
    }
  })

  it('sets a wrong max timestamp to what the records carry, with the CRC computed again', async () => {
    const log = await openLog(tempDir())
    try {
      const batch = clientBatch(0, 2)
      writeInt64(batch, OFFSET_MAX_TIMESTAMP, NOW + 5_000_000)
      stampCrc(batch)
      await log.appendBatch(batch)
      const [stored] = (await log.readBatchBytes(0, 1 << 20)).chunks
      expect(readInt64(stored!, OFFSET_MAX_TIMESTAMP)).toBe(NOW)
      expect(batchChecksumFormat(stored!, 0, readBatchHeader(stored!, 0))).toBe(2)
    } finally {
      await log.close()
    }
  })

  it('an idempotent batch sent twice is stored once and answered with its first offsets', async () => {
    const log = await openLog(tempDir())
    try {
      const producer = { producerId: 7, producerEpoch: 0, baseSequence: 0 }
      const batch = clientBatch(0, 3, producer)
      expect(await log.appendBatch(Buffer.from(batch))).toMatchObject({ baseOffset: 0 })
      expect(await log.appendBatch(Buffer.from(batch))).toMatchObject({ baseOffset: 0, lastOffset: 2 })
      expect(log.endOffset).toBe(3)
      const gap = clientBatch(0, 1, { ...producer, baseSequence: 10 })
      await expect(log.appendBatch(gap)).rejects.toMatchObject({ code: 'OUT_OF_ORDER_SEQUENCE' })
    } finally {
      await log.close()
    }
  })

  it('a topic that forces a codec compresses a batch sent in another', async () => {
    const log = await openLog(tempDir(), { compression: 'gzip' })
    try {
      await log.appendBatch(clientBatch(0, 3))
      const [stored] = (await log.readBatchBytes(0, 1 << 20)).chunks
      expect(readBatchHeader(stored!, 0).attributes & 0x07).toBe(1)
      expect((await readAll(log)).map(plain)).toEqual(batchOf(0, 3).map(plain))
    } finally {
      await log.close()
    }
  })

  it('serves batches written before format v2 with their CRC-32C, the checksum clients check', async () => {
    const dir = tempDir()
    fs.cpSync(GOLDEN_V1, dir, { recursive: true })
    const log = await openLog(dir)
    try {
      const read = await log.readBatchBytes(log.startOffset, 1 << 30)
      expect(read.chunks.length).toBeGreaterThan(0)
      for (const chunk of read.chunks) expect(batchChecksumFormat(chunk, 0, readBatchHeader(chunk, 0))).toBe(2)
      const onDisk = fs.readFileSync(`${dir}/${fs.readdirSync(dir).filter((n) => n.endsWith('.log')).sort()[0]}`)
      expect(batchChecksumFormat(onDisk, 0, readBatchHeader(onDisk, 0))).toBe(1)
      expect(read.chunks[0]!.readUInt32BE(OFFSET_CRC)).not.toBe(onDisk.readUInt32BE(OFFSET_CRC))
    } finally {
      await log.close()
    }
  })

  it('stores batches other libraries encoded, in every codec they write, and reads them back exactly', async () => {
    const libraries = await foreignLibraries()
    const log = await openLog(tempDir())
    try {
      let expected = 0
      for (const library of libraries) {
        for (const codec of library.codecs) {
          const bytes = await library.encode({ codec, records: [{ key: Buffer.from('k'), value: Buffer.from(`${library.name}-${codec}`), timestamp: NOW }] })
          const result = await log.appendBatch(bytes)
          expect(result.baseOffset, `${library.name} ${codec}`).toBe(expected)
          expected++
        }
      }
      const values = (await readAll(log)).map((record) => record.value?.toString())
      expect(values).toEqual(libraries.flatMap((library) => library.codecs.map((codec) => `${library.name}-${codec}`)))
    } finally {
      await log.close()
    }
  })
})
