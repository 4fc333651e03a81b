import type { MemoryPeak } from './memory.js'
import { type Summary, round, summarize } from './stats.js'
import type { PairedSamples } from './timing.js'

export type WorkloadName = 'W1' | 'W2' | 'W3' | 'W4' | 'W5' | 'W6' | 'W7' | 'W8' | 'P1' | 'P2'

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

interface ResultBase {
  /** Stable key, e.g. `W1.append.100B.never`. */
  id: string
  workload: WorkloadName
  title: string
  runs: number
  target: TargetResult | null
  /** The peaks of the process that measured it (lib/fork.ts sets it); null until then. */
  memory: MemoryPeak | null
}

/** Records per second, beside raw fs on the same bytes. */
export interface WorkloadResult extends ResultBase {
  kind: 'throughput'
  valueBytes: number
  records: number
  bytes: number
  spool: SideResult
  raw: SideResult
  /** spool throughput / raw throughput, per paired run (same bytes, so raw s / spool s). */
  ratio: Summary
}

/** What one latency run measured, in microseconds, and the rate it held. */
export interface LatencySample {
  p50: number
  p99: number
  p999: number
  max: number
  /** Records sent per second, as achieved. */
  ratePerSec: number
}

export interface LatencySide {
  label: string
  p50: Summary
  p99: Summary
  p999: Summary
  max: Summary
  ratePerSec: Summary
  samples: LatencySample[]
  warmup: LatencySample
}

/** Send → delivery latency percentiles, in microseconds, beside a raw write-then-read. */
export interface LatencyResult extends ResultBase {
  kind: 'latency'
  valueBytes: number
  /** Records sent in each run. */
  records: number
  ratePerSec: number
  spool: LatencySide
  raw: LatencySide
  /** spool / raw of each percentile, per paired run (> 1: spool is slower). */
  ratio: { p50: Summary; p99: Summary; p999: Summary }
}

/** How long something took (no raw twin). */
export interface DurationResult extends ResultBase {
  kind: 'duration'
  spool: { label: string; seconds: Summary; samplesSeconds: number[]; warmupSeconds: number }
}

export type BenchResult = WorkloadResult | LatencyResult | DurationResult

export interface Target<R = WorkloadResult> {
  text: string
  met: (result: Omit<R, 'target' | 'memory'>) => boolean
}

const roundSeconds = (s: number): number => Number(s.toFixed(6))

function withTarget<R extends ResultBase>(result: Omit<R, 'target' | 'memory'>, target: Target<R> | null): R {
  return { ...result, target: target === null ? null : { text: target.text, met: target.met(result) }, memory: null } as R
}

export function sideResult(label: string, samples: readonly number[], warmup: number, records: number, bytes: number): SideResult {
  return {
    label,
    seconds: summarize(samples),
    recordsPerSec: summarize(samples.map((s) => records / s)),
    mbPerSec: summarize(samples.map((s) => bytes / 1e6 / s)),
    samplesSeconds: samples.map(roundSeconds),
    warmupSeconds: roundSeconds(warmup),
  }
}

/** The spool side and the raw side of paired samples, each summarized by `summary`. */
function bothSides<S, Side>(
  labels: { spool: string; raw: string },
  samples: PairedSamples<S>,
  summary: (label: string, samples: readonly S[], warmup: S) => Side,
): { runs: number; spool: Side; raw: Side } {
  return {
    runs: samples.spool.length,
    spool: summary(labels.spool, samples.spool, samples.warmup.spool),
    raw: summary(labels.raw, samples.raw, samples.warmup.raw),
  }
}

export function workloadResult(
  base: Pick<WorkloadResult, 'id' | 'workload' | 'title' | 'valueBytes' | 'records' | 'bytes'>,
  labels: { spool: string; raw: string },
  samples: PairedSamples,
  target: Target<WorkloadResult> | null,
): WorkloadResult {
  const sides = bothSides(labels, samples, (label, seconds, warmup) => sideResult(label, seconds, warmup, base.records, base.bytes))
  const ratio = summarize(samples.spool.map((s, run) => samples.raw[run]! / s))
  return withTarget<WorkloadResult>({ kind: 'throughput', ...base, ...sides, ratio }, target)
}

const PERCENTILES = ['p50', 'p99', 'p999'] as const

function roundSample(sample: LatencySample): LatencySample {
  return { p50: round(sample.p50), p99: round(sample.p99), p999: round(sample.p999), max: round(sample.max), ratePerSec: round(sample.ratePerSec) }
}

export function latencySide(label: string, samples: readonly LatencySample[], warmup: LatencySample): LatencySide {
  const of = (field: keyof LatencySample): Summary => summarize(samples.map((s) => s[field]))
  return {
    label,
    p50: of('p50'),
    p99: of('p99'),
    p999: of('p999'),
    max: of('max'),
    ratePerSec: of('ratePerSec'),
    samples: samples.map(roundSample),
    warmup: roundSample(warmup),
  }
}

export function latencyResult(
  base: Pick<LatencyResult, 'id' | 'workload' | 'title' | 'valueBytes' | 'records' | 'ratePerSec'>,
  labels: { spool: string; raw: string },
  samples: PairedSamples<LatencySample>,
  target: Target<LatencyResult> | null,
): LatencyResult {
  const ratio = (p: (typeof PERCENTILES)[number]): Summary => summarize(samples.spool.map((s, run) => s[p] / samples.raw[run]![p]))
  const ratios = { p50: ratio('p50'), p99: ratio('p99'), p999: ratio('p999') }
  return withTarget<LatencyResult>({ kind: 'latency', ...base, ...bothSides(labels, samples, latencySide), ratio: ratios }, target)
}

export function durationResult(
  base: Pick<DurationResult, 'id' | 'workload' | 'title'>,
  label: string,
  samples: readonly number[],
  warmup: number,
  target: Target<DurationResult> | null,
): DurationResult {
  const spool = { label, seconds: summarize(samples), samplesSeconds: samples.map(roundSeconds), warmupSeconds: roundSeconds(warmup) }
  return withTarget<DurationResult>({ kind: 'duration', ...base, runs: samples.length, spool }, target)
}
