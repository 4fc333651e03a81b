import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { Producer, type RecordMetadata } from '../../src/client/producer.js'
import type { StoredRecord } from '../../src/record/types.js'
import type { Topics } from '../../src/topics/topics.js'
import { partitionForKey } from '../../src/topics/partitioner.js'
import { countingIO } from '../helpers/counting-io.js'
import { expectCode } from '../helpers/expect-code.js'
import { openLog } from '../helpers/open-log.js'
import { openTestSpool } from '../helpers/open-spool.js'
import { tempDir } from '../helpers/temp-dir.js'

/** Every record of a partition, read back through the storage layer once the spool is closed. */
async function partitionRecords(dir: string, topic: string, partition: number): Promise<StoredRecord[]> {
  const log = await openLog(path.join(dir, `${topic}-${partition}`))
  try {
    const records: StoredRecord[] = []
    for (let offset = 0; offset < log.endOffset; ) {
      const read = await log.read(offset)
      records.push(...read.records.filter((r) => r.offset >= offset))
      offset = read.records.at(-1)!.offset + 1
    }
    return records
  } finally {
    await log.close()
  }
}

/** The value stored at each record's metadata, as a string. */
async function valuesAt(dir: string, sent: readonly RecordMetadata[]): Promise<string[]> {
  const byPartition = new Map<string, StoredRecord[]>()
  const values: string[] = []
  for (const { topic, partition, offset } of sent) {
    const key = `${topic}-${partition}`
    if (!byPartition.has(key)) byPartition.set(key, await partitionRecords(dir, topic, partition))
    const record = byPartition.get(key)!.find((r) => r.offset === offset)
    values.push(record?.value?.toString() ?? '<missing>')
  }
  return values
}

const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve))

