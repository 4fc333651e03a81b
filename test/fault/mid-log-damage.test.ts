import fs from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { DEFAULT_MAX_BATCH_BYTES } from '../../src/limits.js'
import type { FlushPolicy } from '../../src/storage/flush-policy.js'
import { nodeIO } from '../../src/storage/io.js'
import type { Logger } from '../../src/storage/logger.js'
import { openLogDirectory } from '../../src/storage/recovery.js'
import type { SegmentContext } from '../../src/storage/segment.js'
import { expectCode } from '../helpers/expect-code.js'
import { openLog } from '../helpers/open-log.js'
import { readAll } from '../helpers/read-all.js'
import { DAMAGES, DAMAGE_OPTIONS, type LaidBatch, asAfterCrash, asWritten, damage, hashTree, layoutOf, writtenPartition } from './damage.js'

/**
 * Issue 12, defect 4: damage with valid data after it is not a torn tail. Recovery used
 * to truncate at the first bad batch and delete every later segment, acknowledged
 * records and all. Now only a tail that runs to the end of the log is cut; anything else
 * is refused with CORRUPT_BATCH, changing nothing (recovery.ts has the policy).
 */

/** Opens (writable, then read-only) and expects a refusal naming the damaged batch, with every file as it was. */
async function expectRefused(dir: string, batch: LaidBatch): Promise<void> {
  const before = hashTree(dir)
  for (const readOnly of [false, true]) {
    const error = await expectCode(openLog(dir, { ...DAMAGE_OPTIONS, readOnly }), 'CORRUPT_BATCH')
    expect(error.details).toEqual({ file: path.join(dir, batch.file), position: batch.position, offset: batch.baseOffset })
    expect(error.message).toContain(`${path.join(dir, batch.file)} at byte ${batch.position} (offset ${batch.baseOffset})`)
    expect(error.message).toContain(`spool segments repair ${dir}`)
    expect(hashTree(dir), `readOnly ${readOnly}: no file changed`).toEqual(before)
  }
}

describe('recovery: damage with valid data after it is refused, never truncated', () => {
  for (const how of Object.keys(DAMAGES)) {
    it(`in the same segment (${how}): CORRUPT_BATCH, and no file changes`, async () => {
      const { dir } = await writtenPartition(12, { segmentBytes: 1 << 20, indexIntervalBytes: 128 })
      asAfterCrash(dir)
      const layout = layoutOf(dir)
      expect(new Set(layout.map((b) => b.file)).size).toBe(1)
      const victim = layout[5]!
      damage(dir, victim, how, layout[4])
      await expectRefused(dir, victim)
    })

    it(`in a sealed segment with later segments (${how}): CORRUPT_BATCH, and no later segment is deleted`, async () => {
      const { dir } = await writtenPartition()
      asAfterCrash(dir)
      const layout = layoutOf(dir)
      expect(new Set(layout.map((b) => b.file)).size).toBeGreaterThan(3)
      const victim = layout.filter((b) => b.segment === 0)[2]!
      damage(dir, victim, how, layout[1])
      await expectRefused(dir, victim)
    })
  }

  it('the last batch of a sealed segment, damaged, is no torn tail while a later segment holds data', async () => {
    const { dir } = await writtenPartition()
    asAfterCrash(dir)
    const layout = layoutOf(dir)
    const victim = layout.filter((b) => b.segment === 0).at(-1)!
    damage(dir, victim, 'a bit flip in a record')
    await expectRefused(dir, victim)
  })

  it('a later segment that holds only a torn batch still proves the earlier one was whole', async () => {
    const { dir } = await writtenPartition()
    asAfterCrash(dir)
    const layout = layoutOf(dir)
    const victim = layout.filter((b) => b.segment === 0).at(-1)!
    damage(dir, victim, 'a wrong magic byte')
    // Only the second segment is left after it, holding 30 bytes of a batch.
    const second = layout.find((b) => b.segment === 1)!.file
    for (const name of fs.readdirSync(dir)) if (/^\d{20}\./.test(name) && name.slice(0, 20) > second.slice(0, 20)) fs.rmSync(path.join(dir, name))
    fs.truncateSync(path.join(dir, second), 30)
    await expectRefused(dir, victim)
  })
})

describe('recovery: a tail that runs to the end of the log is still cut by itself', () => {
  it('a whole last batch whose last bytes never reached the disk (zeros), and a zero-filled tail, are torn tails', async () => {
    for (const tear of ['last bytes zeroed', 'zeros appended'] as const) {
      const { dir, written } = await writtenPartition(12, { segmentBytes: 1 << 20, indexIntervalBytes: 128 })
      asAfterCrash(dir)
      const layout = layoutOf(dir)
      const last = layout.at(-1)!
      const file = path.join(dir, last.file)
      const bytes = fs.readFileSync(file)
      if (tear === 'last bytes zeroed') bytes.fill(0, last.position + last.sizeBytes - 10)
      fs.writeFileSync(file, tear === 'last bytes zeroed' ? bytes : Buffer.concat([bytes, Buffer.alloc(700)]))
      const warnings: string[] = []
      const log = await openLog(dir, { ...DAMAGE_OPTIONS, segmentBytes: 1 << 20, logger: { warn: (m) => warnings.push(m) } })
      const keptEnd = tear === 'last bytes zeroed' ? last.baseOffset : last.lastOffset + 1
      expect(log.endOffset, tear).toBe(keptEnd)
      expect(asWritten(await readAll(log)), tear).toEqual([...written].filter(([offset]) => offset < keptEnd))
      expect(warnings, tear).toEqual([expect.stringMatching(/; the log ends at byte \d+ \(offset \d+\)$/)])
      await log.close()
    }
  })
})

describe('recovery: past the last fsync, a flush policy other than always promised nothing', () => {
  const ctxOf = (dir: string, logger: Logger): SegmentContext => ({
    io: nodeIO,
    dir,
    readOnly: false,
    maxBatchBytes: DEFAULT_MAX_BATCH_BYTES,
    indexIntervalBytes: DAMAGE_OPTIONS.indexIntervalBytes,
    logger,
  })

  it("damage followed by valid batches in the last segment: refused under 'always', cut with a warning under 'never' and an interval", async () => {
    for (const flush of ['always', 'never', { intervalMs: 1000 }] as FlushPolicy[]) {
      const { dir } = await writtenPartition(12, { segmentBytes: 1 << 20, indexIntervalBytes: 128 })
      asAfterCrash(dir)
      const layout = layoutOf(dir)
      const victim = layout[8]!
      damage(dir, victim, 'a bit flip in a record')
      const warnings: string[] = []
      const opening = openLogDirectory(ctxOf(dir, { warn: (m) => warnings.push(m) }), 0, { flush })
      if (flush === 'always') {
        await expectCode(opening, 'CORRUPT_BATCH')
        continue
      }
      const opened = await opening
      try {
        expect(opened.end.nextOffset).toBe(victim.baseOffset)
        expect(fs.statSync(path.join(dir, victim.file)).size).toBe(victim.position)
        expect(warnings).toEqual([
          expect.stringContaining(`start with a valid batch (offset ${layout[9]!.baseOffset}) and are dropped, written after the last fsync under flush ${JSON.stringify(flush)}`),
        ])
      } finally {
        for (const segment of opened.segments) await segment.close()
      }
    }
  })
})
