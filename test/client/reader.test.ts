import { describe, expect, it } from 'vitest'
import type { ConsumedRecord } from '../../src/client/reader.js'
import { expectCode } from '../helpers/expect-code.js'
import { openTestSpool } from '../helpers/open-spool.js'
import { tempDir } from '../helpers/temp-dir.js'

async function collect(iterable: AsyncIterable<ConsumedRecord>): Promise<ConsumedRecord[]> {
  const out: ConsumedRecord[] = []
  for await (const record of iterable) out.push(record)
  return out
}

describe('spool.read: replay without a group', () => {
  it('replays from an offset or a time, up to an offset, in order', async () => {
    let now = 1_000_000
    const spool = await openTestSpool(tempDir(), { clock: () => now })
    await spool.createTopic('t', { segmentBytes: 512 })
    const producer = spool.producer()
    for (let i = 0; i < 50; i++) {
      await producer.send({ topic: 't', key: `k${i}`, value: `v${i}` })
      now += 10
    }
    const all = await collect(spool.read('t'))
    expect(all.map((r) => r.offset)).toEqual(Array.from({ length: 50 }, (_, i) => i))
    expect(all[7]).toMatchObject({ topic: 't', partition: 0, offset: 7, timestamp: 1_000_070 })
    expect(all[7]!.value!.toString()).toBe('v7')

    expect((await collect(spool.read('t', { fromOffset: 42 }))).map((r) => r.offset)).toEqual([42, 43, 44, 45, 46, 47, 48, 49])
    expect((await collect(spool.read('t', { fromOffset: 10, toOffset: 12 }))).map((r) => r.offset)).toEqual([10, 11, 12])
    expect((await collect(spool.read('t', { fromTimestamp: 1_000_205 }))).map((r) => r.offset)[0]).toBe(21)
    expect(await collect(spool.read('t', { fromTimestamp: 9_999_999 }))).toEqual([])
    await spool.close()
  })

  it('follows the end of the partition, woken by appends, until toOffset or abort', async () => {
    const spool = await openTestSpool(tempDir())
    await spool.createTopic('t')
    const producer = spool.producer()
    await producer.send({ topic: 't', value: 'first' })
    const following = collect(spool.read('t', { follow: true, toOffset: 3 }))
    for (const value of ['second', 'third', 'fourth', 'fifth']) await producer.send({ topic: 't', value })
    expect((await following).map((r) => r.value!.toString())).toEqual(['first', 'second', 'third', 'fourth'])

    const controller = new AbortController()
    const tail = spool.read('t', { fromOffset: 5, follow: true, signal: controller.signal })
    const next = tail.next()
    await producer.send({ topic: 't', value: 'sixth' })
    expect((await next).value?.value?.toString()).toBe('sixth')
    const waiting = tail.next() // at the end, following
    controller.abort()
    expect((await waiting).done).toBe(true)

    const untilClose = collect(spool.read('t', { fromOffset: 6, follow: true }))
    await spool.close()
    expect(await untilClose).toEqual([])
  })

  it('refuses what it cannot serve with a precise code', async () => {
    const spool = await openTestSpool(tempDir())
    await spool.createTopic('many', { partitions: 3 })
    await expectCode(collect(spool.read('many')), 'INVALID_ARGUMENT')
    await expectCode(collect(spool.read('many', { partition: 3 })), 'UNKNOWN_PARTITION')
    await expectCode(collect(spool.read('missing')), 'UNKNOWN_TOPIC')
    await expectCode(collect(spool.read('many', { partition: 0, fromOffset: 5 })), 'OFFSET_OUT_OF_RANGE')
    await expectCode(collect(spool.read('many', { partition: 0, fromOffset: 0, fromTimestamp: 1 })), 'INVALID_ARGUMENT')
    await spool.close()
  })
})