describe('producer batching', () => {
  it('resolves every record of a sendBatch across topics and partitions with where it was stored', async () => {
    const dir = tempDir()
    const spool = await openTestSpool(dir)
    await spool.createTopic('a', { partitions: 4, flush: 'never' })
    await spool.createTopic('b', { partitions: 1, flush: 'never' })
    const producer = spool.producer({ maxBatchBytes: 2_000 }) // several batches per partition, cut mid-call
    const records = Array.from({ length: 300 }, (_, i) => {
      if (i % 7 === 0) return { topic: 'b', key: `k${i}`, value: `v${i}` }
      if (i % 5 === 0) return { topic: 'a', partition: 3, value: `v${i}` }
      if (i % 11 === 0) return { topic: 'a', value: `v${i}` } // keyless: sticky
      return { topic: 'a', key: `k${i}`, value: `v${i}` }
    })
    // Single sends before, between and after: they share batches with the sendBatch calls.
    const early = producer.send({ topic: 'a', partition: 3, value: 'early' })
    const first = producer.sendBatch(records.slice(0, 150))
    const middle = producer.send({ topic: 'a', partition: 3, value: 'middle' })
    const second = producer.sendBatch(records.slice(150))
    const late = producer.send({ topic: 'b', value: 'late' })
    const sent = [...(await first), ...(await second)]
    const singles = await Promise.all([early, middle, late])
    for (const [i, record] of records.entries()) {
      expect(sent[i]!.topic).toBe(record.topic)
      if (record.partition !== undefined) expect(sent[i]!.partition).toBe(record.partition)
      else if (record.key !== undefined) expect(sent[i]!.partition).toBe(partitionForKey(Buffer.from(record.key), record.topic === 'a' ? 4 : 1))
    }
    // Offsets in a partition follow the order of the calls.
    expect(singles[0]!.offset).toBeLessThan(sent[5]!.offset)
    expect(singles[1]!.offset).toBeGreaterThan(sent[145]!.offset)
    expect(singles[1]!.offset).toBeLessThan(sent[150]!.offset)
    const all = [...sent, ...singles]
    expect(new Set(all.map((m) => `${m.topic}-${m.partition}-${m.offset}`)).size).toBe(all.length)
    await spool.close()
    expect(await valuesAt(dir, all)).toEqual([...records.map((r) => r.value), 'early', 'middle', 'late'])
  })

  it('writes a send at once when its partition is idle, before the event loop turns', async () => {
    const io = countingIO()
    const spool = await openTestSpool(tempDir(), { io })
    await spool.createTopic('t', { flush: 'never' })
    const producer = spool.producer()
    await producer.send({ topic: 't', value: 'warm-up' }) // the producer id, the partition's first write
    await nextTurn()
    io.reset()
    let turned = false
    setImmediate(() => (turned = true)) // before the send: a batch written at setImmediate would come after it
    const sent = producer.send({ topic: 't', value: 'now' })
    expect((await sent).offset).toBe(1)
    expect(turned).toBe(false)
    expect(io.count('writev', '.log')).toBe(1)
    await spool.close()
  })

  it('keeps the order of sends across a batch written at once and one written at setImmediate', async () => {
    const dir = tempDir()
    const spool = await openTestSpool(dir)
    await spool.createTopic('t', { flush: 'always' })
    const producer = spool.producer()
    await producer.send({ topic: 't', value: 'warm-up' })
    await nextTurn()
    const first = producer.send({ topic: 't', value: 'a' }) // written at the end of this tick
    await Promise.resolve() // its batch is with the log now, its fsync pending: the next batch waits for setImmediate
    const second = producer.send({ topic: 't', value: 'b' })
    const third = producer.sendBatch([
      { topic: 't', value: 'c' },
      { topic: 't', value: 'd' },
    ])
    const fourth = producer.send({ topic: 't', value: 'e' })
    const offsets = [(await first).offset, (await second).offset, ...(await third).map((m) => m.offset), (await fourth).offset]
    expect(offsets).toEqual([1, 2, 3, 4, 5])
    await spool.close()
    expect((await partitionRecords(dir, 't', 0)).map((r) => r.value!.toString())).toEqual(['warm-up', 'a', 'b', 'c', 'd', 'e'])
  })

  it('still yields to the event loop in a loop of awaited sends with flush never', async () => {
    const spool = await openTestSpool(tempDir())
    await spool.createTopic('t', { partitions: 2, flush: 'never' })
    const producer = spool.producer()
    await producer.send({ topic: 't', value: 'warm-up' })
    const value = Buffer.from('x')
    for (const send of [
      () => producer.send({ topic: 't', partition: 0, value }),
      () => producer.sendBatch([{ topic: 't', partition: 1, value: 'x' }]), // converted: staged in a batch
      () => producer.sendBatch([{ topic: 't', partition: 1, key: null, value }]), // as it is: appended at once
    ]) {
      await nextTurn()
      let immediates = 0
      const countImmediates = (): void => {
        immediates++
        if (immediates < 1_000) setImmediate(countImmediates)
      }
      setImmediate(countImmediates)
      for (let i = 0; i < 20; i++) await send()
      // At most one batch of a partition is written at once per turn of the event loop: 20 sends took turns.
      expect(immediates).toBeGreaterThanOrEqual(9)
    }
    await spool.close()
  })

  it('stores what a sendBatch was given when it was called, in call order with the sends around it', async () => {
    const dir = tempDir()
    const spool = await openTestSpool(dir)
    await spool.createTopic('t', { flush: 'never' })
    const producer = spool.producer()
    await producer.send({ topic: 't', value: 'warm-up' })
    const plain = (text: string): { topic: string; key: Buffer; value: Buffer } => ({ topic: 't', key: Buffer.from('k'), value: Buffer.from(text) })
    const before = producer.send({ topic: 't', value: 'before' })
    const records = [plain('one'), plain('two')]
    const converted = [{ topic: 't', value: 'three' }, plain('four')]
    const sent = [producer.sendBatch(records), producer.sendBatch(converted)]
    records[0]!.value = Buffer.from('changed') // after the call: not what was sent
    converted[1]!.value = Buffer.from('changed')
    const after = producer.send({ topic: 't', value: 'after' })
    const offsets = [(await before).offset, ...(await sent[0]!).map((m) => m.offset), ...(await sent[1]!).map((m) => m.offset), (await after).offset]
    expect(offsets).toEqual([1, 2, 3, 4, 5, 6])
    await spool.close()
    const stored = (await partitionRecords(dir, 't', 0)).map((r) => r.value!.toString())
    expect(stored).toEqual(['warm-up', 'before', 'one', 'two', 'three', 'four', 'after'])
  })

  it('appends the batches written before its id came in the order they were written', async () => {
    const dir = tempDir()
    const spool = await openTestSpool(dir)
    await spool.createTopic('t', { flush: 'never' })
    let giveId!: (id: number) => void
    const id = new Promise<number>((resolve) => (giveId = resolve))
    // A producer whose id comes when the test says (spool.producer() allocates one from the data directory).
    const producer = new Producer((spool as unknown as { topics: Topics }).topics, { lingerMs: 60_000 }, () => id)
    const first = producer.send({ topic: 't', value: 'first' })
    const flushed = producer.flush() // the first batch is written: it waits for the id
    const second = producer.send({ topic: 't', value: 'second' })
    giveId(7)
    // Runs once the id is set and before the first batch resumes: the second batch, written now, must wait behind it.
    queueMicrotask(() => void producer.flush())
    await flushed
    expect([(await first).offset, (await second).offset]).toEqual([0, 1])
    await producer.close()
    await spool.close()
    expect((await partitionRecords(dir, 't', 0)).map((r) => r.value!.toString())).toEqual(['first', 'second'])
  })

  it('follows a topic deleted, created again and given more partitions between sends', async () => {
    const spool = await openTestSpool(tempDir())
    await spool.createTopic('t', { flush: 'never' })
    const producer = spool.producer()
    const value = Buffer.from('v')
    expect((await producer.send({ topic: 't', value })).offset).toBe(0)
    expect((await producer.sendBatch([{ topic: 't', key: null, value }]))[0]!.offset).toBe(1)
    await spool.deleteTopic('t')
    await expectCode(producer.send({ topic: 't', value }), 'UNKNOWN_TOPIC')
    await expectCode(producer.sendBatch([{ topic: 't', key: null, value }]), 'UNKNOWN_TOPIC')
    await spool.createTopic('t', { flush: 'never' })
    expect(await producer.send({ topic: 't', value })).toEqual({ topic: 't', partition: 0, offset: 0 })
    await spool.addPartitions('t', 3)
    expect(await producer.send({ topic: 't', partition: 2, value })).toEqual({ topic: 't', partition: 2, offset: 0 })
    expect(await producer.sendBatch([{ topic: 't', partition: 2, key: null, value }])).toEqual([{ topic: 't', partition: 2, offset: 1 }])
    await spool.close()
  })

  it('fails a whole sendBatch on one bad record, leaving the sends it would have shared a batch with', async () => {
    const dir = tempDir()
    const spool = await openTestSpool(dir)
    await spool.createTopic('t', { partitions: 2, flush: 'never', maxRecordBytes: 100 })
    const producer = spool.producer()
    const before = producer.send({ topic: 't', partition: 0, value: 'before' })
    const bad = producer.sendBatch([
      { topic: 't', partition: 0, value: 'one' },
      { topic: 't', partition: 1, value: 'two' },
      { topic: 't', partition: 1, value: 42 as never },
    ])
    const tooLarge = producer.sendBatch([
      { topic: 't', partition: 0, value: 'three' },
      { topic: 't', partition: 0, value: 'x'.repeat(101) },
    ])
    const after = producer.send({ topic: 't', partition: 0, value: 'after' })
    const error = await expectCode(bad, 'INVALID_ARGUMENT')
    expect(error.details.field).toBe('records[2].value')
    await expectCode(tooLarge, 'RECORD_TOO_LARGE')
    expect([(await before).offset, (await after).offset]).toEqual([0, 1])
    await expectCode(producer.sendBatch([{ topic: 't', partition: 5, value: 'x' }]), 'UNKNOWN_PARTITION')
    await expectCode(producer.sendBatch([{ topic: 'nope', value: 'x' }]), 'UNKNOWN_TOPIC')
    await expectCode(producer.sendBatch([null as never]), 'INVALID_ARGUMENT')
    await spool.close()
    expect((await partitionRecords(dir, 't', 0)).map((r) => r.value!.toString())).toEqual(['before', 'after'])
    expect(await partitionRecords(dir, 't', 1)).toEqual([])
  })

  it('rejects every send of a batch the log refuses, with the log’s error', async () => {
    const spool = await openTestSpool(tempDir())
    await spool.createTopic('t', { flush: 'never', timestampBeforeMaxMs: 1_000 })
    const producer = spool.producer()
    const sends = [
      producer.send({ topic: 't', value: 'a', timestamp: 0 }),
      producer.sendBatch([{ topic: 't', value: 'b' }]),
      producer.send({ topic: 't', value: 'c' }),
    ]
    for (const sent of sends) await expectCode(sent, 'INVALID_TIMESTAMP')
    await spool.close()
  })
})
