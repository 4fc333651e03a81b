import { describe, expect, it } from 'vitest'
import { Idempotence } from '../../src/storage/idempotence.js'
import { APPEND } from '../../src/storage/producer-sequence.js'
import { formatFailure, summarizeFailures } from './report.js'
import { type SeedResult, type WorkloadOptions, runSeed } from './workload.js'

/**
 * The power-cut simulation (workload.ts) in `npm test`: a few hundred seeds, each a spool
 * on the simulated disk cut off at random points and reopened. `npm run sim -- --seeds N`
 * runs more; `npm run sim -- --seed N` replays one with its trace. The last two tests break
 * the engine on purpose (no fdatasync; no duplicate detection) to show the checks catch it.
 */
const SEEDS = 300
const CHUNK = 50

async function runSeeds(from: number, count: number, options: WorkloadOptions = {}): Promise<SeedResult[]> {
  const results: SeedResult[] = []
  for (let seed = from; seed < from + count; seed++) results.push(await runSeed(seed, options))
  return results
}

function report(failed: readonly SeedResult[]): string {
  if (failed.length === 0) return 'no failure'
  return [`${failed.length} seed(s) failed:`, ...summarizeFailures(failed), '', formatFailure(failed[0]!)].join('\n')
}

describe('power cuts on the simulated disk', () => {
  for (let from = 1; from <= SEEDS; from += CHUNK) {
    const to = Math.min(SEEDS, from + CHUNK - 1)
    it(`seeds ${from}..${to}: acknowledged records and commits survive, and the directory reopens by itself`, async () => {
      const failed = (await runSeeds(from, to - from + 1)).filter((result) => result.failures.length > 0)
      expect(failed.length, report(failed)).toBe(0)
    })
  }

  it('replays a seed exactly, trace and all', async () => {
    const [first] = await runSeeds(4242, 1)
    const [again] = await runSeeds(4242, 1)
    expect(again!.trace).toEqual(first!.trace)
    expect(first!.cuts).toBeGreaterThan(0)
  })

  it('catches a spool that acknowledges without fdatasync', async () => {
    const results = await runSeeds(1, 40, { prepareDataDir: true, wrapIO: (io) => ({ ...io, fdatasync: async () => undefined }) })
    const kinds = new Set(results.flatMap((result) => result.failures.map((f) => f.kind)))
    expect([...kinds]).toContain('acked-record-lost')
  })

  it('catches a spool that stores a retried idempotent batch again', async () => {
    // Duplicate detection off: every batch that passes the sequence checks is written, a retry of a stored one too.
    const check = Idempotence.prototype.check
    Idempotence.prototype.check = function (this: Idempotence, ...args: Parameters<Idempotence['check']>) {
      const verdict = check.apply(this, args)
      return verdict.kind === 'duplicate' ? APPEND : verdict
    }
    try {
      const results = await runSeeds(1, 30)
      const kinds = new Set(results.flatMap((result) => result.failures.map((f) => f.kind)))
      // (b) at the retry's answer, and (a) in the log at the next reopen.
      expect([...kinds]).toContain('wrong-offsets')
      expect([...kinds]).toContain('duplicate-batch')
    } finally {
      Idempotence.prototype.check = check
    }
  })
})
