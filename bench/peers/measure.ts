/** Repeated runs of one peer workload, summarized the way spool's own figures are. */
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

/**
 * How many of the dataset's batches fit a time budget, at a rate the peer is expected to
 * reach (records/s, its slowest config): the runs (plus warm-up) of every config share it.
 */
export function batchesWithin(totalBatches: number, batchRecords: number, expectedPerSec: number, seconds: number, runsOfAllConfigs: number): number {
  const records = (expectedPerSec * seconds) / runsOfAllConfigs
  return Math.max(1, Math.min(totalBatches, Math.floor(records / batchRecords)))
}
