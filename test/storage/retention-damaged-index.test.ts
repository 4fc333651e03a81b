import fs from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { openTestSpool } from '../helpers/open-spool.js'
import { openLog } from '../helpers/open-log.js'
import { readAll } from '../helpers/read-all.js'
import { recordFor } from '../helpers/records.js'
import { tempDir } from '../helpers/temp-dir.js'

/**
 * Issue 13, defect 12: retention trusted the unchecked last entry of a `.timeindex`.
 * Zeroing the time indexes of sealed segments of fresh data made it delete them. An index
 * is rebuildable metadata and never alone authorizes a deletion: the log decides.
 */

const MINUTE_MS = 60_000
const NOW = 1_700_000_000_000
const OPTIONS = { segmentBytes: 600, indexIntervalBytes: 128, flush: 'never' as const }
const RECORDS = 60

function sealedTimeIndexes(dir: string): string[] {
  const names = fs.readdirSync(dir).filter((name) => /^\d{20}\.timeindex$/.test(name)).sort()
  return names.slice(0, -1).map((name) => path.join(dir, name)) // all but the active segment's
}

/**
 * Zeroes the sealed segments' time indexes: entries of timestamp 0 at relative offset 0.
 * Several such entries are out of order, so loading the segment rebuilds them; the
 * first segment's is cut to one zeroed entry, which decodes as a valid index.
 */
function zeroTimeIndexes(dir: string): void {
  sealedTimeIndexes(dir).forEach((file, i) => fs.writeFileSync(file, Buffer.alloc(i === 0 ? 12 : fs.statSync(file).size)))
}

/** A closed partition of one-record batches stamped a minute before NOW, with its sealed time indexes zeroed. */
async function freshPartitionWithZeroedTimeIndexes(dir: string): Promise<void> {
  const log = await openLog(dir, OPTIONS)
  for (let i = 0; i < RECORDS; i++) await log.append([{ ...recordFor(i), timestamp: NOW - MINUTE_MS + i }])
  expect(log.segmentCount).toBeGreaterThan(4)
  await log.close()
  zeroTimeIndexes(dir)
}

describe('retention with damaged time indexes', () => {
  it('applyRetention deletes nothing the log says is fresh, and repairs the indexes', async () => {
    const dir = tempDir()
    await freshPartitionWithZeroedTimeIndexes(dir)
    const log = await openLog(dir, OPTIONS)
    try {
      const segments = log.segmentCount
      const result = await log.applyRetention({ retentionMs: 10 * MINUTE_MS, now: NOW })
      expect(result.deletedSegments).toBe(0)
      expect(log.segmentCount).toBe(segments)
      expect((await readAll(log)).length).toBe(RECORDS)
      expect(fs.readFileSync(sealedTimeIndexes(dir)[0]!).equals(Buffer.alloc(12)), 'the one-entry index was rebuilt from the log').toBe(false)
      expect((await log.applyRetention({ retentionMs: 10 * MINUTE_MS, now: NOW + 11 * MINUTE_MS })).deletedSegments).toBe(segments - 1)
    } finally {
      await log.close()
    }
  })

  it('runCleanup deletes nothing of a topic written a minute ago', async () => {
    const dataDir = tempDir()
    const spool = await openTestSpool(dataDir, { cleanerIntervalMs: 0 })
    await spool.createTopic('fresh', { segmentBytes: 600, indexIntervalBytes: 128, retentionMs: 10 * MINUTE_MS })
    const producer = spool.producer()
    for (let i = 0; i < RECORDS; i++) await producer.send({ topic: 'fresh', value: `v${i}`, timestamp: Date.now() - MINUTE_MS })
    await spool.close()
    zeroTimeIndexes(path.join(dataDir, 'fresh-0'))

    const reopened = await openTestSpool(dataDir, { cleanerIntervalMs: 0 })
    try {
      await reopened.runCleanup()
      const offsets: number[] = []
      for await (const record of reopened.read('fresh', { partition: 0 })) offsets.push(record.offset)
      expect(offsets).toEqual(Array.from({ length: RECORDS }, (_, i) => i))
    } finally {
      await reopened.close()
    }
  })
})
