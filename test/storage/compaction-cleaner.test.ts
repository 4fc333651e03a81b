import fs from 'node:fs'
import path from 'node:path'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import type { PartitionLog } from '../../src/storage/partition-log.js'
import { CLEANER_CHECKPOINT_FILE } from '../../src/storage/paths.js'
import { type Written, compacted, fromStored, latestValues, toInput } from '../helpers/compaction-model.js'
import { countingIO } from '../helpers/counting-io.js'
import { openLog } from '../helpers/open-log.js'
import { readAll } from '../helpers/read-all.js'
import { tempDir } from '../helpers/temp-dir.js'

const T0 = 1_700_000_000_000
const HOUR_MS = 60 * 60 * 1000
const OPTIONS = { segmentBytes: 300, indexIntervalBytes: 64, flush: 'never' as const }

/** Appends one record a batch, `[key, value]` (a null value: a tombstone), stamped `timestamp(n)`. */
async function appendEach(
  log: PartitionLog,
  records: ReadonlyArray<readonly [string | null, string | null]>,
  written: Written[],
  timestamp = (n: number): number => T0 + n,
): Promise<void> {
  for (const [key, value] of records) {
    const record = { key, value, headers: [], timestamp: timestamp(written.length) }
    const { baseOffset } = await log.append([toInput(record)])
    written.push({ offset: baseOffset, ...record })
  }
}

/** Every record left, each checked to be the one written at its offset. */
async function readChecked(log: PartitionLog, written: readonly Written[]): Promise<Written[]> {
  const records = (await readAll(log, log.startOffset)).map(fromStored)
  for (const record of records) expect(record, `offset ${record.offset}`).toEqual(written[record.offset])
  return records
}

const keyed = (count: number, keys: number): Array<[string, string]> => Array.from({ length: count }, (_, n) => [`k${n % keys}`, `v${n}`])

describe('compaction cleans only what is dirty', () => {
  it('reads no log bytes when nothing was appended since the last clean, or too little', async () => {
    const dir = tempDir()
    const io = countingIO()
    const log = await openLog(dir, { ...OPTIONS, io })
    const written: Written[] = []
    await appendEach(log, keyed(120, 60), written)
    const logReads = (): number => io.calls.filter((call) => call.op === 'read' && call.path.endsWith('.log')).length

    const first = await log.compact({ now: T0, deleteRetentionMs: 0 })
    expect(first.segmentsCleaned).toBeGreaterThan(0)

    // Nothing new: nothing is read, whatever the ratio.
    io.reset()
    const second = await log.compact({ now: T0, deleteRetentionMs: 0, minDirtyRatio: 0 })
    expect(logReads()).toBe(0)
    expect(second).toMatchObject({ passes: 0, segmentsCleaned: 0 })
    expect(first.passes).toBe(1)
    expect(fs.existsSync(path.join(dir, CLEANER_CHECKPOINT_FILE))).toBe(true)

    // A new sealed segment, well below half of the sealed log: the default ratio waits.
    const sealed = log.segmentCount
    await appendEach(log, keyed(5, 5), written)
    expect(log.segmentCount).toBeGreaterThan(sealed)
    io.reset()
    expect(await log.compact({ now: T0, deleteRetentionMs: 0 })).toMatchObject({ passes: 0, segmentsCleaned: 0 })
    expect(logReads()).toBe(0)

    // Asked to clean anything dirty, it does, and the result is the whole log compacted.
    const activeBase = log.segmentList.at(-1)!.baseOffset
    expect((await log.compact({ now: T0, deleteRetentionMs: 0, minDirtyRatio: 0 })).passes).toBe(1)
    expect(logReads()).toBeGreaterThan(0)
    const records = await readChecked(log, written)
    expect(records.map((r) => r.offset)).toEqual(compacted(written, activeBase, -Infinity).keptOffsets)
    await log.close()

    // The checkpoint outlives the process: a reopened log has nothing dirty either.
    const reopenedIO = countingIO()
    const reopened = await openLog(dir, { ...OPTIONS, io: reopenedIO })
    reopenedIO.reset()
    expect((await reopened.compact({ now: T0, deleteRetentionMs: 0, minDirtyRatio: 0 })).passes).toBe(0)
    expect(reopenedIO.calls.filter((call) => call.op === 'read' && call.path.endsWith('.log'))).toEqual([])
    await reopened.close()
  })
})

