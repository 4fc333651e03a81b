import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { crashRecords } from '../fixtures/crash-records.js'
import { runUntilKilled } from '../helpers/kill-child.js'
import { openLog } from '../helpers/open-log.js'
import { readAll } from '../helpers/read-all.js'
import { plain } from '../helpers/records.js'
import { tempDir } from '../helpers/temp-dir.js'

const WRITER = path.join(import.meta.dirname, '../fixtures/crash-writer.ts')
const ROUNDS = 24

interface Ack {
  baseOffset: number
  round: number
  writer: number
  seq: number
  count: number
}

/** Acknowledgements a writer gets before its killer starts counting, in odd rounds. */
const ACKS_FIRST = 12

/**
 * Runs the writer, SIGKILLs it `runMs` after it opened (even rounds) or after its
 * ACKS_FIRST-th acknowledgement (odd rounds: so that the rounds together store something
 * worth checking however slow the machine), and parses what it printed.
 */
async function runAndKill(dir: string, round: number, runMs: number): Promise<{ acks: Ack[]; openedAt: number }> {
  let acked = 0
  const trigger = round % 2 === 0 ? 'open' : (line: string) => line.startsWith('ack ') && ++acked === ACKS_FIRST
  const lines = await runUntilKilled(WRITER, [dir, String(round)], runMs, trigger)
  let openedAt = -1
  const acks: Ack[] = []
  for (const line of lines) {
    const [kind, ...fields] = line.split(' ')
    if (kind === 'open') openedAt = Number(fields[0])
    if (kind === 'ack') {
      const [baseOffset, r, writer, seq, count] = fields.map(Number) as [number, number, number, number, number]
      acks.push({ baseOffset, round: r, writer, seq, count })
    }
  }
  return { acks, openedAt }
}

describe('crash: SIGKILL of a writer with flush always', () => {
  it(`loses no acknowledged record over ${ROUNDS} kills, keeps offsets contiguous, and appends continue`, async () => {
    const dir = tempDir()
    const expected = new Map<number, unknown>() // offset -> record, for every acknowledged one
    let endAfterLastRound = 0
    let totalAcks = 0
    for (let round = 0; round < ROUNDS; round++) {
      // Kill at a pseudo-random moment, 0–250 ms into writing (or after ACKS_FIRST acknowledgements).
      const runMs = (round * 7753) % 251
      const { acks, openedAt } = await runAndKill(dir, round, runMs)
      expect(openedAt, 'the writer reopened where the previous log ended').toBe(endAfterLastRound)
      totalAcks += acks.length
      for (const ack of acks) {
        crashRecords(ack.round, ack.writer, ack.seq).forEach((record, k) => expected.set(ack.baseOffset + k, plain(record)))
      }

      const log = await openLog(dir)
      const records = await readAll(log)
      const offsets = records.map((r) => r.offset)
      expect(offsets[0] ?? 0).toBe(0)
      expect(offsets.every((offset, i) => offset === i), 'offsets are contiguous').toBe(true)
      expect(log.endOffset).toBe(records.length)
      for (const [offset, record] of expected) {
        expect(offset < records.length, `acknowledged offset ${offset} survived`).toBe(true)
        expect(plain(records[offset]!), `offset ${offset} is byte-identical`).toEqual(record)
      }
      // Appending continues at the next offset.
      const next = await log.append([{ key: null, value: Buffer.from(`after round ${round}`) }])
      expect(next.baseOffset).toBe(records.length)
      expected.set(next.baseOffset, plain({ key: null, value: Buffer.from(`after round ${round}`) }))
      endAfterLastRound = log.endOffset
      await log.close()
    }
    expect(totalAcks, 'the writers were acknowledged often enough to mean something').toBeGreaterThanOrEqual((ROUNDS / 2) * ACKS_FIRST)
  })
})
