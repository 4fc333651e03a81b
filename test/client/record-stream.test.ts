import { describe, expect, it } from 'vitest'
import type { ConsumedRecord } from '../../src/client/reader.js'
import { ChunkReader, RecordStream } from '../../src/client/record-stream.js'
import type { Spool } from '../../src/client/spool.js'
import type { PartitionLog } from '../../src/storage/partition-log.js'
import { expectCode } from '../helpers/expect-code.js'
import { openTestSpool } from '../helpers/open-spool.js'
import { tempDir } from '../helpers/temp-dir.js'

/** Records of ~100 B, 10 a batch, over several segments: small `maxBytes` reads make many chunks, so the read ahead is always in play. */
async function spoolWith(records: number): Promise<Spool> {
  const spool = await openTestSpool(tempDir())
  await spool.createTopic('t', { segmentBytes: 16 * 1024 })
  const producer = spool.producer()
  for (let first = 0; first < records; first += BATCH_RECORDS) {
    await producer.sendBatch(Array.from({ length: BATCH_RECORDS }, (_, k) => ({ topic: 't', key: `k${first + k}`, value: `v${first + k}`.padEnd(100, '.') })))
  }
  return spool
}

const BATCH_RECORDS = 10

const READ_BYTES = 2048

describe("spool.read's iterator and spool.readBatches", () => {
  it('hands out every record once, in order, across chunks and segments', async () => {
    const spool = await spoolWith(2_000)
    const offsets: number[] = []
    for await (const record of spool.read('t', { maxBytes: READ_BYTES })) {
      expect(record.value!.toString()).toBe(`v${record.offset}`.padEnd(100, '.'))
      offsets.push(record.offset)
    }
    expect(offsets).toEqual(Array.from({ length: 2_000 }, (_, i) => i))
    await spool.close()
  })

  it('answers next() calls made before the previous one settled in order, as a generator does', async () => {
    const spool = await spoolWith(300)
    const stream = spool.read('t', { maxBytes: READ_BYTES, toOffset: 249 })
    const results = await Promise.all(Array.from({ length: 260 }, () => stream.next()))
    expect(results.slice(0, 250).map((r) => r.value!.offset)).toEqual(Array.from({ length: 250 }, (_, i) => i))
    expect(results.slice(250).every((r) => r.done === true)).toBe(true)
    await spool.close()
  })

  it('stops at toOffset inside a chunk, and at return() or break, with nothing more after', async () => {
    const spool = await spoolWith(500)
    const upTo: number[] = []
    for await (const record of spool.read('t', { fromOffset: 3, toOffset: 137, maxBytes: READ_BYTES })) upTo.push(record.offset)
    expect(upTo).toEqual(Array.from({ length: 135 }, (_, i) => i + 3))

    const stream = spool.read('t', { maxBytes: READ_BYTES })
    for await (const record of stream) if (record.offset === 10) break
    expect(await stream.next()).toEqual({ value: undefined, done: true })

    const thrown = spool.read('t', { maxBytes: READ_BYTES })
    await thrown.next()
    await expect(thrown.throw(new Error('stop'))).rejects.toThrow('stop')
    expect((await thrown.next()).done).toBe(true)
    await spool.close()
  })

  it('readBatches gives the same records, a log read at a time, within the bounds', async () => {
    const spool = await spoolWith(1_000)
    const batches: number[][] = []
    for await (const records of spool.readBatches('t', { fromOffset: 100, toOffset: 899, maxBytes: READ_BYTES })) batches.push(records.map((r) => r.offset))
    expect(batches.length).toBeGreaterThan(10)
    expect(batches.every((b) => b.length > 0)).toBe(true)
    expect(batches.flat()).toEqual(Array.from({ length: 800 }, (_, i) => i + 100))
    await expectCode(spool.readBatches('missing').next(), 'UNKNOWN_TOPIC')
    await spool.close()
  })

  it('reports a failure of the next read when it reaches it, and ends', async () => {
    const spool = await spoolWith(1_000)
    const stream = spool.read('t', { maxBytes: READ_BYTES })
    const first = await stream.next()
    expect(first.value!.offset).toBe(0)
    await spool.close() // the read ahead in flight, or the next one, now fails with CLOSED
    await expectCode(
      (async () => {
        for (let r = await stream.next(); r.done !== true; r = await stream.next());
      })(),
      'CLOSED',
    )
    expect((await stream.next()).done).toBe(true)
  })

  it('reads on past a read that found only records compacted away, as the generator did', async () => {
    const record = (offset: number): ConsumedRecord => ({ topic: 't', partition: 0, offset, timestamp: 0, key: null, value: null, headers: [] })
    // Offsets 0-9 compacted away: the first read returns none but moves on; then 10-11.
    const reads: Record<number, { records: ConsumedRecord[]; nextOffset: number }> = {
      0: { records: [], nextOffset: 10 },
      10: { records: [record(10), record(11)], nextOffset: 12 },
    }
    const log = { endOffset: 12 } as PartitionLog
    const start = async () => ({ log, from: 0, read: async (offset: number) => reads[offset]! })
    const stream = new RecordStream(new ChunkReader({ topic: 't', partition: 0, last: Infinity, follow: false, signal: undefined }, start))
    const offsets: number[] = []
    for await (const r of stream) offsets.push(r.offset)
    expect(offsets).toEqual([10, 11])
  })
})
