import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { expectCode } from '../helpers/expect-code.js'
import { openLog } from '../helpers/open-log.js'
import { openTestSpool } from '../helpers/open-spool.js'
import { readAll } from '../helpers/read-all.js'
import { tempDir } from '../helpers/temp-dir.js'

const HOUR = 60 * 60 * 1000

describe('spool cleanup: retention and compaction per topic', () => {
  it("deletes expired sealed segments of 'delete' topics, leaves others alone, and the start offset advances", async () => {
    let now = 1_000 * HOUR
    const dir = tempDir()
    const spool = await openTestSpool(dir, { clock: () => now, cleanerIntervalMs: 0 })
    await spool.createTopic('short', { segmentBytes: 1024, retentionMs: HOUR })
    await spool.createTopic('forever', { segmentBytes: 1024 })
    const producer = spool.producer()
    for (let i = 0; i < 60; i++) {
      await producer.send({ topic: 'short', value: 'x'.repeat(100) })
      await producer.send({ topic: 'forever', value: 'x'.repeat(100) })
    }
    const before = await spool.describeTopic('short')
    expect(before.partitions[0]!.segments).toBeGreaterThan(3)
    now += 2 * HOUR
    const report = await spool.runCleanup()
    expect(report.failures).toBe(0)
    expect(report.deletedSegments).toBe(before.partitions[0]!.segments - 1) // every sealed one, never the active
    const after = (await spool.describeTopic('short')).partitions[0]!
    expect(after.segments).toBe(1)
    expect(after.startOffset).toBeGreaterThan(0)
    expect(after.endOffset).toBe(60)
    const forever = (await spool.describeTopic('forever')).partitions[0]!
    expect(forever.startOffset).toBe(0)
    expect((await producer.send({ topic: 'short', value: 'more' })).offset).toBe(60)

    const reader = await openLog(path.join(dir, 'short-0'), { readOnly: true })
    const error = await expectCode(reader.read(0), 'OFFSET_OUT_OF_RANGE')
    expect(error.details.startOffset).toBe(after.startOffset)
    await reader.close()
    await spool.close()
  })

  it("compacts 'compact' topics to the latest record per key, keeping offsets", async () => {
    const dir = tempDir()
    const spool = await openTestSpool(dir, { cleanerIntervalMs: 0 })
    await spool.createTopic('state', { segmentBytes: 512, cleanup: 'compact' })
    const producer = spool.producer()
    const latest = new Map<string, number>()
    for (let i = 0; i < 80; i++) {
      const key = `k${i % 5}`
      const { offset } = await producer.send({ topic: 'state', key, value: `${key}=${i}` })
      latest.set(key, offset)
    }
    const report = await spool.runCleanup()
    expect(report.compactedSegments).toBeGreaterThan(0)
    const reader = await openLog(path.join(dir, 'state-0'), { readOnly: true })
    const records = await readAll(reader)
    // Every key's latest record is there, at its offset, and older copies in sealed segments are gone.
    for (const [key, offset] of latest) {
      const found = records.find((r) => r.offset === offset)
      expect(found?.value?.toString()).toBe(`${key}=${offset}`)
    }
    expect(records.length).toBeLessThan(80)
    await reader.close()
    await spool.close()
  })

  it('runs on its own every cleanerIntervalMs', async () => {
    let now = 1_000 * HOUR
    const spool = await openTestSpool(tempDir(), { clock: () => now, cleanerIntervalMs: 20 })
    await spool.createTopic('t', { segmentBytes: 1024, retentionBytes: 1 })
    const producer = spool.producer()
    for (let i = 0; i < 40; i++) await producer.send({ topic: 't', value: 'y'.repeat(100) })
    now += HOUR
    let segments = Infinity
    for (let waited = 0; waited < 20_000 && segments > 1; waited += 20) {
      await new Promise((resolve) => setTimeout(resolve, 20))
      segments = (await spool.describeTopic('t')).partitions[0]!.segments
    }
    expect(segments).toBe(1)
    await spool.close()
  })
})
