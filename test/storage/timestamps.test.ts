import { describe, expect, it } from 'vitest'
import { expectCode } from '../helpers/expect-code.js'
import { openLog } from '../helpers/open-log.js'
import { readAll } from '../helpers/read-all.js'
import { tempDir } from '../helpers/temp-dir.js'

const NOW = 1_800_000_000_000
const HOUR = 60 * 60 * 1000

describe('timestamps', () => {
  it("'logAppend' gives every record the time the log appended its batch, and indexes that time", async () => {
    let now = NOW
    const log = await openLog(tempDir(), { timestampType: 'logAppend', clock: () => now })
    try {
      await log.append([{ key: null, value: null, timestamp: 5 }, { key: null, value: null }])
      now += 1000
      await log.append([{ key: null, value: null, timestamp: NOW + 10 * HOUR }])
      expect((await readAll(log)).map((r) => r.timestamp)).toEqual([NOW, NOW, NOW + 1000])
      expect(await log.offsetForTimestamp(NOW + 1)).toBe(2)
    } finally {
      await log.close()
    }
  })

  it("'create' refuses records stamped beyond the topic's bounds, and accepts -1 (no timestamp)", async () => {
    const log = await openLog(tempDir(), { clock: () => NOW, timestampBeforeMaxMs: 24 * HOUR, timestampAfterMaxMs: HOUR })
    try {
      const future = await expectCode(log.append([{ key: null, value: null, timestamp: NOW + HOUR + 1 }]), 'INVALID_TIMESTAMP')
      expect(future.message).toMatch(/timestampAfterMaxMs/)
      const past = await expectCode(log.append([{ key: null, value: null, timestamp: NOW - 25 * HOUR }]), 'INVALID_TIMESTAMP')
      expect(past.message).toMatch(/timestampBeforeMaxMs/)
      await log.append([
        { key: null, value: null, timestamp: -1 },
        { key: null, value: null, timestamp: NOW + HOUR },
        { key: null, value: null, timestamp: NOW - 24 * HOUR },
      ])
      expect((await readAll(log)).map((r) => r.timestamp)).toEqual([-1, NOW + HOUR, NOW - 24 * HOUR])
    } finally {
      await log.close()
    }
  })
})
