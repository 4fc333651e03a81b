import fs from 'node:fs'
import path from 'node:path'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { OFFSET_CRC } from '../../src/record/batch-format.js'
import { decodeRecords, readBatchHeader } from '../../src/record/batch-decoder.js'
import type { StoredRecord } from '../../src/record/types.js'
import type { CompactionPhase } from '../../src/storage/cleaner.js'
import { type StorageIO, nodeIO } from '../../src/storage/io.js'
import type { PartitionLog } from '../../src/storage/partition-log.js'
import { LOCK_FILE } from '../../src/storage/paths.js'
import { type Written, compacted, fromStored, latestValues, toInput } from '../helpers/compaction-model.js'
import { expectCode } from '../helpers/expect-code.js'
import { openLog } from '../helpers/open-log.js'
import { readAll } from '../helpers/read-all.js'
import { tempDir } from '../helpers/temp-dir.js'

const T0 = 1_700_000_000_000

interface Op {
  key: string | null
  tombstone: boolean
  header: boolean
  /** Milliseconds this record's timestamp lags behind its position (timestamps need not rise). */
  lag: number
}

const op: fc.Arbitrary<Op> = fc.record({
  key: fc.oneof({ weight: 1, arbitrary: fc.constant(null) }, { weight: 6, arbitrary: fc.constantFrom('a', 'b', 'c', 'd', 'e') }),
  tombstone: fc.integer({ min: 0, max: 3 }).map((n) => n === 0),
  header: fc.boolean(),
  lag: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 20_000 })),
})

/** Appends the batches of ops; record n (the n-th written) is stamped about T0 + n seconds. */
async function write(log: PartitionLog, batches: readonly Op[][], written: Written[]): Promise<void> {
  for (const batch of batches) {
    const records = batch.map((o, k) => {
      const n = written.length + k
      return {
        key: o.key,
        value: o.tombstone && o.key !== null ? null : `value ${n} of ${o.key ?? 'no key'}`,
        headers: o.header ? [{ key: 'n', value: String(n) }, { key: 'empty', value: null }] : [],
        timestamp: T0 + n * 1000 - o.lag,
      }
    })
    const { baseOffset } = await log.append(records.map(toInput))
    records.forEach((record, k) => written.push({ offset: baseOffset + k, ...record }))
  }
}

/** Reads every record and checks each is exactly the one written at its offset. */
async function readChecked(log: PartitionLog, written: readonly Written[]): Promise<Written[]> {
  const records = (await readAll(log, log.startOffset, 700)).map(fromStored)
  for (const record of records) expect(record, `offset ${record.offset}`).toEqual(written[record.offset])
  return records
}

function activeFile(log: PartitionLog): Buffer {
  return fs.readFileSync(log.segmentList.at(-1)!.paths.log)
}

function asideFiles(dir: string): string[] {
  return fs.readdirSync(dir).filter((name) => name.endsWith('.cleaned') || name.endsWith('.swap'))
}

