import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { asWritten, damage, layoutOf, writtenPartition } from '../fault/damage.js'
import { expectCode } from '../helpers/expect-code.js'
import { openLog } from '../helpers/open-log.js'

/**
 * Issue 13, defect 7 (read side): a read that met a corrupt batch threw away the records
 * it had gathered before it, so one bad batch hid every healthy record in front of it.
 * Now such a read returns them, ending before the bad batch, and the next read (starting
 * at that batch) fails with CORRUPT_BATCH naming file, position and offset.
 */

/** Damages that leave the header readable, so the error names the batch's own offset. */
const CRC_DAMAGES = ['a bit flip in a record', 'a bit flip in the CRC'] as const

describe('a read that meets a corrupt batch', () => {
  for (const how of CRC_DAMAGES) {
    for (const where of ['mid-segment', 'first batch of a segment'] as const) {
      it(`returns the records before it, then fails on the next read (${how}, ${where})`, async () => {
        const { dir, written } = await writtenPartition()
        const layout = layoutOf(dir)
        const second = layout.filter((b) => b.segment === 1)
        const victim = where === 'mid-segment' ? second[1]! : second[0]!
        expect(victim.segment, 'a sealed segment: a clean open does not scan it').toBeLessThan(layout.at(-1)!.segment)
        damage(dir, victim, how)
        for (const readOnly of [false, true]) {
          const log = await openLog(dir, { readOnly })
          try {
            const { records, nextOffset } = await log.read(0, { maxBytes: 1 << 20 })
            expect(nextOffset).toBe(victim.baseOffset)
            const healthy = [...written].filter(([offset]) => offset < victim.baseOffset)
            expect(asWritten(records)).toEqual(healthy)
            const error = await expectCode(log.read(nextOffset), 'CORRUPT_BATCH')
            expect(error.details).toEqual({ file: path.join(dir, victim.file), position: victim.position, offset: victim.baseOffset })
          } finally {
            await log.close()
          }
        }
      })
    }
  }

  it('that is the first batch of the read fails at once', async () => {
    const { dir } = await writtenPartition()
    const victim = layoutOf(dir).filter((b) => b.segment === 1)[1]!
    damage(dir, victim, 'a bit flip in a record')
    const log = await openLog(dir)
    try {
      await expectCode(log.read(victim.baseOffset + 1), 'CORRUPT_BATCH')
    } finally {
      await log.close()
    }
  })
})
