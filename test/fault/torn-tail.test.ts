import fs from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { openLog } from '../helpers/open-log.js'
import { readAll } from '../helpers/read-all.js'
import { batchOf, plain } from '../helpers/records.js'
import { tempDir } from '../helpers/temp-dir.js'

const LOG = '00000000000000000000.log'

/**
 * A crash image: the files exactly as a killed writer leaves them (no clean-shutdown
 * marker, its lock file dropped as a dead process's would be taken over).
 */
async function crashImage(): Promise<{ image: string; lastBatchStart: number; size: number; prefix: unknown[]; lastBase: number }> {
  const image = tempDir()
  const log = await openLog(image, { indexIntervalBytes: 64 })
  let next = 0
  for (let b = 0; b < 8; b++) {
    await log.append(batchOf(next, 2, 15))
    next += 2
  }
  const lastBatchStart = fs.statSync(path.join(image, LOG)).size
  const prefix = (await readAll(log)).map(plain)
  await log.append(batchOf(next, 3, 25))
  const size = fs.statSync(path.join(image, LOG)).size
  // Snapshot while the writer still holds it: that is what a crash leaves.
  const snapshot = tempDir()
  fs.cpSync(image, snapshot, { recursive: true })
  fs.rmSync(path.join(snapshot, '.lock'))
  await log.close()
  return { image: snapshot, lastBatchStart, size, prefix, lastBase: next }
}

describe('torn tail: every cut point inside the last batch', () => {
  it('reopens to exactly the valid prefix and the next append gets the next offset', async () => {
    const { image, lastBatchStart, size, prefix, lastBase } = await crashImage()
    expect(fs.existsSync(path.join(image, 'clean-shutdown.json'))).toBe(false)
    let garbageSeed = 12345
    const garbage = (n: number): Buffer => {
      const out = Buffer.alloc(n)
      for (let i = 0; i < n; i++) {
        garbageSeed = (garbageSeed * 1103515245 + 12345) >>> 0
        out[i] = garbageSeed >>> 24
      }
      return out
    }
    const variants: Array<[string, (file: string, cut: number) => void]> = [
      ['truncated', (file, cut) => fs.truncateSync(file, cut)],
      [
        'overwritten with garbage',
        (file, cut) => {
          const fd = fs.openSync(file, 'r+')
          fs.writeSync(fd, garbage(size - cut), 0, size - cut, cut)
          fs.closeSync(fd)
        },
      ],
    ]
    let checked = 0
    for (const [name, damage] of variants) {
      for (let cut = lastBatchStart; cut < size; cut++) {
        const dir = tempDir()
        fs.cpSync(image, dir, { recursive: true })
        damage(path.join(dir, LOG), cut)
        const log = await openLog(dir)
        const what = `${name} at byte ${cut}`
        expect(log.endOffset, what).toBe(lastBase)
        expect((await readAll(log)).map(plain), what).toEqual(prefix)
        expect(fs.statSync(path.join(dir, LOG)).size, what).toBe(lastBatchStart)
        expect(await log.append(batchOf(1000, 1)), what).toEqual({ baseOffset: lastBase, lastOffset: lastBase })
        await log.close()
        fs.rmSync(dir, { recursive: true })
        checked++
      }
    }
    expect(checked).toBe(2 * (size - lastBatchStart))
    // The untouched image recovers everything, including the last batch.
    const whole = await openLog(image)
    expect(whole.endOffset).toBe(lastBase + 3)
    await whole.close()
  })
})
