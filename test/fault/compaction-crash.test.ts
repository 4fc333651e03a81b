import { spawn } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import type { CompactionPhase, PartitionLog } from '../../src/storage/partition-log.js'
import { type Written, compacted, fromStored, latestValues, toInput } from '../helpers/compaction-model.js'
import { openLog } from '../helpers/open-log.js'
import { readAll } from '../helpers/read-all.js'
import { tempDir } from '../helpers/temp-dir.js'
import { randomFraction } from '../../scripts/lib/prng.js'

const CHILD = path.join(import.meta.dirname, '../fixtures/compaction-child.ts')
const ROUNDS = 24
const T0 = 1_700_000_000_000
const DELETE_RETENTION_MS = 30_000
const KEYS = 'abcdefghijkl'
const OPTIONS = { segmentBytes: 600, indexIntervalBytes: 64, flush: 'never' as const }

/** Every phase of a clean after its key map, in order: the even rounds stop the child at each. */
const STOP_PHASES = [
  'cleaned-log-written',
  'cleaned-written',
  'indexes-to-swap',
  'swap-committed',
  'swapped-in-memory',
  'index-installed',
  'timeindex-installed',
  'log-installed',
  'checkpoint-written',
] as const satisfies readonly CompactionPhase[]
// A phase added to the cleaner must be added here (this fails to type-check until it is).
const everyPhaseListed: Exclude<CompactionPhase, 'map-built' | (typeof STOP_PHASES)[number]> extends never ? true : false = true
void everyPhaseListed


/**
 * Appends about 60 records over 4 keys of 12, some keyless, about one in four a tombstone.
 * The window of keys moves by one each round, and the round starts with a tombstone for
 * the key that just left it: that tombstone is old enough to go by the end of the round,
 * while older values of its key sit in earlier segments (a clean in the wrong order would
 * bring them back).
 */
async function appendRound(log: PartitionLog, round: number, written: Written[]): Promise<void> {
  const next = randomFraction(round * 7919 + 1)
  for (let b = 0; b < 30; b++) {
    const records = Array.from({ length: b === 0 ? 1 : 1 + Math.floor(next() * 3) }, (_, k) => {
      const n = written.length + k
      const key = b === 0 ? KEYS[(round + 11) % 12]! : next() < 0.1 ? null : KEYS[(round + Math.floor(next() * 4)) % 12]!
      return {
        key,
        value: b === 0 || (key !== null && next() < 0.25) ? null : `round ${round} record ${n}`,
        headers: next() < 0.5 ? [{ key: 'round', value: String(round) }] : [],
        timestamp: T0 + n * 1000,
      }
    })
    const { baseOffset } = await log.append(records.map(toInput))
    records.forEach((record, k) => written.push({ offset: baseOffset + k, ...record }))
  }
}

/**
 * Runs the child, and SIGKILLs it when it reaches phase `stopAt` (where it waits), or
 * `killAfterMs` after it has mapped the keys (so, at some moment of the cleaning), or when
 * it is done. Resolves with what it printed.
 */
function runChild(dir: string, now: number, stopAt: number, killAfterMs: number | null): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const args = ['--import', 'tsx', CHILD, dir, String(now), String(DELETE_RETENTION_MS), String(stopAt)]
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] })
    const lines: string[] = []
    let buffered = ''
    const kill = (): boolean => child.kill('SIGKILL')
    child.stdout.on('data', (chunk: Buffer) => {
      buffered += chunk.toString()
      const complete = buffered.split('\n')
      buffered = complete.pop()!
      for (const line of complete) {
        lines.push(line)
        if (line.startsWith('phase 0 map-built') && killAfterMs !== null) setTimeout(kill, killAfterMs)
        if (line === 'done' || line.startsWith(`phase ${stopAt} `)) kill()
      }
    })
    child.on('error', reject)
    child.on('exit', (code, signal) => {
      if (signal === 'SIGKILL') resolve(lines)
      else reject(new Error(`the compaction child exited with ${code ?? signal} before it was killed`))
    })
  })
}

/** Runs the same compaction on a copy of `dir`: its phases in order, and how long it cleans. */
async function rehearse(dir: string, now: number): Promise<{ phases: CompactionPhase[]; cleaningMs: number }> {
  const copy = tempDir()
  fs.cpSync(dir, copy, { recursive: true })
  const log = await openLog(copy, OPTIONS)
  const phases: CompactionPhase[] = []
  let mapped = 0
  await log.compact({
    now,
    deleteRetentionMs: DELETE_RETENTION_MS,
    onPhase: (phase) => {
      phases.push(phase)
      if (phase === 'map-built') mapped = performance.now()
    },
  })
  const cleaningMs = performance.now() - mapped
  await log.close()
  return { phases, cleaningMs }
}

/**
 * What must hold at any point of a compaction, finished or not: every record left is the
 * one written at its offset; every record a full compaction keeps is there; each key reads
 * as its latest value, except that a key whose last record is a tombstone old enough to go
 * may read as that tombstone (null) or be gone.
 */
