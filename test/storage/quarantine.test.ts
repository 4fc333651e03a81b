import fs from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { DEFAULT_MAX_BATCH_BYTES } from '../../src/limits.js'
import { type StorageIO, nodeIO } from '../../src/storage/io.js'
import { silentLogger } from '../../src/storage/logger.js'
import { executeRepair, planRepair } from '../../src/storage/quarantine.js'
import { QuarantineGaps, readQuarantineRecord } from '../../src/storage/quarantine-record.js'
import type { SegmentContext } from '../../src/storage/segment.js'
import { DAMAGE_OPTIONS, type LaidBatch, asAfterCrash, asWritten, damage, hashTree, layoutOf, writtenPartition } from '../fault/damage.js'
import { expectCode } from '../helpers/expect-code.js'
import { faultyIO } from '../helpers/faulty-io.js'
import { openLog } from '../helpers/open-log.js'
import { readAll } from '../helpers/read-all.js'
import { batchOf } from '../helpers/records.js'

/**
 * `spool segments repair` in the storage layer (quarantine.ts): a dry run changes
 * nothing; an executed one moves exactly the damaged bytes aside, records the gap, and
 * leaves a partition that opens by itself with every other record at its own offset.
 */
function ctxOf(dir: string, readOnly: boolean, io: StorageIO = nodeIO): SegmentContext {
  return { io, dir, readOnly, maxBatchBytes: DEFAULT_MAX_BATCH_BYTES, indexIntervalBytes: DAMAGE_OPTIONS.indexIntervalBytes, logger: silentLogger }
}

async function repair(dir: string, io: StorageIO = nodeIO): Promise<void> {
  const ctx = ctxOf(dir, false, io)
  await executeRepair(ctx, await planRepair(ctx), 1_700_000_000_000)
}

/** After a repair: every written record but the victim's, at its own offset; the end where it was; appends go on. */
async function expectRepaired(dir: string, written: Map<number, unknown>, victim: LaidBatch): Promise<void> {
  const log = await openLog(dir, DAMAGE_OPTIONS)
  try {
    const expected = [...written].filter(([offset]) => offset < victim.baseOffset || offset > victim.lastOffset)
    expect(asWritten(await readAll(log))).toEqual(expected)
    expect(log.endOffset).toBe(written.size)
    // A read from inside the gap starts at the first record after it.
    expect((await log.read(victim.baseOffset + 1, { maxBytes: 1 })).records[0]!.offset).toBe(victim.lastOffset + 1)
    const appended = await log.append(batchOf(999, 1))
    expect(appended.baseOffset).toBe(written.size)
  } finally {
    await log.close()
  }
}

