import fs from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { batchCodec, readBatchHeader, type BatchHeader } from '../../src/record/batch-decoder.js'
import { COMPRESSION_CODECS } from '../../src/record/compression/index.js'
import type { Spool } from '../../src/client/spool.js'
import { expectCode } from '../helpers/expect-code.js'
import { faultyIO } from '../helpers/faulty-io.js'
import { openTestSpool } from '../helpers/open-spool.js'
import { tempDir } from '../helpers/temp-dir.js'

/** The headers of every batch a partition holds, from its .log files. */
function batchHeaders(dir: string, topic: string, partition = 0): BatchHeader[] {
  const partitionDir = path.join(dir, `${topic}-${partition}`)
  const headers: BatchHeader[] = []
  for (const name of fs.readdirSync(partitionDir).filter((n) => n.endsWith('.log')).sort()) {
    const bytes = fs.readFileSync(path.join(partitionDir, name))
    for (let at = 0; at < bytes.length; at += readBatchHeader(bytes, at).sizeBytes) headers.push(readBatchHeader(bytes, at))
  }
  return headers
}

async function values(spool: Spool, topic: string): Promise<string[]> {
  const out: string[] = []
  for await (const record of spool.read(topic)) out.push(record.value!.toString())
  return out
}

const records = (topic: string, from: number, n: number): Array<{ topic: string; key: string; value: string }> =>
  Array.from({ length: n }, (_, i) => ({ topic, key: `k${(from + i) % 3}`, value: `{"n":${from + i},"text":"some repeated text some repeated text"}` }))

describe('producer: compression and idempotence', () => {
  for (const codec of COMPRESSION_CODECS) {
    it(`compression '${codec}' stores batches with that codec, and reads give the records back`, async () => {
      const dir = tempDir()
      const spool = await openTestSpool(dir)
      try {
        await spool.createTopic('t')
        const producer = spool.producer({ compression: codec })
        await producer.sendBatch(records('t', 0, 50))
        expect(await values(spool, 't')).toEqual(records('t', 0, 50).map((r) => r.value))
      } finally {
        await spool.close()
      }
      const headers = batchHeaders(dir, 't')
      expect(headers.map(batchCodec)).toEqual([codec])
      const reopened = await openTestSpool(dir)
      try {
        expect((await values(reopened, 't')).length).toBe(50)
      } finally {
        await reopened.close()
      }
    })
  }

  it('a consumer group gets the records of batches of every codec, in order', async () => {
    const spool = await openTestSpool(tempDir())
    try {
      await spool.createTopic('t')
      let sent: string[] = []
      for (const codec of COMPRESSION_CODECS) {
        const batch = records('t', sent.length, 30).map((r) => ({ ...r, partition: 0 }))
        await spool.producer({ compression: codec }).sendBatch(batch)
        sent = [...sent, ...batch.map((r) => r.value)]
      }
      const consumer = spool.consumer({ group: 'g', topics: ['t'], autoCommit: false })
      const got: string[] = []
      while (got.length < sent.length) for (const record of await consumer.poll({ maxRecords: 1000 })) got.push(record.value!.toString())
      expect(got).toEqual(sent)
      await consumer.close()
    } finally {
      await spool.close()
    }
  })

  it("a topic's compression overrides the producer's; 'producer' keeps it", async () => {
    const dir = tempDir()
    const spool = await openTestSpool(dir)
    try {
      await spool.createTopic('forced', { compression: 'zstd' })
      await spool.createTopic('free')
      const producer = spool.producer({ compression: 'lz4' })
      await producer.sendBatch([...records('forced', 0, 5), ...records('free', 0, 5)])
    } finally {
      await spool.close()
    }
    expect(batchHeaders(dir, 'forced').map(batchCodec)).toEqual(['zstd'])
    expect(batchHeaders(dir, 'free').map(batchCodec)).toEqual(['lz4'])
  })

  it('refuses an unknown codec, naming the options', async () => {
    const spool = await openTestSpool(tempDir())
    try {
      expect(() => spool.producer({ compression: 'brotli' as never })).toThrow(/none, gzip, snappy, lz4, zstd/)
      await expectCode(spool.createTopic('t', { compression: 'xz' as never }), 'INVALID_ARGUMENT')
    } finally {
      await spool.close()
    }
  })

  it('is idempotent by default: batches carry its id, epoch 0 and consecutive sequences per partition; ids differ per producer', async () => {
    const dir = tempDir()
    const spool = await openTestSpool(dir)
    let ids: Array<number | null> = []
    try {
      await spool.createTopic('t')
      const a = spool.producer()
      const b = spool.producer()
      await a.sendBatch(records('t', 0, 3))
      await b.send(records('t', 3, 1)[0]!)
      await a.sendBatch(records('t', 4, 2))
      ids = [a.producerId, b.producerId]
      const plain = spool.producer({ idempotent: false })
      await plain.send(records('t', 6, 1)[0]!)
      expect(plain.producerId).toBeNull()
    } finally {
      await spool.close()
    }
    expect(ids[0]).toBeGreaterThan(0)
    expect(ids[1]).not.toBe(ids[0])
    const headers = batchHeaders(dir, 't').map((h) => [h.producerId, h.producerEpoch, h.baseSequence, h.recordCount])
    expect(headers).toEqual([
      [ids[0], 0, 0, 3],
      [ids[1], 0, 0, 1],
      [ids[0], 0, 3, 2],
      [-1, -1, -1, 1],
    ])
  })

  it('producer ids are never handed out twice, across reopens', async () => {
    const dir = tempDir()
    const seen = new Set<number>()
    for (let round = 0; round < 3; round++) {
      const spool = await openTestSpool(dir)
      try {
        if (round === 0) await spool.createTopic('t')
        for (let i = 0; i < 3; i++) {
          const producer = spool.producer()
          await producer.send(records('t', i, 1)[0]!)
          expect(seen.has(producer.producerId!)).toBe(false)
          seen.add(producer.producerId!)
        }
      } finally {
        await spool.close()
      }
    }
    expect(seen.size).toBe(9)
  })

  it('after a failed write, the next sends go through at a new epoch, from sequence 0', async () => {
    const dir = tempDir()
    const io = faultyIO()
    const spool = await openTestSpool(dir, { io })
    try {
      await spool.createTopic('t')
      const producer = spool.producer()
      await producer.sendBatch(records('t', 0, 2))
      io.arm({ op: 'writev', path: '.log', errno: 'ENOSPC' })
      await expectCode(producer.sendBatch(records('t', 2, 2)), 'DISK_FULL')
      await producer.sendBatch(records('t', 4, 2))
      expect(await values(spool, 't')).toEqual([...records('t', 0, 2), ...records('t', 4, 2)].map((r) => r.value))
    } finally {
      await spool.close()
    }
    expect(batchHeaders(dir, 't').map((h) => [h.producerEpoch, h.baseSequence])).toEqual([
      [0, 0],
      [1, 0],
    ])
  })
})
