/** Repeated runs of one peer workload, summarized the way spool's own figures are. */
import type { Dataset } from '../lib/dataset.js'
import type { LatencySample } from '../lib/result.js'
import { round, summarize } from '../lib/stats.js'
import { type Trial, repeatedTrials } from '../lib/timing.js'
import type { PeerLatency, PeerThroughput } from './peer.js'

type ThroughputBase = Omit<PeerThroughput, 'kind' | 'id' | 'runs' | 'recordsPerSec' | 'samplesSeconds'>

/**
 * One untimed warm-up and `runs` measured runs of `run`, which does its own untimed setup
 * and teardown (a fresh store each time) and returns the seconds of its timed section.
 */
export async function measureThroughput(
  base: ThroughputBase,
  runs: number,
  run: (trial: Trial) => Promise<number>,
): Promise<PeerThroughput> {
  const id = peerId(base)
  const { samples } = await repeatedTrials({
    runs,
    label: id,
    run,
    describe: (s) => `${s.toFixed(3)} s, ${Math.round(base.records / s).toLocaleString('en-US')} records/s`,
  })
  return {
    kind: 'peer-throughput',
    id,
    ...base,
    runs,
    recordsPerSec: summarize(samples.map((s) => base.records / s)),
    samplesSeconds: samples.map((s) => Number(s.toFixed(6))),
  }
}

type LatencyBase = Omit<PeerLatency, 'kind' | 'id' | 'runs' | 'p50' | 'p99' | 'p999' | 'samples'>

/** Like measureThroughput, for W3: `run` returns one run's latency percentiles. */
export async function measureLatency(base: LatencyBase, runs: number, run: (trial: Trial) => Promise<LatencySample>): Promise<PeerLatency> {
  const id = peerId(base)
  const micros = (n: number): string => `${Math.round(n)} µs`
  const { samples } = await repeatedTrials({
    runs,
    label: id,
    run,
    describe: (s) => `p50 ${micros(s.p50)}, p99 ${micros(s.p99)}, p999 ${micros(s.p999)}`,
  })
  const of = (p: 'p50' | 'p99' | 'p999') => summarize(samples.map((s) => s[p]))
  const rounded = samples.map((s) => ({ p50: round(s.p50), p99: round(s.p99), p999: round(s.p999), max: round(s.max), ratePerSec: round(s.ratePerSec) }))
  return { kind: 'peer-latency', id, ...base, runs, p50: of('p50'), p99: of('p99'), p999: of('p999'), samples: rounded }
}

/** e.g. `peer.sqlite.W1.100B.synchronous-FULL`. */
function peerId(base: { peer: string; workload: string; valueBytes: number; config: string }): string {
  const config = base.config.replace(/[^A-Za-z0-9]+/g, '-').replace(/^-|-$/g, '')
  return `peer.${base.peer}.${base.workload}.${base.valueBytes}B.${config}`
}

/** One kind of pass over the records (a config's W1 runs, W2's runs, a load): how many, at what expected rate. */
export interface Pass {
  passes: number
  /** Records/s. */
  rate: number
}

/**
 * How many of the dataset's batches fit `seconds`: every pass writes or reads the same
 * records, so a record costs the sum of 1/rate over all passes. At least one batch.
 */
export function batchesFitting(data: Dataset, passes: readonly Pass[], seconds: number): number {
  const secondsPerRecord = passes.reduce((sum, p) => sum + p.passes / p.rate, 0)
  const records = seconds / secondsPerRecord
  return Math.max(1, Math.min(data.batches.length, Math.floor(records / data.batchRecords)))
}

/** W2: `replay` reads every record back; the count must be the `records` W1 wrote. */
export function measureReplay(
  base: Pick<PeerThroughput, 'peer' | 'valueBytes' | 'records'>,
  config: string,
  runs: number,
  replay: () => Promise<{ seconds: number; records: number }>,
): Promise<PeerThroughput> {
  return measureThroughput({ ...base, workload: 'W2', config, durable: false }, runs, async () => {
    const { seconds, records } = await replay()
    if (records !== base.records) throw new Error(`${base.peer} read back ${records} records, expected ${base.records}`)
    return seconds
  })
}

/**
 * A store's expected rate (records/s) at a value size, from its rates at 100 B and at
 * 1 KiB: the 100 B figure up to 100 B, else the 1 KiB figure, scaled down by size above
 * 1 KiB — an estimate that errs on the slow side, so the budget is not overrun.
 */
export function expectedRate(at100B: number, at1KiB: number): (valueBytes: number) => number {
  return (valueBytes) => (valueBytes <= 100 ? at100B : (at1KiB * 1024) / Math.max(1024, valueBytes))
}
