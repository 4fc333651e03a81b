import fs from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { countingIO } from '../helpers/counting-io.js'
import { expectCode } from '../helpers/expect-code.js'
import { heldIO } from '../helpers/held-io.js'
import { openLog } from '../helpers/open-log.js'
import { readAll } from '../helpers/read-all.js'
import { batchOf, plain, recordFor } from '../helpers/records.js'
import { tempDir } from '../helpers/temp-dir.js'

describe('partition log: append and read', () => {
  it('assigns contiguous offsets and reads records back byte for byte', async () => {
    const log = await openLog(tempDir())
    expect(await log.append(batchOf(0, 3))).toEqual({ baseOffset: 0, lastOffset: 2 })
    expect(await log.append(batchOf(3, 2))).toEqual({ baseOffset: 3, lastOffset: 4 })
    expect(log.endOffset).toBe(5)
    const { records, nextOffset } = await log.read(0)
    expect(records.map((r) => r.offset)).toEqual([0, 1, 2, 3, 4])
    expect(records.map(plain)).toEqual(batchOf(0, 5).map(plain))
    expect(nextOffset).toBe(5)
    const middle = await log.read(3)
    expect(middle.records.map((r) => r.offset)).toEqual([3, 4])
    await log.close()
  })

  it('returns nothing at the end, and OFFSET_OUT_OF_RANGE past it or for bad offsets', async () => {
    const log = await openLog(tempDir())
    expect((await log.read(0)).records).toEqual([])
    await log.append(batchOf(0, 2))
    expect((await log.read(2)).records).toEqual([])
    const error = await expectCode(log.read(3), 'OFFSET_OUT_OF_RANGE')
    expect(error.details.endOffset).toBe(2)
    await expectCode(log.read(-1), 'INVALID_ARGUMENT')
    await expectCode(log.read(1.5), 'INVALID_ARGUMENT')
    await log.close()
    await expectCode(log.read(0), 'CLOSED')
    await expectCode(log.append(batchOf(0, 1)), 'CLOSED')
  })

  it('reads across many rolled segments with any maxBytes, every record once and in order', async () => {
    const dir = tempDir()
    const log = await openLog(dir, { segmentBytes: 2048, indexIntervalBytes: 256, flush: 'never' })
    let next = 0
    for (let b = 0; b < 60; b++) {
      const count = 1 + (b % 7)
      await log.append(batchOf(next, count, 10 + (b % 5) * 40))
      next += count
    }
    expect(log.segmentCount).toBeGreaterThan(5)
    expect(fs.readdirSync(dir).filter((f) => f.endsWith('.log')).length).toBe(log.segmentCount)
    for (const maxBytes of [1, 100, 700, 5000, 10 ** 6]) {
      const all = await readAll(log, 0, maxBytes)
      expect(all.map((r) => r.offset)).toEqual(Array.from({ length: next }, (_, i) => i))
      expect(all.map(plain)).toEqual(batchOf(0, next, 0).map((_, i) => plain(all[i]!)))
    }
    for (let from = 0; from < next; from += 17) {
      const { records } = await log.read(from, { maxBytes: 1 })
      expect(records[0]!.offset).toBe(from)
      expect(plain(records[0]!)).toEqual(plain(recordFor(from, 10 + ((records[0]!.value!.length - 10) / 40) * 40)))
    }
    await log.close()
  })

  it('returns a whole batch even when it is larger than maxBytes', async () => {
    const log = await openLog(tempDir())
    await log.append(batchOf(0, 50, 200))
    const { records } = await log.read(10, { maxBytes: 1 })
    expect(records.map((r) => r.offset)).toEqual(Array.from({ length: 40 }, (_, i) => 10 + i))
    await log.close()
  })

  it('rolls a segment when segmentMs has passed on the injected clock', async () => {
    let now = 1_000_000
    const log = await openLog(tempDir(), { segmentMs: 1000, clock: () => now })
    await log.append(batchOf(0, 1))
    now += 999
    await log.append(batchOf(1, 1))
    expect(log.segmentCount).toBe(1)
    now += 1
    await log.append(batchOf(2, 1))
    expect(log.segmentCount).toBe(2)
    expect((await readAll(log)).map((r) => r.offset)).toEqual([0, 1, 2])
    await log.close()
  })

  it('keeps the segmentMs clock of the active segment across a reopen, whatever the record timestamps', async () => {
    let now = 5_000_000
    const dir = tempDir()
    const options = { segmentMs: 1000, clock: () => now }
    const old = { timestamp: 946_684_800_000 } // records stamped in the year 2000
    const log = await openLog(dir, options)
    await log.append([{ ...recordFor(0), ...old }])
    await log.close()
    now += 500
    const reopened = await openLog(dir, options)
    await reopened.append([{ ...recordFor(1), ...old }])
    expect(reopened.segmentCount).toBe(1)
    now += 500
    await reopened.append([{ ...recordFor(2), ...old }])
    expect(reopened.segmentCount).toBe(2)
    await reopened.close()
  })

  it('survives close and reopen: same records, appends continue at the next offset', async () => {
    const dir = tempDir()
    const log = await openLog(dir, { segmentBytes: 1024 })
    for (let i = 0; i < 20; i++) await log.append(batchOf(i * 3, 3))
    const before = (await readAll(log)).map(plain)
    await log.close()
    expect(fs.existsSync(path.join(dir, 'clean-shutdown.json'))).toBe(true)
    const reopened = await openLog(dir, { segmentBytes: 1024 })
    // Nothing written yet: the marker stays (an open and close that write nothing cost nothing)...
    expect(fs.existsSync(path.join(dir, 'clean-shutdown.json'))).toBe(true)
    expect(reopened.endOffset).toBe(60)
    expect((await readAll(reopened)).map(plain)).toEqual(before)
    expect(await reopened.append(batchOf(60, 2))).toEqual({ baseOffset: 60, lastOffset: 61 })
    // ...until the first append, which removes it before it writes.
    expect(fs.existsSync(path.join(dir, 'clean-shutdown.json'))).toBe(false)
    await reopened.close()
  })
})