describe('compaction with a bounded key map', () => {
  /** Room for 16 keys: 18 slots of 24 bytes at a 0.9 load factor. */
  const KEY_MAP_BYTES = 18 * 24

  it('property: more distinct keys than the map holds still compact correctly, in several passes', async () => {
    let severalPasses = 0
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(fc.option(fc.integer({ min: 0, max: 59 }), { freq: 8 }), fc.integer({ min: 0, max: 5 })), { minLength: 60, maxLength: 160 }),
        async (ops) => {
          const dir = tempDir()
          const log = await openLog(dir, OPTIONS)
          const written: Written[] = []
          await appendEach(
            log,
            ops.map(([key, kind], n) => [key === null ? null : `key-${key}`, kind === 0 && key !== null ? null : `value ${n}`] as const),
            written,
          )
          const activeBase = log.segmentList.at(-1)!.baseOffset
          const stats = await log.compact({ now: T0, deleteRetentionMs: 0, keyMapBytes: KEY_MAP_BYTES })
          const expected = compacted(written, activeBase, -Infinity)
          const records = await readChecked(log, written)
          // Each key's latest value is there, and nothing a full map would keep is gone.
          expect(latestValues(records)).toEqual(expected.values)
          const kept = new Set(records.map((r) => r.offset))
          for (const offset of expected.keptOffsets) expect(kept.has(offset), `offset ${offset}`).toBe(true)
          // The only extra records are those replaced from the active segment, when the
          // last pass's map filled before it reached them.
          const latest = new Map(written.filter((w) => w.key !== null).map((w) => [w.key, w.offset]))
          const extra = records.filter((r) => !expected.keptOffsets.includes(r.offset))
          for (const record of extra) expect(latest.get(record.key)!, `offset ${record.offset}`).toBeGreaterThanOrEqual(activeBase)
          const sealedKeys = new Set(written.filter((w) => w.offset < activeBase && w.key !== null).map((w) => w.key))
          if (sealedKeys.size > 16) expect(stats.passes).toBeGreaterThan(1)
          if (stats.passes > 2) severalPasses++
          expect(log.endOffset).toBe(written.length)
          await log.close()
        },
      ),
      { numRuns: 25, endOnFailure: true },
    )
    expect(severalPasses).toBeGreaterThan(10)
  })
})

describe('tombstone horizon', () => {
  it('keeps a tombstone deleteRetentionMs of cleaner clock after the clean that first kept it, whatever its producer timestamp', async () => {
    const dir = tempDir()
    const log = await openLog(dir, OPTIONS)
    const written: Written[] = []
    const stamps = new Map([[1, 0], [3, T0 + 100 * 365 * 24 * HOUR_MS]]) // 1970, and a century ahead
    await appendEach(log, [['past', 'v'], ['past', null], ['future', 'v'], ['future', null], ...keyed(20, 4)], written, (n) => stamps.get(n) ?? T0 + n)
    await log.close()
    const tombstones = (records: Written[]): number[] => records.filter((r) => r.value === null).map((r) => r.offset)

    let reopened = await openLog(dir, OPTIONS)
    expect((await reopened.compact({ now: T0, deleteRetentionMs: HOUR_MS })).segmentsCleaned).toBeGreaterThan(0)
    expect(tombstones(await readChecked(reopened, written))).toEqual([1, 3])
    await reopened.close()

    // The clock of the clean that kept them is on disk: a reopened log goes on from it.
    reopened = await openLog(dir, OPTIONS)
    await reopened.compact({ now: T0 + HOUR_MS, deleteRetentionMs: HOUR_MS })
    expect(tombstones(await readChecked(reopened, written))).toEqual([1, 3])
    // Past the retention, they go, though nothing else is dirty.
    const stats = await reopened.compact({ now: T0 + HOUR_MS + 1, deleteRetentionMs: HOUR_MS })
    expect(stats.tombstonesRemoved).toBe(2)
    const records = await readChecked(reopened, written)
    expect(tombstones(records)).toEqual([])
    expect(records.some((r) => r.key === 'past' || r.key === 'future')).toBe(false)
    await reopened.close()
  })
})
