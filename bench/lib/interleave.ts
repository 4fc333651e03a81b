import { collectGarbage } from './gc.js'
import type { Trial } from './timing.js'

/** Each side does its own untimed setup and teardown and returns the seconds of its timed section. */
export type Side = (trial: Trial) => Promise<number>

export interface InterleavedOptions<K extends string> {
  runs: number
  label: string
  sides: Record<K, Side>
  /** Untimed work before each round of all sides (e.g. warming the page cache). */
  beforeRound?: (trial: Trial) => unknown
}

export interface InterleavedSamples<K extends string> {
  /** Per side, one sample of seconds per measured round, in round order. */
  samples: Record<K, number[]>
  /** The untimed warm-up round's seconds, kept for the record but out of every summary. */
  warmup: Record<K, number>
}

/**
 * Like `pairedRuns`, for any number of sides: one warm-up round, then `runs` measured
 * rounds of every side, each side after a full GC; round r starts at side r mod n, so
 * that drift (writeback, CPU frequency, a neighbour's load) spreads over every side, and
 * ratios between sides are taken within a round.
 */
export async function interleavedRuns<K extends string>(options: InterleavedOptions<K>): Promise<InterleavedSamples<K>> {
  const names = Object.keys(options.sides) as K[]
  const round = async (trial: Trial): Promise<Record<K, number>> => {
    await options.beforeRound?.(trial)
    const out = {} as Record<K, number>
    const start = trial.warmup ? 0 : trial.run % names.length
    for (let i = 0; i < names.length; i++) {
      const name = names[(start + i) % names.length]!
      collectGarbage()
      out[name] = await options.sides[name](trial)
    }
    const line = names.map((name) => `${name} ${out[name].toFixed(3)} s`).join(', ')
    process.stderr.write(`  ${options.label}: ${trial.warmup ? 'warm-up' : `run ${trial.run + 1}/${options.runs}`}: ${line}\n`)
    return out
  }
  const warmup = await round({ run: -1, warmup: true })
  const samples = Object.fromEntries(names.map((name) => [name, [] as number[]])) as Record<K, number[]>
  for (let run = 0; run < options.runs; run++) {
    const got = await round({ run, warmup: false })
    for (const name of names) samples[name].push(got[name])
  }
  return { samples, warmup }
}

/** The per-round ratio of `a`'s throughput to `b`'s on the same work: b's seconds / a's. */
export function perRoundRatio(a: readonly number[], b: readonly number[]): number[] {
  return a.map((seconds, round) => b[round]! / seconds)
}