describe('partition log: flush policies', () => {
  it("'always' shares one fdatasync among concurrent appends (group commit)", async () => {
    const io = countingIO()
    const log = await openLog(tempDir(), { flush: 'always', io })
    io.reset()
    const results = await Promise.all(Array.from({ length: 200 }, (_, i) => log.append([recordFor(i)])))
    const offsets = results.map((r) => r.baseOffset).sort((a, b) => a - b)
    expect(offsets).toEqual(Array.from({ length: 200 }, (_, i) => i))
    const syncs = io.count('fdatasync', '.log')
    const writes = io.count('writev', '.log')
    expect(syncs).toBeGreaterThanOrEqual(1)
    expect(syncs).toBeLessThanOrEqual(3)
    expect(writes).toBe(syncs)
    // Batches encoded side by side in the shared arena were each written intact.
    const byOffset = new Map(results.map((r, i) => [r.baseOffset, plain(recordFor(i))]))
    for (const record of await readAll(log)) expect(plain(record)).toEqual(byOffset.get(record.offset))
    await log.close()
  })

  it("'always' makes records visible to readers only after their fdatasync", async () => {
    const io = heldIO()
    const log = await openLog(tempDir(), { flush: 'always', io })
    const held = io.hold('fdatasync', '.log')
    const appended = log.append(batchOf(0, 2))
    await held.entered // written, its fdatasync not yet done
    expect(log.endOffset).toBe(0)
    expect((await log.read(0)).records).toEqual([])
    held.release()
    await appended
    expect(log.endOffset).toBe(2)
    expect((await log.read(0)).records.length).toBe(2)
    await log.close()
  })

  it("'never' and { intervalMs } acknowledge without an fdatasync per append; the interval timer syncs", async () => {
    const io = countingIO()
    const never = await openLog(tempDir(), { flush: 'never', io })
    io.reset()
    for (let i = 0; i < 10; i++) await never.append([recordFor(i)])
    expect(io.count('fdatasync', '.log')).toBe(0)
    await never.close()

    const timed = countingIO()
    const timers = new Map<number, () => void>()
    const scheduler = { every: (ms: number, task: () => void) => (timers.set(ms, task), () => timers.delete(ms)) }
    const interval = await openLog(tempDir(), { flush: { intervalMs: 20 }, io: timed, scheduler })
    timed.reset()
    for (let i = 0; i < 10; i++) await interval.append([recordFor(i)])
    expect(timed.count('fdatasync', '.log')).toBe(0)
    timers.get(20)!() // the interval passes
    await interval.flush() // waits for the timer's fsync (one path: it shares it)
    expect(timed.count('fdatasync', '.log')).toBe(1)
    await interval.close()
  })

  it('refuses bad options with INVALID_ARGUMENT naming the field', async () => {
    await expectCode(openLog(tempDir(), { flush: 'sometimes' as never }), 'INVALID_ARGUMENT')
    const error = await expectCode(openLog(tempDir(), { segmentBytes: -5 }), 'INVALID_ARGUMENT')
    expect(error.message).toContain('segmentBytes')
  })
})