describe('repair: quarantine damaged bytes, keep everything else', () => {
  for (const where of ['the last segment', 'a sealed segment'] as const) {
    it(`damage in ${where}: the dry run changes nothing; the repair moves exactly that batch aside and the partition reopens`, async () => {
      const { dir, written } = await writtenPartition(where === 'the last segment' ? 12 : 24, where === 'the last segment' ? { segmentBytes: 1 << 20, indexIntervalBytes: 128 } : DAMAGE_OPTIONS)
      asAfterCrash(dir)
      const layout = layoutOf(dir)
      const victim = where === 'the last segment' ? layout[5]! : layout.filter((b) => b.segment === 0)[3]!
      damage(dir, victim, 'a bit flip in a record')
      const damagedBytes = fs.readFileSync(path.join(dir, victim.file)).subarray(victim.position, victim.position + victim.sizeBytes)
      await expectCode(openLog(dir, DAMAGE_OPTIONS), 'CORRUPT_BATCH')

      const before = hashTree(dir)
      const plan = await planRepair(ctxOf(dir, true))
      expect(hashTree(dir), 'a dry run changes nothing').toEqual(before)
      expect(plan.segments.map((s) => [path.basename(s.log), s.ranges])).toEqual([
        [
          victim.file,
          [{ position: victim.position, end: victim.position + victim.sizeBytes, firstOffset: victim.baseOffset, endOffset: victim.lastOffset + 1, why: `at byte ${victim.position}: CRC mismatch` }],
        ],
      ])

      await repair(dir)
      const quarantine = `${victim.file}.quarantine-${victim.position}`
      expect(fs.readFileSync(path.join(dir, quarantine)).equals(damagedBytes), 'the quarantine file holds the damaged bytes').toBe(true)
      expect(await readQuarantineRecord(nodeIO, dir)).toEqual([
        {
          segment: victim.file,
          position: victim.position,
          bytes: victim.sizeBytes,
          file: quarantine,
          firstOffset: victim.baseOffset,
          endOffset: victim.lastOffset + 1,
          why: `at byte ${victim.position}: CRC mismatch`,
          quarantinedAt: 1_700_000_000_000,
        },
      ])
      expect(fs.readdirSync(dir).filter((n) => /\.(cleaned|swap|tmp)$/.test(n))).toEqual([])
      await expectRepaired(dir, written, victim)
      // Nothing is left to repair.
      expect((await planRepair(ctxOf(dir, true))).segments).toEqual([])
    })
  }

  it('a broken frame (a wrong batch length): the bytes up to the next valid batch go, nothing more', async () => {
    const { dir, written } = await writtenPartition(12, { segmentBytes: 1 << 20, indexIntervalBytes: 128 })
    asAfterCrash(dir)
    const layout = layoutOf(dir)
    const victim = layout[7]!
    damage(dir, victim, 'a bit flip in the batch length')
    await repair(dir)
    const [range] = await readQuarantineRecord(nodeIO, dir)
    expect(range).toMatchObject({ position: victim.position, bytes: victim.sizeBytes, firstOffset: victim.baseOffset, endOffset: victim.lastOffset + 1 })
    await expectRepaired(dir, written, victim)
  })

  it('bit rot in a cleanly closed partition (nothing scanned at open): repaired the same way', async () => {
    const { dir, written } = await writtenPartition()
    const layout = layoutOf(dir)
    const victim = layout.filter((b) => b.segment === 1)[1]!
    damage(dir, victim, 'a wrong magic byte')
    const log = await openLog(dir, DAMAGE_OPTIONS)
    await expectCode(readAll(log), 'CORRUPT_BATCH')
    await log.close()
    await repair(dir)
    await expectRepaired(dir, written, victim)
  })

  it('a damaged tail of the last segment after a clean shutdown is cut, its bytes kept', async () => {
    const { dir, written } = await writtenPartition(12, { segmentBytes: 1 << 20, indexIntervalBytes: 128 })
    const victim = layoutOf(dir).at(-1)!
    damage(dir, victim, 'a bit flip in a record')
    await repair(dir)
    expect(await readQuarantineRecord(nodeIO, dir)).toMatchObject([{ firstOffset: victim.baseOffset, endOffset: null }])
    const log = await openLog(dir, DAMAGE_OPTIONS)
    expect(log.endOffset).toBe(victim.baseOffset)
    expect(asWritten(await readAll(log))).toEqual([...written].filter(([offset]) => offset < victim.baseOffset))
    await log.close()
  })

  it('a crash before the commit point leaves the damaged original; running the repair again finishes it, recorded once', async () => {
    const { dir, written } = await writtenPartition(12, { segmentBytes: 1 << 20, indexIntervalBytes: 128 })
    asAfterCrash(dir)
    const victim = layoutOf(dir)[4]!
    damage(dir, victim, 'a bit flip in a record')
    const io = faultyIO()
    io.arm({ op: 'rename', path: '.log.swap', errno: 'EIO' })
    await expect(repair(dir, io)).rejects.toThrow(/EIO/)
    expect(fs.readdirSync(dir).filter((n) => /\.(cleaned|swap)$/.test(n))).toEqual([])
    await expectCode(openLog(dir, DAMAGE_OPTIONS), 'CORRUPT_BATCH')
    expect(await readQuarantineRecord(nodeIO, dir)).toHaveLength(1)
    await repair(dir)
    expect(await readQuarantineRecord(nodeIO, dir)).toHaveLength(1)
    await expectRepaired(dir, written, victim)
  })

  it('a crash after the commit point: the next open completes the swap', async () => {
    const { dir, written } = await writtenPartition(12, { segmentBytes: 1 << 20, indexIntervalBytes: 128 })
    asAfterCrash(dir)
    const victim = layoutOf(dir)[4]!
    damage(dir, victim, 'a bit flip in a record')
    const io = faultyIO()
    // Renames to a name holding `<base>.log`: the quarantine file, `.log.swap` (the commit), then over the `.log`.
    io.arm({ op: 'rename', path: victim.file, nth: 3, errno: 'EIO' })
    await expect(repair(dir, io)).rejects.toThrow(/EIO/)
    expect(fs.existsSync(path.join(dir, `${victim.file}.swap`))).toBe(true)
    await expectRepaired(dir, written, victim)
  })
})

describe('QuarantineGaps: readers are told once per gap', () => {
  it('warns when a read crosses or starts inside a recorded gap, once, and never for a cut tail', () => {
    const warnings: string[] = []
    const range = { segment: 's.log', position: 0, bytes: 70, file: 's.log.quarantine-0', why: 'CRC mismatch', quarantinedAt: 0 }
    const gaps = new QuarantineGaps(
      [
        { ...range, firstOffset: 12, endOffset: 15 },
        { ...range, firstOffset: 40, endOffset: null },
      ],
      '/data/events-0',
      { warn: (m) => warnings.push(m) },
    )
    gaps.noteRead(0, 12) // before it
    gaps.noteRead(15, 30) // after it
    gaps.noteRead(40, 50) // a cut tail: those offsets are taken again
    expect(warnings).toEqual([])
    gaps.noteRead(13, 16) // started inside it
    gaps.noteRead(0, 30) // crossed it again: already told
    expect(warnings).toEqual([expect.stringContaining('read past quarantined offsets 12..14, which `spool segments repair` moved to s.log.quarantine-0')])
  })

  it('loads the record of a repaired partition', async () => {
    const { dir } = await writtenPartition(12, { segmentBytes: 1 << 20, indexIntervalBytes: 128 })
    const victim = layoutOf(dir)[3]!
    damage(dir, victim, 'a bit flip in a record')
    await repair(dir)
    const warnings: string[] = []
    const gaps = await QuarantineGaps.load(nodeIO, dir, { warn: (m) => warnings.push(m) })
    gaps.noteRead(0, 100)
    expect(warnings).toEqual([expect.stringContaining(`offsets ${victim.baseOffset}..${victim.lastOffset}`)])
  })
})
