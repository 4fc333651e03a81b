import { describe, expect, it } from 'vitest'
import { runFuzz } from '../helpers/kafka-fuzz/run.js'
import { servedVersions } from '../helpers/kafka-fuzz/requests.js'

/**
 * The short run of the Kafka listener fuzz (issue 16: "a malformed frame, an unknown API or
 * version gets Kafka's error answer or a closed connection with one log line — never a
 * crash, never a change to stored data"). Valid requests for every API and served
 * version, some mutated, pipelined and cut across TCP writes, against an in-process
 * listener; the invariants are checked in test/helpers/kafka-fuzz/run.ts. The long run is
 * `npm run fuzz:kafka`. A failure names its seed: `npm run fuzz:kafka -- --seed S --seeds 1`
 * replays it, and SPOOL_FUZZ_SEED=S runs that seed here.
 */

const SEEDS = process.env.SPOOL_FUZZ_SEED === undefined ? [1, 2, 3] : [Number(process.env.SPOOL_FUZZ_SEED)]
/** Connections per seed: about 2 s each on 2 shared cores; every served version is sent 30 times or more. */
const CONNECTIONS = 300

describe('the Kafka listener under mutated frames (short fuzz)', () => {
  for (const seed of SEEDS) {
    it(`seed ${seed}: answers or closes, stores only what it acknowledged, stays usable and bounded`, async () => {
      const report = await runFuzz({ seed, connections: CONNECTIONS })
      expect(report.failures, `seed ${seed}; replay with: npm run fuzz:kafka -- --seed ${seed} --seeds 1`).toEqual([])
      // The run did what it is for: every served version was sent, some batches landed, some connections were refused.
      const missing = servedVersions().filter(({ api, version }) => (report.stats.byApi[`${api.name} v${version}`] ?? 0) === 0)
      expect(missing.map(({ api, version }) => `${api.name} v${version}`)).toEqual([])
      expect(report.stats.acknowledged).toBeGreaterThan(0)
      expect(report.stats.closedByServer).toBeGreaterThan(0)
    })
  }
})
