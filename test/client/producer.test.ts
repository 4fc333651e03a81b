import fs from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { nodeIO } from '../../src/storage/io.js'
import { scanBatches } from '../../src/storage/log-scanner.js'
import { partitionForKey } from '../../src/topics/partitioner.js'
import { countingIO } from '../helpers/counting-io.js'
import { expectCode } from '../helpers/expect-code.js'
import { openTestSpool } from '../helpers/open-spool.js'
import { tempDir } from '../helpers/temp-dir.js'

/** The batches in a partition's first segment, counted from the file itself. */
async function batchesOnDisk(dir: string, topic: string, partition: number): Promise<number> {
  const file = path.join(dir, `${topic}-${partition}`, '00000000000000000000.log')
  const fd = fs.openSync(file, 'r')
  try {
    const result = await scanBatches(nodeIO, fd, {
      fromPosition: 0,
      sizeBytes: fs.fstatSync(fd).size,
      minBaseOffset: 0,
      maxBatchBytes: 1 << 30,
      checkCrc: true,
    })
    expect(result.problem).toBeNull()
    return result.batches
  } finally {
    fs.closeSync(fd)
  }
}

describe('producer', () => {
  it('coalesces 1,000 concurrent sends into one batch: one write, one fsync', async () => {
    const dir = tempDir()
    const io = countingIO()
    const spool = await openTestSpool(dir, { io })
    await spool.createTopic('t', { partitions: 1, flush: 'always' })
    const producer = spool.producer()
    io.reset()
    const results = await Promise.all(Array.from({ length: 1000 }, (_, i) => producer.send({ topic: 't', value: `record ${i}` })))
    expect(results.map((r) => r.offset)).toEqual(Array.from({ length: 1000 }, (_, i) => i))
    expect(io.count('writev', '.log')).toBe(1)
    expect(io.count('fdatasync', '.log')).toBe(1)
    await spool.close()
    expect(await batchesOnDisk(dir, 't', 0)).toBe(1)
  })

  it('lands keyed records by key, as Kafka would, and reads them back', async () => {
    const dir = tempDir()
    const spool = await openTestSpool(dir)
    await spool.createTopic('orders', { partitions: 6 })
    const producer = spool.producer()
    const keys = ['user-1', 'user-2', 'user-3', 'user-7', 'user-42', '21', 'foobar', 'abc']
    for (const key of keys) {
      const first = await producer.send({ topic: 'orders', key, value: `${key}:a` })
      const second = await producer.send({ topic: 'orders', key: Buffer.from(key), value: `${key}:b` })
      expect(first.partition).toBe(partitionForKey(Buffer.from(key), 6))
      expect(second.partition).toBe(first.partition)
      expect(second.offset).toBeGreaterThan(first.offset)
    }
    const described = await spool.describeTopic('orders')
    expect(described.partitions.reduce((sum, p) => sum + p.endOffset, 0)).toBe(keys.length * 2)
    await spool.close()
  })

  it('accepts Buffer, Uint8Array and string, headers as an object or a list, and explicit partitions and timestamps', async () => {
    const dir = tempDir()
    const spool = await openTestSpool(dir)
    await spool.createTopic('t', { partitions: 2 })
    const producer = spool.producer()
    const sent = await producer.sendBatch([
      { topic: 't', partition: 1, key: new Uint8Array([1, 2, 3]), value: Buffer.from('buf'), timestamp: 1234 },
      { topic: 't', partition: 1, key: null, value: 'text', headers: { a: 'x', b: null } },
      { topic: 't', partition: 1, value: null, headers: [{ key: 'k', value: 'one' }, { key: 'k', value: new Uint8Array([9]) }] },
    ])
    expect(sent.map((s) => [s.partition, s.offset])).toEqual([
      [1, 0],
      [1, 1],
      [1, 2],
    ])
    await spool.close()
    // Read back through the storage layer.
    const { openLog } = await import('../helpers/open-log.js')
    const log = await openLog(path.join(dir, 't-1'))
    const { records } = await log.read(0)
    expect(records[0]!.key).toEqual(Buffer.from([1, 2, 3]))
    expect(records[0]!.value!.toString()).toBe('buf')
    expect(records[0]!.timestamp).toBe(1234)
    expect(records[1]!.headers.map((h) => [h.key, h.value?.toString() ?? null])).toEqual([
      ['a', 'x'],
      ['b', null],
    ])
    expect(records[2]!.value).toBeNull()
    expect(records[2]!.headers.map((h) => [h.key, h.value])).toEqual([
      ['k', Buffer.from('one')],
      ['k', Buffer.from([9])],
    ])
    await log.close()
  })

  it('refuses a record over maxRecordBytes with RECORD_TOO_LARGE, and writes nothing of its batch', async () => {
    const spool = await openTestSpool(tempDir())
    await spool.createTopic('t', { maxRecordBytes: 100 })
    const producer = spool.producer()
    const error = await expectCode(
      producer.sendBatch([
        { topic: 't', value: 'small' },
        { topic: 't', value: 'x'.repeat(101) },
      ]),
      'RECORD_TOO_LARGE',
    )
    expect(error.message).toContain('maxRecordBytes')
    await producer.flush()
    expect((await spool.describeTopic('t')).partitions[0]!.endOffset).toBe(0)
    expect((await producer.send({ topic: 't', value: 'x'.repeat(100) })).offset).toBe(0)
    await spool.close()
  })

  it('refuses bad input with INVALID_ARGUMENT or UNKNOWN_PARTITION, naming the field', async () => {
    const spool = await openTestSpool(tempDir())
    await spool.createTopic('t', { partitions: 2 })
    const producer = spool.producer()
    await expectCode(producer.send({ topic: 't', partition: 2, value: 'x' }), 'UNKNOWN_PARTITION')
    await expectCode(producer.send({ topic: 't', partition: -1, value: 'x' }), 'INVALID_ARGUMENT')
    const wrongType = await expectCode(producer.send({ topic: 't', value: 42 as never }), 'INVALID_ARGUMENT')
    expect(wrongType.details.field).toBe('record.value')
    await expectCode(producer.send({ topic: 't' } as never), 'INVALID_ARGUMENT')
    await expectCode(producer.send({ topic: 't', value: 'x', headers: [{ key: 1 }] as never }), 'INVALID_ARGUMENT')
    await spool.close()
  })

  it('flush() waits for batches already handed to the log, not only the open ones', async () => {
    const spool = await openTestSpool(tempDir())
    await spool.createTopic('t', { flush: 'always' })
    const producer = spool.producer()
    const sent = producer.send({ topic: 't', value: 'a' })
    await Promise.resolve() // the tick's batch is written now; its fsync is still running
    await producer.flush()
    expect((await spool.describeTopic('t')).partitions[0]!.endOffset).toBe(1)
    expect((await sent).offset).toBe(0)
    await spool.close()
  })

  it('spreads keyless batches across partitions and respects lingerMs and maxBatchBytes', async () => {
    const dir = tempDir()
    const io = countingIO()
    const spool = await openTestSpool(dir, { io })
    await spool.createTopic('t', { partitions: 3, flush: 'never' })
    // A linger far longer than the turn of the event loop between the two sends, so that a
    // loaded machine cannot make the first batch leave before the second send.
    const lingering = spool.producer({ lingerMs: 1_000, maxBatchBytes: 1000 })
    io.reset()
    const first = lingering.send({ topic: 't', value: 'a' })
    await new Promise((resolve) => setImmediate(resolve))
    const second = lingering.send({ topic: 't', value: 'b' })
    expect(io.count('writev', '.log')).toBe(0) // still lingering
    const [a, b] = await Promise.all([first, second])
    expect(b.partition).toBe(a.partition) // one sticky batch
    expect(io.count('writev', '.log')).toBe(1)

    const producer = spool.producer({ lingerMs: 30, maxBatchBytes: 1000 })
    const partitions = new Set<number>()
    for (let i = 0; i < 6; i++) partitions.add((await producer.send({ topic: 't', value: 'c' })).partition)
    expect(partitions.size).toBe(3)

    await spool.createTopic('m', { partitions: 1, flush: 'never' })
    await Promise.all(Array.from({ length: 10 }, () => producer.send({ topic: 'm', value: 'x'.repeat(300) })))
    await spool.close()
    expect(await batchesOnDisk(dir, 'm', 0)).toBe(5) // 2 records a batch: 3 framed (336 bytes each) would pass 1,000
  })
})
