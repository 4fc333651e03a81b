import fs from 'node:fs'
import { describe, expect, it } from 'vitest'
import { readBatchHeader } from '../../src/record/batch-decoder.js'
import { ATTRIBUTES_LOG_APPEND_TIME } from '../../src/record/batch-format.js'
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

describe('timestamps through retention, reopen and compaction', () => {
  it('segments whose records have no timestamp (-1) are not expired by time, and reopen without warnings', async () => {
    const dir = tempDir()
    const warnings: string[] = []
    const options = { clock: () => NOW, segmentBytes: 200, logger: { warn: (m: string) => void warnings.push(m) } }
    let log = await openLog(dir, options)
    for (let i = 0; i < 6; i++) await log.append([{ key: null, value: Buffer.alloc(80, i), timestamp: -1 }])
    const segments = log.segmentCount
    expect(segments).toBeGreaterThan(2)
    expect((await log.applyRetention({ retentionMs: 1, now: NOW + HOUR })).deletedSegments).toBe(0)
    await log.close()
    log = await openLog(dir, options)
    try {
      expect((await readAll(log)).map((r) => r.timestamp)).toEqual([-1, -1, -1, -1, -1, -1])
      expect(log.segmentCount).toBe(segments)
    } finally {
      await log.close()
    }
    expect(warnings).toEqual([])
  })

  it('compaction keeps a batch stamped with its log append time so', async () => {
    const dir = tempDir()
    const log = await openLog(dir, { timestampType: 'logAppend', clock: () => NOW, segmentBytes: 150 })
    try {
      for (let i = 0; i < 6; i++) {
        await log.append([
          { key: Buffer.from('same'), value: Buffer.from(`v${i}`), timestamp: 5 },
          { key: Buffer.from(`other-${i}`), value: Buffer.from('x'), timestamp: 5 },
        ])
      }
      const stats = await log.compact({ now: NOW, deleteRetentionMs: 0, minDirtyRatio: 0 })
      expect(stats.recordsRemoved).toBeGreaterThan(0)
      const records = await readAll(log)
      expect(records.every((r) => r.timestamp === NOW)).toBe(true)
      const rewritten = log.segmentList.slice(0, -1)
      for (const segment of rewritten) {
        const bytes = fs.readFileSync(segment.paths.log)
        for (let at = 0; at < bytes.length; at += readBatchHeader(bytes, at).sizeBytes) {
          expect(readBatchHeader(bytes, at).attributes & ATTRIBUTES_LOG_APPEND_TIME).not.toBe(0)
        }
      }
    } finally {
      await log.close()
    }
  })
})
