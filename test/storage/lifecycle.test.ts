import fs from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { offsetFileStem } from '../../src/storage/paths.js'
import { expectCode } from '../helpers/expect-code.js'
import { heldIO } from '../helpers/held-io.js'
import { openLog } from '../helpers/open-log.js'
import { readAll } from '../helpers/read-all.js'
import { batchOf, plain } from '../helpers/records.js'
import { tempDir } from '../helpers/temp-dir.js'

const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve))

/** Defect 6 of issue 12: what a partition does at its edges — close, roll, listeners, open. */
describe('partition lifecycle', () => {
  it('close() waits for a read in flight instead of closing its descriptor under it', async () => {
    const io = heldIO()
    const dir = tempDir()
    const log = await openLog(dir, { io, segmentBytes: 600 })
    for (let i = 0; i < 10; i++) await log.append(batchOf(i * 3, 3))
    expect(log.segmentCount).toBeGreaterThan(2)
    // A read of the first (sealed) segment is held at its read of the file...
    const held = io.hold('read', offsetFileStem(0) + '.log')
    const read = log.read(0, { maxBytes: 64 })
    await held.entered
    const closed = log.close()
    // Let close() get as far as it goes without the read: past its last directory fsync
    // (after the clean-shutdown marker), which is where the old code closed every descriptor.
    while (!io.events.includes(`fsync ${dir}`) || !fs.existsSync(path.join(dir, 'clean-shutdown.json'))) await turn()
    for (let i = 0; i < 10; i++) await turn()
    expect(io.events.filter((event) => event.startsWith('close') && event.endsWith(offsetFileStem(0) + '.log'))).toEqual([])
    held.release()
    // ...and still gets its records: the descriptor was not closed (or reused) under it.
    const { records } = await read
    expect(records.map(plain)).toEqual(batchOf(0, records.length).map(plain))
    await closed
    await expectCode(log.read(0), 'CLOSED')
  })

  it('an append listener that throws stops neither the writer nor the appends queued behind it', async () => {
    const log = await openLog(tempDir(), { segmentBytes: 400 })
    log.onAppend(() => {
      throw new Error('a listener bug')
    })
    // Enough at once that one writer turn writes several groups across rolls.
    const appends = Array.from({ length: 12 }, (_, i) => log.append(batchOf(i * 2, 2)))
    const results = await Promise.all(appends)
    expect(results.map((r) => r.baseOffset)).toEqual(Array.from({ length: 12 }, (_, i) => i * 2))
    expect((await readAll(log)).map(plain)).toEqual(batchOf(0, 24).map(plain))
    await log.close()
  })

  it('a roll never truncates a file already named like the new segment: it refuses, and the data stays', async () => {
    const dir = tempDir()
    const log = await openLog(dir, { segmentBytes: 400 })
    let end = 0
    while (log.segmentCount === 1 && log.endOffset < 4) end = (await log.append(batchOf(end, 2))).lastOffset + 1
    // A file stands where the next segment would go (left by another writer, a restore, a bug).
    const next = path.join(dir, offsetFileStem(log.endOffset) + '.log')
    fs.writeFileSync(next, 'not to be destroyed')
    const big = batchOf(100, 8, 60)
    await expectCode(log.append(big), 'IO_ERROR')
    expect(fs.readFileSync(next, 'utf8')).toBe('not to be destroyed')
    await log.close()
  })

  it('a roll after a failed one reuses the empty file it left and loses nothing', async () => {
    const dir = tempDir()
    const log = await openLog(dir, { segmentBytes: 400 })
    await log.append(batchOf(0, 4, 60))
    fs.writeFileSync(path.join(dir, offsetFileStem(4) + '.log'), '')
    await log.append(batchOf(4, 4, 60))
    expect(log.segmentCount).toBe(2)
    await log.close()
    const reopened = await openLog(dir)
    expect((await readAll(reopened)).map(plain)).toEqual([...batchOf(0, 4, 60), ...batchOf(4, 4, 60)].map(plain))
    await reopened.close()
  })

  it('opening partitions allocates no encode buffer until one is appended to', async () => {
    const dirs = Array.from({ length: 40 }, () => tempDir())
    for (const dir of dirs) await (await openLog(dir)).close()
    const before = process.memoryUsage().arrayBuffers
    const logs = []
    for (const dir of dirs) logs.push(await openLog(dir))
    const grownBytes = process.memoryUsage().arrayBuffers - before
    // The old code allocated a 4 MiB arena per open: 160 MiB here.
    expect(grownBytes).toBeLessThan(16 * 1024 * 1024)
    for (const log of logs) await log.close()
  })
})