describe('compaction', () => {
  it('property: keeps each key’s latest value, drops tombstones deleteRetentionMs after the clean that kept them, never changes an offset or the active segment', async () => {
    let runs = 0
    const seen = { cleaned: 0, tombstonesRemoved: 0, youngTombstones: 0, emptied: 0 }
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.array(op, { minLength: 1, maxLength: 4 }), { minLength: 3, maxLength: 45 }),
        fc.integer({ min: 150, max: 900 }),
        fc.double({ min: 0, max: 1.2, noNaN: true }),
        async (batches, segmentBytes, retentionShare) => {
          runs++
          const dir = tempDir()
          const options = { segmentBytes, indexIntervalBytes: 64, flush: 'never' as const }
          const log = await openLog(dir, options)
          const written: Written[] = []
          await write(log, batches, written)
          const end = log.endOffset
          const now = T0 + written.length * 1000
          const deleteRetentionMs = Math.floor(retentionShare * written.length * 1000)
          const activeBase = log.segmentList.at(-1)!.baseOffset
          const activeBefore = activeFile(log)
          const bases = log.segmentList.map((s) => s.baseOffset)

          const stats = await log.compact({ now, deleteRetentionMs })

          // The first clean keeps every tombstone that is its key's latest, whatever its
          // producer's timestamp: its clock starts at this clean.
          const expected = compacted(written, activeBase, -Infinity)
          const records = await readChecked(log, written)
          expect(records.map((r) => r.offset)).toEqual(expected.keptOffsets)
          expect(latestValues(records)).toEqual(expected.values)
          expect(stats.recordsRemoved).toBe(written.length - expected.keptOffsets.length)
          expect(stats.tombstonesRemoved).toBe(0)
          if (stats.segmentsCleaned > 0) seen.cleaned++
          if ([...expected.values.values()].includes(null)) seen.youngTombstones++
          // Nothing more goes until deleteRetentionMs of the cleaner's clock have passed.
          expect((await log.compact({ now: now + deleteRetentionMs, deleteRetentionMs, minDirtyRatio: 0 })).recordsRemoved).toBe(0)
          // Then the tombstones of the sealed segments go.
          const later = await log.compact({ now: now + deleteRetentionMs + 1, deleteRetentionMs })
          const final = compacted(written, activeBase, Infinity)
          expect((await readChecked(log, written)).map((r) => r.offset)).toEqual(final.keptOffsets)
          expect(later.tombstonesRemoved).toBe(expected.keptOffsets.length - final.keptOffsets.length)
          if (later.tombstonesRemoved > 0) seen.tombstonesRemoved++
          if (log.segmentList.some((s) => s.sizeBytes === 0)) seen.emptied++
          expect(activeFile(log).equals(activeBefore), 'the active segment is byte-identical').toBe(true)
          expect(log.segmentList.map((s) => s.baseOffset)).toEqual(bases)
          expect(log.startOffset).toBe(0)
          expect(log.endOffset).toBe(end)
          expect(asideFiles(dir)).toEqual([])
          // A further run finds nothing more to do.
          expect((await log.compact({ now: now + deleteRetentionMs + 1, deleteRetentionMs, minDirtyRatio: 0 })).recordsRemoved).toBe(0)
          // Reading from any offset, gaps included, lands on the next record kept.
          for (let from = 0; from < end; from += 3) {
            const { records: got } = await log.read(from, { maxBytes: 1 })
            const next = final.keptOffsets.find((o) => o >= from)
            expect(got[0]?.offset).toBe(next)
          }
          await log.close()

          const reopened = await openLog(dir, options)
          expect(reopened.endOffset).toBe(end)
          expect((await readChecked(reopened, written)).map((r) => r.offset)).toEqual(final.keptOffsets)
          expect((await reopened.append([{ key: Buffer.from('a'), value: Buffer.from('after') }])).baseOffset).toBe(end)
          await reopened.close()
        },
      ),
      { numRuns: 100 },
    )
    expect(runs).toBe(100)
    // The runs covered what matters (counts are of runs).
    expect(seen.cleaned).toBeGreaterThan(50)
    expect(seen.tombstonesRemoved).toBeGreaterThan(10)
    expect(seen.youngTombstones).toBeGreaterThan(10)
    expect(seen.emptied).toBeGreaterThan(5)
  })

  it('keeps appending and reading while it runs, and a reader on a replaced segment finishes on the old file', async () => {
    const dir = tempDir()
    let holdRead: Promise<void> | null = null
    let readHeld = (): void => undefined
    let holdCleanedWrite: Promise<void> | null = null
    let cleanedWriteHeld = (): void => undefined
    const io: StorageIO = {
      ...nodeIO,
      read: async (fd, buffer, offset, length, position) => {
        if (holdRead !== null) {
          const wait = holdRead
          holdRead = null
          readHeld()
          await wait
        }
        return nodeIO.read(fd, buffer, offset, length, position)
      },
      open: async (file, flags) => {
        if (file.endsWith('.log.cleaned') && holdCleanedWrite !== null) {
          const wait = holdCleanedWrite
          holdCleanedWrite = null
          cleanedWriteHeld()
          await wait
        }
        return nodeIO.open(file, flags)
      },
    }
    const log = await openLog(dir, { segmentBytes: 400, indexIntervalBytes: 64, io })
    const written: Written[] = []
    const same = Array.from({ length: 30 }, () => [{ key: 'k', tombstone: false, header: false, lag: 0 }])
    await write(log, same, written)
    expect(log.segmentCount).toBeGreaterThan(3)
    const first = log.segmentList[0]!
    const sealedAtStart = log.segmentCount - 1
    const activeBaseAtStart = log.segmentList.at(-1)!.baseOffset

    // A reader holds segment 0 in the middle of its read.
    let releaseRead = (): void => undefined
    const readReached = new Promise<void>((resolve) => (readHeld = resolve))
    holdRead = new Promise<void>((resolve) => (releaseRead = resolve))
    const oldRead = log.read(0, { maxBytes: 1 })
    await readReached

    // The cleaner stops before writing its first cleaned segment.
    let releaseClean = (): void => undefined
    const cleanReached = new Promise<void>((resolve) => (cleanedWriteHeld = resolve))
    holdCleanedWrite = new Promise<void>((resolve) => (releaseClean = resolve))
    const phases: CompactionPhase[] = []
    const compaction = log.compact({ now: T0, deleteRetentionMs: 0, onPhase: (phase) => void phases.push(phase) })
    await cleanReached

    // Appends and reads go on meanwhile.
    await write(log, [[{ key: 'k', tombstone: false, header: false, lag: 0 }]], written)
    expect((await log.read(written.length - 1)).records.map((r) => r.offset)).toEqual([written.length - 1])
    releaseClean()

    // The cleaned segment 0 goes into the list, and the cleaner then waits for the reader.
    await expect.poll(() => phases.includes('swapped-in-memory')).toBe(true)
    expect(log.segmentList[0]).not.toBe(first)
    expect(phases).not.toContain('index-installed')
    // Segment 0 is clean (the map was made before the last append, so the sealed
    // segments lose every 'k'); the next one is not yet.
    expect((await log.read(0, { maxBytes: 1 })).records[0]!.offset).toBe(log.segmentList[1]!.baseOffset)
    releaseRead()
    const { records } = await oldRead
    expect(records.map((r) => r.offset)).toEqual([0]) // read from the file as it was
    expect(fromStored(records[0]!)).toEqual(written[0])
    const stats = await compaction
    expect(stats.segmentsCleaned).toBe(sealedAtStart)
    const left = Array.from({ length: written.length - activeBaseAtStart }, (_, k) => activeBaseAtStart + k)
    expect((await readChecked(log, written)).map((r) => r.offset)).toEqual(left)
    await log.close()
  })

  it('keeps batches’ base and last offsets, leaves a segment emptied of all records in place, and reads across it', async () => {
    const dir = tempDir()
    const log = await openLog(dir, { segmentBytes: 300, indexIntervalBytes: 64 })
    const written: Written[] = []
    const batch = (keys: Array<string | null>): Op[] => keys.map((key) => ({ key, tombstone: false, header: false, lag: 0 }))
    await write(log, [batch(['x', 'y', 'z']), batch(['x', null, 'y']), batch(['x', 'y', 'z']), batch(['x', 'y', 'z']), batch(['w'])], written)
    await write(log, [batch(['x', 'y', 'z'])], written)
    await log.close()
    const reopened = await openLog(dir, { segmentBytes: 300, indexIntervalBytes: 64 })
    expect(reopened.segmentCount).toBeGreaterThan(2)
    await reopened.compact({ now: T0, deleteRetentionMs: 0 })
    const records = await readChecked(reopened, written)
    expect(records.map((r) => r.offset)).toEqual([4, 12, 13, 14, 15])
    // Every batch left keeps its base offset and last offset delta.
    for (const segment of reopened.segmentList.slice(0, -1)) {
      const bytes = fs.readFileSync(segment.paths.log)
      for (let at = 0; at < bytes.length; ) {
        const header = readBatchHeader(bytes, at)
        expect(header.baseOffset % 3).toBe(0)
        expect(header.lastOffsetDelta).toBe(header.baseOffset === 12 ? 0 : 2)
        const out: StoredRecord[] = []
        decodeRecords(bytes, at, header, 0, out)
        expect(out.length).toBe(header.recordCount)
        at += header.sizeBytes
      }
    }
    const empty = reopened.segmentList.find((s) => fs.statSync(s.paths.log).size === 0)
    expect(empty, 'a segment left with no record stays').toBeDefined()
    expect((await reopened.read(empty!.baseOffset, { maxBytes: 1 })).records[0]!.offset).toBe(12)
    expect(await reopened.offsetForTimestamp(T0)).toBe(4)
    await reopened.close()
  })

  it('stops at a corrupt batch with CORRUPT_BATCH and changes nothing', async () => {
    const dir = tempDir()
    const log = await openLog(dir, { segmentBytes: 400 })
    const written: Written[] = []
    await write(log, Array.from({ length: 20 }, () => [{ key: 'k', tombstone: false, header: false, lag: 0 }]), written)
    await log.close()
    const second = fs.readdirSync(dir).filter((n) => n.endsWith('.log')).sort()[1]!
    const file = path.join(dir, second)
    const bytes = fs.readFileSync(file)
    bytes[OFFSET_CRC + 30] = bytes[OFFSET_CRC + 30]! ^ 1
    fs.writeFileSync(file, bytes)
    const before = segmentFiles(dir).map((name) => [name, fs.readFileSync(path.join(dir, name)).toString('hex')])
    const reopened = await openLog(dir, { segmentBytes: 400 })
    await expectCode(reopened.compact({ now: T0, deleteRetentionMs: 0 }), 'CORRUPT_BATCH')
    await reopened.close()
    const after = segmentFiles(dir).map((name) => [name, fs.readFileSync(path.join(dir, name)).toString('hex')])
    expect(after.filter(([name]) => name!.endsWith('.log'))).toEqual(before.filter(([name]) => name!.endsWith('.log')))
    expect(asideFiles(dir)).toEqual([])
  })

  it('at every step of a clean, the files as they are reopen to a correct log', async () => {
    const dir = tempDir()
    const options = { segmentBytes: 350, indexIntervalBytes: 64 }
    const log = await openLog(dir, options)
    const written: Written[] = []
    // Tombstones at 4 (superseded) and 9 (the last of 'd', old enough to go).
    const keys = ['a', 'b', 'c', null, 'a', 'b', 'a', 'd', 'c', 'd', 'b', 'e', 'a', null, 'c', 'a', 'b', 'c']
    await write(log, keys.map((key, i) => [{ key, tombstone: i === 4 || i === 9, header: i % 2 === 0, lag: 0 }]), written)
    const activeBase = log.segmentList.at(-1)!.baseOffset
    expect(activeBase).toBeGreaterThan(9)
    const now = T0 + 100_000
    const logFile = (base: number, inDir: string): Buffer => fs.readFileSync(path.join(inDir, `${String(base).padStart(20, '0')}.log`))
    // The first clean keeps tombstone 9 (its clock starts there); the second, once the
    // delete retention (0 ms) has passed on the cleaner's clock, drops it.
    for (const [at, horizon] of [[now, -Infinity], [now + 1, Infinity]] as const) {
      const snapshots: Array<{ phase: CompactionPhase; base: number; dir: string }> = []
      const original = new Map(log.segmentList.map((s) => [s.baseOffset, logFile(s.baseOffset, dir)]))
      await log.compact({
        now: at,
        deleteRetentionMs: 0,
        onPhase: (phase, base) => {
          const copy = tempDir()
          fs.cpSync(dir, copy, { recursive: true })
          fs.rmSync(path.join(copy, LOCK_FILE), { force: true })
          snapshots.push({ phase, base, dir: copy })
        },
      })
      const cleaned = new Map(log.segmentList.map((s) => [s.baseOffset, logFile(s.baseOffset, dir)]))
      const expected = compacted(written, activeBase, horizon)
      expect(snapshots.length).toBeGreaterThan(5)
      expect(snapshots.at(-1)!.phase).toBe('checkpoint-written')
      for (const snapshot of snapshots) {
        const what = `${at - now}: ${snapshot.phase} ${snapshot.base}`
        const warnings: string[] = []
        const reopened = await openLog(snapshot.dir, { ...options, logger: { warn: (message) => void warnings.push(message) } })
        // Recovery undid a clean that had not committed, and completed one that had.
        if (snapshot.base >= 0) {
          const committed = !['cleaned-log-written', 'cleaned-written', 'indexes-to-swap'].includes(snapshot.phase)
          const expectedFile = (committed ? cleaned : original).get(snapshot.base)!
          expect(logFile(snapshot.base, snapshot.dir).equals(expectedFile), what).toBe(true)
        }
        const records = await readChecked(reopened, written)
        // Each segment's index files match its log (none had to be rebuilt).
        expect(warnings.filter((w) => /rebuil/.test(w)), what).toEqual([])
        // Partly compacted: every kept record is there, and no key shows an older value.
        for (const offset of expected.keptOffsets) expect(records.some((r) => r.offset === offset), `${what}: ${offset}`).toBe(true)
        const values = latestValues(records)
        for (const [key, value] of latestValues(written)) {
          if (expected.values.has(key)) expect(values.get(key), `${what}: ${key}`).toEqual(value)
          else expect([undefined, null], `${what}: ${key}`).toContain(values.get(key))
        }
        expect(asideFiles(snapshot.dir), what).toEqual([])
        // The rest of the clean runs to the same end.
        await reopened.compact({ now: at, deleteRetentionMs: 0 })
        expect((await readChecked(reopened, written)).map((r) => r.offset), what).toEqual(expected.keptOffsets)
        await reopened.close()
      }
    }
    await log.close()
  })

  it('rejects bad arguments and read-only logs', async () => {
    const dir = tempDir()
    const log = await openLog(dir)
    await expectCode(log.compact({ now: 1.5, deleteRetentionMs: 0 }), 'INVALID_ARGUMENT')
    await expectCode(log.compact({ now: T0, deleteRetentionMs: -1 }), 'INVALID_ARGUMENT')
    expect(await log.compact({ now: T0, deleteRetentionMs: 0 })).toMatchObject({ segmentsCleaned: 0, recordsRemoved: 0 })
    await log.close()
    const readOnly = await openLog(dir, { readOnly: true })
    await expectCode(readOnly.compact({ now: T0, deleteRetentionMs: 0 }), 'INVALID_ARGUMENT')
    await readOnly.close()
  })
})

/** The files of a partition directory (the writer's lock is a directory beside them). */
function segmentFiles(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).filter((entry) => entry.isFile()).map((entry) => entry.name).sort()
}
