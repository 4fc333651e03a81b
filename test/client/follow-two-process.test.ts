import fs from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import type { ConsumedRecord } from '../../src/client/reader.js'
import { expectCode } from '../helpers/expect-code.js'
import { onLines, runUntilKilled, spawnTs } from '../helpers/kill-child.js'
import { openTestSpool } from '../helpers/open-spool.js'
import { median, percentile } from '../helpers/stats.js'
import { tempDir } from '../helpers/temp-dir.js'

const WRITER = path.join(import.meta.dirname, '../fixtures/follow-writer.ts')
const RECORDS = 240

interface Child {
  lines: string[]
  exited: Promise<number | null>
}

function startWriter(args: string[]): Child {
  const child = spawnTs(WRITER, args)
  const lines: string[] = []
  onLines(child, (line) => lines.push(line))
  return { lines, exited: new Promise((resolve) => child.on('exit', (code) => resolve(code))) }
}

/** Each batch of the partition's segment files: its file, last offset and where it ends (Kafka's batch v2 header). */
function batchesOf(partitionDir: string): Array<{ file: string; lastOffset: number; end: number }> {
  const batches: Array<{ file: string; lastOffset: number; end: number }> = []
  for (const name of fs.readdirSync(partitionDir).filter((n) => n.endsWith('.log')).sort()) {
    const file = path.join(partitionDir, name)
    const bytes = fs.readFileSync(file)
    for (let at = 0; at + 61 <= bytes.length; ) {
      const end = at + 12 + bytes.readInt32BE(at + 8)
      batches.push({ file, lastOffset: Number(bytes.readBigInt64BE(at)) + bytes.readInt32BE(at + 23), end })
      at = end
    }
  }
  return batches
}


describe('a read-only spool.read({ follow: true }) beside a writer in another process', { timeout: 120_000 }, () => {
  it("sees every record the writer appends, in order, across segment rolls, and none before an fsync covered it (flush 'always')", async () => {
    const dir = tempDir()
    const setup = await openTestSpool(dir, { cleanerIntervalMs: 0 })
    await setup.createTopic('t', { flush: 'always', segmentBytes: 2048 })
    await setup.close()
    const coverage = path.join(tempDir(), 'coverage')
    fs.writeFileSync(coverage, '')

    const reader = await openTestSpool(dir, { readOnly: true })
    const seen: Array<{ record: ConsumedRecord; at: number; coverageBytes: number }> = []
    const controller = new AbortController()
    const following = (async () => {
      for await (const record of reader.read('t', { follow: true, signal: controller.signal })) {
        // What the writer's fsyncs had covered when this record was seen (the file only grows).
        seen.push({ record, at: performance.timeOrigin + performance.now(), coverageBytes: fs.statSync(coverage).size })
        if (seen.length === RECORDS) return
      }
    })()
    const writer = startWriter([dir, String(RECORDS), coverage])
    await following
    expect(await writer.exited).toBe(0)
    controller.abort()
    await reader.close()

    expect(seen.map(({ record }) => record.offset)).toEqual(Array.from({ length: RECORDS }, (_, i) => i))
    for (const { record } of seen) expect(record.value!.toString()).toBe(`value-${record.key!.toString().slice(1)}-${'x'.repeat(80)}`)
    const batches = batchesOf(path.join(dir, 't-0'))
    expect(new Set(batches.map((b) => b.file)).size).toBeGreaterThan(5) // rolled several times while followed

    const coverageText = fs.readFileSync(coverage, 'utf8')
    for (const { record, coverageBytes } of seen) {
      const batch = batches.find((b) => b.lastOffset >= record.offset)!
      const synced = coverageText
        .slice(0, coverageBytes)
        .split('\n')
        .filter((line) => line.startsWith(`${batch.file} `))
        .map((line) => Number(line.slice(batch.file.length + 1)))
      expect(Math.max(0, ...synced), `offset ${record.offset} was seen before an fsync covered ${batch.file} to byte ${batch.end}`).toBeGreaterThanOrEqual(batch.end)
    }

    const acked = new Map(writer.lines.filter((l) => l.startsWith('ack ')).map((l) => l.split(' ').slice(1).map(Number) as [number, number]))
    expect(acked.size).toBe(RECORDS)
    // Seen after the ack or before it: the writer publishes before its acknowledgements run.
    const delays = seen.map(({ record, at }) => at - acked.get(record.offset)!)
    console.log(`follow (library, read-only, other process): ack → seen median ${median(delays).toFixed(2)} ms, p99 ${percentile(delays, 0.99).toFixed(2)} ms`)
  })

  it('goes on across a writer killed mid-stream and a new writer that recovers the log and appends more', async () => {
    const dir = tempDir()
    const setup = await openTestSpool(dir, { cleanerIntervalMs: 0 })
    await setup.createTopic('t', { flush: 'always', segmentBytes: 4096 })
    await setup.close()
    const reader = await openTestSpool(dir, { readOnly: true })
    const seen: ConsumedRecord[] = []
    const controller = new AbortController()
    let wanted = Infinity
    let reached: () => void = () => undefined
    const following = (async () => {
      for await (const record of reader.read('t', { follow: true, signal: controller.signal })) {
        seen.push(record)
        if (record.offset + 1 >= wanted) reached()
      }
    })()
    const killed = await runUntilKilled(WRITER, [dir, '100000'], 300, 'open')
    const second = startWriter([dir, '50'])
    expect(await second.exited).toBe(0)
    const described = await openTestSpool(dir, { readOnly: true })
    const end = (await described.describeTopic('t')).partitions[0]!.endOffset
    await described.close()
    await new Promise<void>((resolve) => {
      reached = resolve
      wanted = end
      if (seen.length > 0 && seen.at(-1)!.offset + 1 >= end) resolve()
    })
    controller.abort()
    await following
    await reader.close()
    // Every offset once, in order; each record whole; every acknowledged one among them.
    expect(seen.map((r) => r.offset)).toEqual(Array.from({ length: end }, (_, i) => i))
    for (const record of seen) expect(record.value!.toString()).toBe(`value-${record.key!.toString().slice(1)}-${'x'.repeat(80)}`)
    const acked = [...killed, ...second.lines].filter((l) => l.startsWith('ack ')).map((l) => Number(l.split(' ')[1]))
    expect(acked.length).toBeGreaterThan(50)
    for (const offset of acked) expect(offset).toBeLessThan(end)
  })

  it('a read-only spool refuses consumers with NEEDS_OWNER (group members live in the owning process)', async () => {
    const dir = tempDir()
    const setup = await openTestSpool(dir)
    await setup.createTopic('t')
    const reader = await openTestSpool(dir, { readOnly: true })
    const error = await expectCode(
      (async () => {
        reader.consumer({ group: 'g', topics: ['t'] })
      })(),
      'NEEDS_OWNER',
    )
    expect(error.message).toMatch(/needs the owning process/)
    await reader.close()
    await setup.close()
  })
})
