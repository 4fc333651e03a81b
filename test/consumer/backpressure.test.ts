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

v8.setFlagsFromString('--expose-gc')
const gc = vm.runInNewContext('gc') as () => void

function heapUsed(): number {
  gc()
  return process.memoryUsage().heapUsed
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
    const heapBefore = heapUsed()
    let maxBuffered = { records: 0, bytes: 0 }
    for (let sent = 0; sent < RECORDS; sent += CHUNK) {
      await Promise.all(Array.from({ length: CHUNK }, () => producer.send({ topic: 'events', value: VALUE })))
      const { records, bytes } = stalled.buffered
      maxBuffered = { records: Math.max(maxBuffered.records, records), bytes: Math.max(maxBuffered.bytes, bytes) }
    }
    while (fastCount < RECORDS) await new Promise((resolve) => setTimeout(resolve, 5))
    const heapGrowth = heapUsed() - heapBefore

    expect(handed).toBe(1) // the handler got one record and never returned
    expect(maxBuffered.records).toBeGreaterThan(0) // it did read ahead, up to its bounds
    expect(maxBuffered.records).toBeLessThanOrEqual(MAX_RECORDS)
    expect(maxBuffered.bytes).toBeLessThanOrEqual(MAX_BYTES)
    expect(stalled.buffered.records).toBeLessThanOrEqual(MAX_RECORDS)
    expect(fastCount).toBe(RECORDS) // the other group kept up
    expect(heapGrowth).toBeLessThan(8 * 1024 * 1024)
    const lag = await stalled.lag()
    expect(lag.reduce((sum, p) => sum + p.records, 0)).toBe(RECORDS) // nothing processed: all of it is lag
    expect(lag.every((p) => p.bytes > p.records * VALUE.length)).toBe(true)

    await fast.close()
    await fastRun
    await stalled.close({ timeoutMs: 0 }) // its handler never returns: do not wait for it
    await stalledRun
    await spool.close()
  }, 120_000)
})
