import { describe, expect, it } from 'vitest'
import type { Spool } from '../../src/client/spool.js'
import type { RebalanceEvent } from '../../src/groups/coordinator.js'
import { eventually, produce } from '../helpers/consume.js'
import { expectCode } from '../helpers/expect-code.js'
import { openTestSpool } from '../helpers/open-spool.js'
import { tempDir } from '../helpers/temp-dir.js'

const offsets = (records: { offset: number }[]): number[] => records.map((r) => r.offset)
const p0 = { topic: 'orders', partition: 0 }

async function spoolWith(records: number, partitions = 1, options: Parameters<typeof openTestSpool>[1] = {}): Promise<Spool> {
  const spool = await openTestSpool(tempDir(), { flush: 'never', ...options })
  await spool.createTopic('orders', { partitions })
  if (records > 0) await produce(spool.producer(), 'orders', records)
  return spool
}

async function committed(spool: Spool, group = 'workers'): Promise<number[]> {
  return (await (await spool.groups.coordinator()).fetchOffsets(group)).map((c) => c.offset)
}

describe('consumer API', () => {
  it('poll: the previous poll counts as processed when poll is called again; commit() stores it', async () => {
    const spool = await spoolWith(100)
    const consumer = spool.consumer({ group: 'workers', topics: ['orders'], autoCommit: false })
    expect(offsets(await consumer.poll({ maxRecords: 10 }))).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9])
    expect(offsets(await consumer.poll({ maxRecords: 5 }))).toEqual([10, 11, 12, 13, 14])
    expect(await committed(spool)).toEqual([]) // autoCommit false: nothing until commit()
    await consumer.commit()
    expect(await committed(spool)).toEqual([15])
    await consumer.close()
    // A new member resumes at the commit.
    const next = spool.consumer({ group: 'workers', topics: ['orders'] })
    expect((await next.poll({ maxRecords: 1 }))[0]!.offset).toBe(15)
    await spool.close()
  })

  it('for await: a record counts as processed when the loop asks for the next; autoCommit commits it', async () => {
    const spool = await spoolWith(50)
    const consumer = spool.consumer({ group: 'workers', topics: ['orders'] })
    const seen: number[] = []
    for await (const record of consumer) {
      seen.push(record.offset)
      if (seen.length === 5) break // the 5th was not acknowledged by asking for a 6th
    }
    await consumer.close()
    expect(seen).toEqual([0, 1, 2, 3, 4])
    expect(await committed(spool)).toEqual([4])
    await spool.close()
  })

  it('run with eachBatch delivers batches in offset order; a handler that throws rejects run, and its batch is delivered again', async () => {
    const spool = await spoolWith(30)
    const first = spool.consumer({ group: 'workers', topics: ['orders'], maxPrefetchRecords: 10 })
    const batches: number[][] = []
    const failure = new Error('handler failed')
    await expect(
      first.run({
        eachBatch: ({ records }) => {
          if (batches.length === 2) throw failure
          batches.push(offsets(records))
        },
      }),
    ).rejects.toBe(failure)
    expect(batches.flat()).toEqual(Array.from({ length: batches.flat().length }, (_, i) => i))
    const processedBefore = batches.flat().length
    const second = spool.consumer({ group: 'workers', topics: ['orders'] })
    expect((await second.poll({ maxRecords: 1 }))[0]!.offset).toBe(processedBefore)
    await spool.close()
  })

  it('run with eachRecord: a synchronous handler\'s record is processed when it returns, an async one\'s (any thenable) when it resolves', async () => {
    const spool = await spoolWith(40)
    const first = spool.consumer({ group: 'workers', topics: ['orders'] })
    const failure = new Error('record 17 failed')
    const order: string[] = []
    await expect(
      first.run({
        eachRecord: (record) => {
          if (record.offset === 17) throw failure
          if (record.offset % 2 === 0) return undefined
          // A thenable that is not a native promise: delivery must still wait for it.
          return { then: (resolve: () => void) => setImmediate(() => (order.push(`done ${record.offset}`), resolve())) } as unknown as Promise<void>
        },
      }),
    ).rejects.toBe(failure)
    expect(order).toEqual([1, 3, 5, 7, 9, 11, 13, 15].map((o) => `done ${o}`))
    // The throw closed the consumer, which committed what was processed: 0..16, not 17.
    const second = spool.consumer({ group: 'workers', topics: ['orders'] })
    expect((await second.poll({ maxRecords: 1 }))[0]!.offset).toBe(17)
    await spool.close()
  })

  it('seek, seekToTimestamp, seekToBeginning and seekToEnd move the next delivery; seeking a partition not owned is refused', async () => {
    const clock = { ms: 1_000 }
    const spool = await spoolWith(0, 1, { clock: () => clock.ms })
    const producer = spool.producer()
    for (let i = 0; i < 10; i++) {
      await producer.send({ topic: 'orders', value: `v${i}` }) // stamped 1000, 1100, … 1900
      clock.ms += 100
    }
    const consumer = spool.consumer({ group: 'workers', topics: ['orders'], autoCommit: false })
    expect(offsets(await consumer.poll({ maxRecords: 3 }))).toEqual([0, 1, 2])
    consumer.seek(p0, 7)
    expect(offsets(await consumer.poll({ maxRecords: 2 }))).toEqual([7, 8])
    await consumer.seekToTimestamp(p0, 1_450)
    expect(offsets(await consumer.poll({ maxRecords: 1 }))).toEqual([5])
    consumer.seekToBeginning()
    expect(offsets(await consumer.poll({ maxRecords: 1 }))).toEqual([0])
    consumer.seekToEnd()
    expect(await consumer.poll({ maxRecords: 1, timeoutMs: 20 })).toEqual([])
    await consumer.commit()
    expect(await committed(spool)).toEqual([10])
    expect(() => consumer.seek({ topic: 'orders', partition: 3 }, 0)).toThrow(expect.objectContaining({ code: 'PARTITION_NOT_ASSIGNED' }))
    expect(() => consumer.seek(p0, 11)).toThrow(expect.objectContaining({ code: 'OFFSET_OUT_OF_RANGE' }))
    expect(() => consumer.seek(p0, -1)).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }))
    await spool.close()
  })

  it('pause stops a partition and drops what it read ahead; resume continues where it stopped', async () => {
    const spool = await spoolWith(0, 2)
    const producer = spool.producer()
    const send = (partition: number, n: number) => Promise.all(Array.from({ length: n }, (_, i) => producer.send({ topic: 'orders', partition, value: `${partition}-${i}` })))
    await send(0, 5)
    await send(1, 5)
    const consumer = spool.consumer({ group: 'workers', topics: ['orders'] })
    await eventually(() => consumer.assignment().length === 2)
    consumer.pause([p0])
    expect(consumer.paused()).toEqual([p0])
    const got = await consumer.poll({ maxRecords: 100, timeoutMs: 50 })
    expect(got.every((r) => r.partition === 1)).toBe(true)
    expect(got.length).toBe(5)
    consumer.resume([p0])
    expect((await consumer.poll({ maxRecords: 100 })).map((r) => `${r.partition}:${r.offset}`)).toEqual(['0:0', '0:1', '0:2', '0:3', '0:4'])
    await spool.close()
  })

  it('lag() reports per partition the records, bytes and time behind the processed position', async () => {
    const clock = { ms: 50_000 }
    const spool = await spoolWith(0, 1, { clock: () => clock.ms })
    await produce(spool.producer(), 'orders', 10)
    clock.ms += 3_000
    const consumer = spool.consumer({ group: 'workers', topics: ['orders'] })
    await consumer.poll({ maxRecords: 4 })
    await consumer.poll({ maxRecords: 0 + 1, timeoutMs: 0 }) // the first 4 count as processed now
    const [lag] = await consumer.lag()
    expect(lag).toMatchObject({ topic: 'orders', partition: 0, offset: 4, endOffset: 10, records: 6, timeMs: 3_000 })
    expect(lag!.bytes).toBeGreaterThan(6 * 'value-0'.length)
    await spool.close()
  })

  it("resetPolicy: 'latest' starts a new group at the end, 'error' refuses to guess", async () => {
    const spool = await spoolWith(10)
    const latest = spool.consumer({ group: 'late', topics: ['orders'], resetPolicy: 'latest' })
    await eventually(() => latest.assignment().length === 1)
    await produce(spool.producer(), 'orders', 3, 10)
    expect(offsets(await latest.poll({ maxRecords: 10 }))).toEqual([10, 11, 12])
    const strict = spool.consumer({ group: 'strict', topics: ['orders'], resetPolicy: 'error' })
    await expectCode(strict.poll({ maxRecords: 1, timeoutMs: 2_000 }), 'OFFSET_OUT_OF_RANGE')
    await spool.close()
  })

  it('committed offsets and generations survive closing and reopening the spool', async () => {
    const dir = tempDir()
    let spool = await openTestSpool(dir, { flush: 'never' })
    await spool.createTopic('orders', { partitions: 1 })
    await produce(spool.producer(), 'orders', 20)
    const consumer = spool.consumer({ group: 'workers', topics: ['orders'] })
    await consumer.poll({ maxRecords: 12 })
    await consumer.commit()
    await eventually(() => consumer.generation > 0)
    const generation = consumer.generation
    await spool.close()

    spool = await openTestSpool(dir)
    expect(await committed(spool)).toEqual([12])
    expect((await spool.describeGroup('workers')).generation).toBeGreaterThanOrEqual(generation) // as stored
    const again = spool.consumer({ group: 'workers', topics: ['orders'] })
    expect((await again.poll({ maxRecords: 1 }))[0]!.offset).toBe(12)
    expect(again.generation).toBeGreaterThan(generation)
    await spool.close()
  })

  it('a static member (instanceId) that comes back within its session keeps its partitions with no rebalance', async () => {
    const spool = await spoolWith(0, 4)
    const events: RebalanceEvent[] = []
    spool.onRebalance((event) => events.push(event))
    const options = { group: 'workers', topics: ['orders'], sessionTimeoutMs: 10_000 }
    const a = spool.consumer({ ...options, instanceId: 'worker-a' })
    const b = spool.consumer({ ...options, instanceId: 'worker-b' })
    await eventually(() => a.assignment().length === 2 && b.assignment().length === 2)
    const before = a.assignment()
    const rebalances = events.length
    await a.close() // a restart: a static member does not leave
    const back = spool.consumer({ ...options, instanceId: 'worker-a' })
    await eventually(() => back.assignment().length === 2)
    expect(back.assignment()).toEqual(before)
    expect(events.length).toBe(rebalances)
    await spool.close()
  })

  it('adding partitions rebalances the group, and the new partitions are consumed', async () => {
    const spool = await spoolWith(0, 1)
    const consumer = spool.consumer({ group: 'workers', topics: ['orders'] })
    await eventually(() => consumer.assignment().length === 1)
    await spool.addPartitions('orders', 3)
    await eventually(() => consumer.assignment().length === 3)
    await spool.producer().send({ topic: 'orders', partition: 2, value: 'new' })
    const [record] = await consumer.poll({ maxRecords: 1 })
    expect(record).toMatchObject({ partition: 2, offset: 0 })
    await spool.close()
  })

  it('refuses bad options, a second delivery mode, and use after close', async () => {
    const spool = await spoolWith(1)
    const bad = (options: object, code: 'INVALID_ARGUMENT' | 'UNKNOWN_TOPIC', field?: string) => {
      let error: unknown
      try {
        spool.consumer(options as never)
      } catch (thrown) {
        error = thrown
      }
      expect(error).toMatchObject({ code, ...(field === undefined ? {} : { details: { field } }) })
    }
    bad({ group: '', topics: ['orders'] }, 'INVALID_ARGUMENT', 'group')
    bad({ group: 'g', topics: [] }, 'INVALID_ARGUMENT', 'topics')
    bad({ group: 'g', topics: ['nope'] }, 'UNKNOWN_TOPIC')
    bad({ group: 'g', topics: ['orders'], maxPrefetchRecords: 0 }, 'INVALID_ARGUMENT', 'maxPrefetchRecords')
    bad({ group: 'g', topics: ['orders'], resetPolicy: 'oldest' }, 'INVALID_ARGUMENT', 'resetPolicy')
    bad({ group: 'g', topics: ['orders'], autoCommit: 'yes' }, 'INVALID_ARGUMENT', 'autoCommit')
    bad({ group: 'g', topics: ['orders'], sessionTimeoutMs: 1 }, 'INVALID_ARGUMENT', 'sessionTimeoutMs')
    bad({ group: 'g', topics: ['orders'], assignor: 'fastest' }, 'INVALID_ARGUMENT', 'assignor')
    const consumer = spool.consumer({ group: 'g', topics: ['orders'] })
    await expectCode(consumer.run({} as never), 'INVALID_ARGUMENT')
    const running = consumer.run({ eachRecord: () => undefined })
    await expectCode(consumer.poll(), 'INVALID_ARGUMENT')
    await expectCode(consumer.poll({ maxRecords: 0 }), 'INVALID_ARGUMENT')
    await consumer.close()
    await running
    await expectCode(consumer.poll(), 'CLOSED')
    await spool.close()
    expect(() => spool.consumer({ group: 'g', topics: ['orders'] })).toThrow(expect.objectContaining({ code: 'CLOSED' }))
  })
})
