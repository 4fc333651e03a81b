import fs from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { isSpoolError } from '../../src/errors.js'
import { OFFSET_CRC } from '../../src/record/batch-format.js'
import { openLog } from '../helpers/open-log.js'
import { readAll } from '../helpers/read-all.js'
import { batchOf } from '../helpers/records.js'
import { tempDir } from '../helpers/temp-dir.js'

describe('a corrupt batch in a sealed segment', () => {
  it('is reported as CORRUPT_BATCH with file, position and offset, and never served', async () => {
    const dir = tempDir()
    const log = await openLog(dir, { segmentBytes: 4096 })
    const positions: Array<{ base: number; position: number }> = []
    let next = 0
    for (let b = 0; b < 30; b++) {
      const first = fs.existsSync(path.join(dir, '00000000000000000000.log')) ? fs.statSync(path.join(dir, '00000000000000000000.log')).size : 0
      const { baseOffset } = await log.append(batchOf(next, 4, 40))
      if (log.segmentCount === 1) positions.push({ base: baseOffset, position: first })
      next += 4
    }
    expect(log.segmentCount).toBeGreaterThan(1)
    await log.close()

    // Flip one byte inside the payload of the 5th batch of the first (sealed) segment.
    const file = path.join(dir, '00000000000000000000.log')
    const victim = positions[4]!
    const bytes = fs.readFileSync(file)
    bytes[victim.position + OFFSET_CRC + 30] = bytes[victim.position + OFFSET_CRC + 30]! ^ 0x01
    fs.writeFileSync(file, bytes)

    const reopened = await openLog(dir, { segmentBytes: 4096 })
    // Records before it stay readable.
    const before = await reopened.read(0, { maxBytes: 1 })
    expect(before.records[0]!.offset).toBe(0)
    let served = 0
    let error: unknown
    try {
      let offset = 0
      while (offset < reopened.endOffset) {
        const { records, nextOffset } = await reopened.read(offset, { maxBytes: 1 })
        served += records.filter((r) => r.offset >= victim.base && r.offset < victim.base + 4).length
        offset = nextOffset
      }
    } catch (caught) {
      error = caught
    }
    expect(served, 'no record of the corrupt batch was served').toBe(0)
    expect(isSpoolError(error, 'CORRUPT_BATCH')).toBe(true)
    const details = (error as { details: Record<string, unknown> }).details
    expect(details).toEqual({ file, position: victim.position, offset: victim.base })
    expect((error as Error).message).toContain(file)
    expect((error as Error).message).toContain(`byte ${victim.position}`)
    await expect(readAll(reopened)).rejects.toThrow(/CRC/)
    await reopened.close()
  })
})
