import v8 from 'node:v8'
import vm from 'node:vm'
import { describe, expect, it } from 'vitest'
import { openTestSpool } from '../helpers/open-spool.js'
import { tempDir } from '../helpers/temp-dir.js'

const RECORDS = 1_000_000
const CHUNK = 10_000
const MAX_RECORDS = 1_000
const MAX_BYTES = 64 * 1024
const VALUE = Buffer.alloc(100, 'v')
const POLLED_RECORDS = 200_000
const SPACED_POLLS = 3_000

v8.setFlagsFromString('--expose-gc')
const gc = vm.runInNewContext('gc') as () => void

const MiB = 1024 * 1024

type Memory = { heapUsed: number; arrayBuffers: number; rss: number }

/**
 * Memory after full collections: the heap, the bytes of ArrayBuffers (where record buffers
 * live), and the process's resident set. Buffers are freed by finalizers after a collection,
 * and what they kept may be found dead only by the next one: collect until it stops shrinking.
 */
async function memory(): Promise<Memory> {
  let last = Infinity
  for (let round = 0; round < 5; round++) {
    gc()
    await new Promise((resolve) => setImmediate(resolve))
    const { arrayBuffers } = process.memoryUsage()
    if (arrayBuffers >= last) break
    last = arrayBuffers
  }
  const { heapUsed, arrayBuffers, rss } = process.memoryUsage()
  return { heapUsed, arrayBuffers, rss }
}

async function growth(before: Memory): Promise<Memory> {
  const now = await memory()
  return { heapUsed: now.heapUsed - before.heapUsed, arrayBuffers: now.arrayBuffers - before.arrayBuffers, rss: now.rss - before.rss }
}

describe('consumer groups: backpressure (contract 8)', () => {
  it(`a consumer whose handler never resolves buffers no more than its prefetch while ${RECORDS} records are produced, and another group keeps up`, async () => {
    const spool = await openTestSpool(tempDir(), { flush: 'never' })
    await spool.createTopic('events', { partitions: 2 })
    const stalled = spool.consumer({ group: 'stalled', topics: ['events'], maxPrefetchRecords: MAX_RECORDS, maxPrefetchBytes: MAX_BYTES })
    let handed = 0
    const stalledRun = stalled.run({
      eachRecord: () => {
        handed++
        return new Promise<void>(() => undefined) // never resolves
      },
    })
    const fast = spool.consumer({ group: 'fast', topics: ['events'] })
    let fastCount = 0
    const fastRun = fast.run({ eachBatch: ({ records }) => void (fastCount += records.length) })

    const producer = spool.producer()
    const before = await memory()
    let maxBuffered = { records: 0, bytes: 0 }
    for (let sent = 0; sent < RECORDS; sent += CHUNK) {
      await Promise.all(Array.from({ length: CHUNK }, () => producer.send({ topic: 'events', value: VALUE })))
      const { records, bytes } = stalled.buffered
      maxBuffered = { records: Math.max(maxBuffered.records, records), bytes: Math.max(maxBuffered.bytes, bytes) }
    }
    while (fastCount < RECORDS) await new Promise((resolve) => setTimeout(resolve, 5))
    const grown = await growth(before)

    expect(handed).toBe(1) // the handler got one record and never returned
    expect(maxBuffered.records).toBeGreaterThan(0) // it did read ahead, up to its bounds
    expect(maxBuffered.records).toBeLessThanOrEqual(MAX_RECORDS)
    expect(maxBuffered.bytes).toBeLessThanOrEqual(MAX_BYTES)
    expect(stalled.buffered.records).toBeLessThanOrEqual(MAX_RECORDS)
    expect(fastCount).toBe(RECORDS) // the other group kept up
    expect(grown.heapUsed).toBeLessThan(8 * MiB)
    // Buffers and the process as a whole, not only the heap: the storage's own buffers for
    // 1M records come to ~8.5 MiB (measured with both consumers closed), RSS to 50–100 MiB.
    expect(grown.arrayBuffers).toBeLessThan(16 * MiB)
    expect(grown.rss).toBeLessThan(192 * MiB)
    const lag = await stalled.lag()
    expect(lag.reduce((sum, p) => sum + p.records, 0)).toBe(RECORDS) // nothing processed: all of it is lag
    expect(lag.every((p) => p.bytes > p.records * VALUE.length)).toBe(true)

    await fast.close()
    await fastRun
    await stalled.close({ timeoutMs: 0 }) // its handler never returns: do not wait for it
    await stalledRun
    await spool.close()
  })

  it('a consumer with a 1 MiB prefetch under spaced single-record polls holds a few MiB of buffers, as its own count says', async () => {
    const spool = await openTestSpool(tempDir(), { flush: 'never' })
    await spool.createTopic('events', { partitions: 1 })
    const producer = spool.producer()
    for (let sent = 0; sent < POLLED_RECORDS; sent += CHUNK) {
      await Promise.all(Array.from({ length: CHUNK }, () => producer.send({ topic: 'events', value: VALUE })))
    }
    const before = await memory()
    const consumer = spool.consumer({ group: 'slow', topics: ['events'], maxPrefetchBytes: MiB, maxPrefetchRecords: 1_000_000 })
    let maxBuffered = 0
    let next = 0
    for (let poll = 0; poll < SPACED_POLLS; poll++) {
      const records = await consumer.poll({ maxRecords: 1, timeoutMs: 5_000 })
      expect(records.map((r) => r.offset)).toEqual([next++])
      // Spaced: the fetcher reads again with the credit the poll gave back, before the next poll.
      await new Promise((resolve) => setImmediate(resolve))
      await new Promise((resolve) => setImmediate(resolve))
      maxBuffered = Math.max(maxBuffered, consumer.buffered.bytes)
    }
    const grown = await growth(before)

    expect(maxBuffered).toBeGreaterThan(MiB / 2) // it did read ahead
    expect(maxBuffered).toBeLessThanOrEqual(2 * MiB) // the bound, and one read's overshoot at most
    // Measured: 1.3–3.5 MiB of buffers and under 10 MiB of RSS; before the fix, 50–65 MiB of
    // buffers and 55–75 MiB of RSS, as each record taken kept its whole read buffer alive.
    expect(grown.arrayBuffers).toBeLessThan(6 * MiB)
    expect(grown.rss).toBeLessThan(64 * MiB)
    await consumer.close()
    await spool.close()
  })
})