async function checkPartlyCompacted(log: PartitionLog, written: readonly Written[], activeBase: number, now: number, what: string) {
  const records = (await readAll(log, log.startOffset, 2000)).map(fromStored)
  for (const record of records) expect(record, `${what}: offset ${record.offset}`).toEqual(written[record.offset])
  const expected = compacted(written, activeBase, now - DELETE_RETENTION_MS)
  const offsets = new Set(records.map((r) => r.offset))
  for (const offset of expected.keptOffsets) expect(offsets.has(offset), `${what}: offset ${offset} kept`).toBe(true)
  const values = latestValues(records)
  for (const [key, value] of latestValues(written)) {
    if (expected.values.has(key)) expect(values.get(key), `${what}: key ${key}`).toEqual(value)
    else expect([null, undefined], `${what}: key ${key}`).toContain(values.get(key))
  }
  expect(log.startOffset).toBe(0)
  expect(log.endOffset).toBe(written.length)
  return { records, expected }
}

describe('crash: SIGKILL during compaction', () => {
  it(`reopens to a correct log after ${ROUNDS} kills at random phases and moments of the clean`, async () => {
    const dir = tempDir()
    const written: Written[] = []
    // The phases even rounds stopped at. Which phase a round stops at is chosen over a
    // rehearsal of the same clean, which has the same phases: the coverage of every phase
    // is by construction, not by the luck of timers on a machine of some speed.
    const stoppedAt = new Set<CompactionPhase>()
    for (let round = 0; round < ROUNDS; round++) {
      const log = await openLog(dir, OPTIONS)
      await appendRound(log, round, written)
      const activeBase = log.segmentList.at(-1)!.baseOffset
      await log.close()
      const now = T0 + written.length * 1000
      const rehearsal = await rehearse(dir, now)
      const pick = randomFraction(round * 31 + 7)()
      // Even rounds stop at a phase after the map: the first one not stopped at yet that
      // this clean has (at one of its segments, picked at random), else any phase after the
      // map. Odd rounds are killed at a moment of the cleaning, chosen uniformly over the
      // rehearsal's (wherever it lands, between phases or inside one: extra coverage).
      let stopAt = -1
      if (round % 2 === 0) {
        const at = (phase: CompactionPhase): number[] => rehearsal.phases.flatMap((p, i) => (p === phase && i > 0 ? [i] : []))
        const target = STOP_PHASES.find((phase) => !stoppedAt.has(phase) && at(phase).length > 0)
        const candidates = target === undefined ? rehearsal.phases.map((_, i) => i).slice(1) : at(target)
        stopAt = candidates[Math.floor(pick * candidates.length)]!
      }
      const killAfterMs = round % 2 === 0 ? null : Math.floor(pick * rehearsal.cleaningMs)
      const lines = await runChild(dir, now, stopAt, killAfterMs)
      const phases = lines.filter((line) => line.startsWith('phase '))
      const last = phases.at(-1)?.split(' ')[2]
      if (round % 2 === 0) {
        // The child's clean is the rehearsal's: it stopped where it was told to.
        expect(last, `round ${round}: the child stopped at phase ${stopAt} of ${rehearsal.phases.join(', ')}`).toBe(rehearsal.phases[stopAt])
        expect(lines).not.toContain('done')
        stoppedAt.add(last as CompactionPhase)
      }

      const reopened = await openLog(dir, OPTIONS)
      const what = `round ${round} (killed after ${last ?? 'nothing'})`
      await checkPartlyCompacted(reopened, written, activeBase, now, what)
      expect(fs.readdirSync(dir).filter((name) => /\.(cleaned|swap)$/.test(name)), what).toEqual([])
      await reopened.close()
    }
    expect([...stoppedAt].sort(), 'the even rounds stopped the clean at every phase after the map').toEqual([...STOP_PHASES].sort())

    // A compaction run to its end after all that gives exactly the compacted log.
    const log = await openLog(dir, OPTIONS)
    const activeBase = log.segmentList.at(-1)!.baseOffset
    const now = T0 + written.length * 1000
    await log.compact({ now, deleteRetentionMs: DELETE_RETENTION_MS, minDirtyRatio: 0 })
    await checkPartlyCompacted(log, written, activeBase, now, 'final')
    // Once the delete retention has passed since that clean, every tombstone of a sealed segment is gone too.
    await log.compact({ now: now + DELETE_RETENTION_MS + 1, deleteRetentionMs: DELETE_RETENTION_MS })
    const records = (await readAll(log, log.startOffset, 2000)).map(fromStored)
    const expected = compacted(written, activeBase, Infinity)
    expect(records.map((r) => r.offset)).toEqual(expected.keptOffsets)
    expect(latestValues(records)).toEqual(expected.values)
    const { baseOffset } = await log.append([{ key: Buffer.from('a'), value: Buffer.from('last') }])
    expect(baseOffset).toBe(written.length)
    await log.close()
  })
})
