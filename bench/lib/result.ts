import { type Summary, summarize } from './stats.js'
import type { PairedSamples } from './timing.js'

/** One side (spool, or raw fs on the same bytes) of a workload. */
export interface SideResult {
  label: string
  seconds: Summary
  recordsPerSec: Summary
  /** Megabytes (10^6 bytes) of log per second. */
  mbPerSec: Summary
  samplesSeconds: number[]
  /** The untimed warm-up run, for the record: on a VM it shows the cost of first-touch pages. */
  warmupSeconds: number
}

export interface TargetResult {
  text: string
  met: boolean
}

export interface WorkloadResult {
  /** Stable key, e.g. `W1.append.100B.never`. */
  id: string
  workload: 'W1' | 'W2' | 'P1' | 'P2'
  title: string
  valueBytes: number
  records: number
  bytes: number
  runs: number
  spool: SideResult
  raw: SideResult
  /** spool throughput / raw throughput, per paired run (same bytes, so raw s / spool s). */
  ratio: Summary
  target: TargetResult | null
}

export interface Target {
  text: string
  met: (result: Omit<WorkloadResult, 'target'>) => boolean
}

const roundSeconds = (s: number): number => Number(s.toFixed(6))

function side(label: string, samples: readonly number[], warmup: number, records: number, bytes: number): SideResult {
  return {
    label,
    seconds: summarize(samples),
    recordsPerSec: summarize(samples.map((s) => records / s)),
    mbPerSec: summarize(samples.map((s) => bytes / 1e6 / s)),
    samplesSeconds: samples.map(roundSeconds),
    warmupSeconds: roundSeconds(warmup),
  }
}

export function workloadResult(
  base: Pick<WorkloadResult, 'id' | 'workload' | 'title' | 'valueBytes' | 'records' | 'bytes'>,
  labels: { spool: string; raw: string },
  samples: PairedSamples,
  target: Target | null,
): WorkloadResult {
  const result = {
    ...base,
    runs: samples.spool.length,
    spool: side(labels.spool, samples.spool, samples.warmup.spool, base.records, base.bytes),
    raw: side(labels.raw, samples.raw, samples.warmup.raw, base.records, base.bytes),
    ratio: summarize(samples.spool.map((s, run) => samples.raw[run]! / s)),
  }
  return { ...result, target: target === null ? null : { text: target.text, met: target.met(result) } }
}
