import { collectGarbage } from './gc.js'

/** Wall-clock seconds taken by `fn` (sync or async), from a monotonic clock. */
export async function timed(fn: () => unknown): Promise<number> {
  const start = process.hrtime.bigint()
  await fn()
  return Number(process.hrtime.bigint() - start) / 1e9
}

/** Rejects with `message` after `ms` unless `promise` settles first. */
export async function within<T>(promise: Promise<T>, ms: number, message: () => string): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const late = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(message())), ms)))
  try {
    return await Promise.race([promise, late])
  } finally {
    clearTimeout(timer)
  }
}

export interface Trial {
  /** 0-based among the measured runs; -1 for the warm-up. */
  run: number
  warmup: boolean
}

/** The samples of one warm-up and `runs` measured trials. */
export interface Trials<T> {
  samples: T[]
  /** The untimed warm-up's sample, kept for the record but out of every summary. */
  warmup: T
}

export interface PairedSamples<T = number> {
  spool: T[]
  raw: T[]
  /** The untimed warm-up pair's samples (seconds, for throughput), kept for the record but out of every summary. */
  warmup: { spool: T; raw: T }
}

export interface TrialsOptions<T> {
  runs: number
  label: string
  /** Does its own untimed setup and teardown and returns what it measured. */
  run: (trial: Trial) => Promise<T>
  /** A sample as the progress line shows it. */
  describe: (sample: T) => string
  /** Collect garbage before each trial (default true). */
  gc?: boolean
}

export interface PairedTrialsOptions<T> {
  runs: number
  label: string
  /** Untimed work before each pair (e.g. warming the page cache for both sides). */
  beforePair?: (trial: Trial) => unknown
  /** Each side does its own untimed setup and teardown and returns what it measured. */
  spool: (trial: Trial) => Promise<T>
  raw: (trial: Trial) => Promise<T>
  describe: (sample: T) => string
}

/** Each side returns the seconds of its timed section. */
export type PairedRunsOptions = Omit<PairedTrialsOptions<number>, 'describe'>

/** One side of a trial, after a full GC so that it starts from the same heap state each time. */
function runSide<T>(side: (trial: Trial) => Promise<T>, trial: Trial): Promise<T> {
  collectGarbage()
  return side(trial)
}

const seconds = (s: number): string => `${s.toFixed(3)} s`

/**
 * One warm-up trial (JIT, allocator, and page-cache pages that a VM backs on first
 * touch), then `runs` measured ones, each after a full GC, with a progress line each.
 */
export async function repeatedTrials<T>(options: TrialsOptions<T>): Promise<Trials<T>> {
  const progress = (name: string, sample: T): void => void process.stderr.write(`  ${options.label}: ${name}: ${options.describe(sample)}\n`)
  const trial = (t: Trial): Promise<T> => (options.gc === false ? options.run(t) : runSide(options.run, t))
  const warmup = await trial({ run: -1, warmup: true })
  progress('warm-up', warmup)
  const samples: T[] = []
  for (let run = 0; run < options.runs; run++) {
    samples.push(await trial({ run, warmup: false }))
    progress(`run ${run + 1}/${options.runs}`, samples[run]!)
  }
  return { samples, warmup }
}

/**
 * Both sides of one trial, each after a full GC, alternating which goes first in each
 * measured trial so that drift (writeback, CPU frequency) does not favour one side.
 * For `repeatedTrials` with `gc: false`.
 */
export async function inTurns<A, B>(trial: Trial, first: (trial: Trial) => Promise<A>, second: (trial: Trial) => Promise<B>): Promise<[A, B]> {
  if (trial.warmup || trial.run % 2 === 0) {
    const a = await runSide(first, trial)
    return [a, await runSide(second, trial)]
  }
  const b = await runSide(second, trial)
  return [await runSide(first, trial), b]
}

/** Repeated trials of a spool side and its raw twin, taking turns (`inTurns`). */
export async function pairedTrials<T>(options: PairedTrialsOptions<T>): Promise<PairedSamples<T>> {
  const { samples, warmup } = await repeatedTrials<{ spool: T; raw: T }>({
    runs: options.runs,
    label: options.label,
    gc: false, // each side collects before it runs
    describe: (pair) => `spool ${options.describe(pair.spool)}, raw ${options.describe(pair.raw)}`,
    run: async (trial) => {
      await options.beforePair?.(trial)
      const [spool, raw] = await inTurns(trial, options.spool, options.raw)
      return { spool, raw }
    },
  })
  return { spool: samples.map((s) => s.spool), raw: samples.map((s) => s.raw), warmup }
}

/** Paired trials whose sides return the seconds of their timed section. */
export function pairedRuns(options: PairedRunsOptions): Promise<PairedSamples> {
  return pairedTrials({ ...options, describe: seconds })
}