describe('partition log: offsetForTimestamp', () => {
  it('finds the first offset at or after a timestamp, across segments and out-of-order timestamps', async () => {
    const log = await openLog(tempDir(), { segmentBytes: 600, indexIntervalBytes: 100 })
    const timestamps: number[] = []
    for (let i = 0; i < 120; i++) {
      // rising by 10 ms, with every 7th record stamped 25 ms in the past
      timestamps.push(1_000_000 + i * 10 - (i % 7 === 0 ? 25 : 0))
    }
    for (let i = 0; i < 120; i += 4) {
      await log.append(timestamps.slice(i, i + 4).map((timestamp, k) => ({ ...recordFor(i + k), timestamp })))
    }
    expect(log.segmentCount).toBeGreaterThan(3)
    for (let t = 999_900; t <= 1_001_300; t += 7) {
      const expected = timestamps.findIndex((ts) => ts >= t)
      expect(await log.offsetForTimestamp(t), `t=${t}`).toBe(expected === -1 ? null : expected)
    }
    await log.close()
  })
})

describe('partition log: recovery and files', () => {
  it('rebuilds deleted or corrupted index files, and reads give the same records', async () => {
    const dir = tempDir()
    const options = { segmentBytes: 1500, indexIntervalBytes: 200 }
    const log = await openLog(dir, options)
    for (let i = 0; i < 40; i++) await log.append(batchOf(i * 3, 3, 30 + (i % 4) * 20))
    const expected = (await readAll(log)).map((r) => [r.offset, plain(r)])
    const lookups = await Promise.all([1, 50, 77, 119].map((o) => log.read(o, { maxBytes: 1 })))
    await log.close()
    const indexFiles = fs.readdirSync(dir).filter((f) => f.endsWith('index'))
    expect(indexFiles.length).toBeGreaterThan(6)

    const damages: Array<(file: string) => void> = [
      (file) => fs.rmSync(file),
      (file) => fs.truncateSync(file, Math.max(0, fs.statSync(file).size - 3)),
      (file) => fs.writeFileSync(file, Buffer.alloc(fs.statSync(file).size, 0xff)),
      (file) => {
        // well-formed entries that point at the wrong places
        const bytes = fs.readFileSync(file)
        for (let at = 4; at + 4 <= bytes.length; at += file.endsWith('.timeindex') ? 12 : 8) bytes.writeUInt32BE(bytes.readUInt32BE(at) + 1, at)
        fs.writeFileSync(file, bytes)
      },
    ]
    for (const damage of damages) {
      for (const file of indexFiles) damage(path.join(dir, file))
      const reopened = await openLog(dir, options)
      expect((await readAll(reopened)).map((r) => [r.offset, plain(r)])).toEqual(expected)
      for (const [k, offset] of [1, 50, 77, 119].entries()) {
        expect((await reopened.read(offset, { maxBytes: 1 })).records[0]).toEqual(lookups[k]!.records[0])
      }
      await reopened.close()
    }
  })

  it('a second open of the same directory in this process fails with LOCKED', async () => {
    const dir = tempDir()
    const log = await openLog(dir)
    const error = await expectCode(openLog(dir), 'LOCKED')
    expect(error.message).toContain(dir)
    const reader = await openLog(dir, { readOnly: true })
    await log.append(batchOf(0, 1))
    await reader.close()
    await log.close()
    const again = await openLog(dir)
    await again.close()
  })
})
