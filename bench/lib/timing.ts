import { collectGarbage } from './gc.js'

/** Wall-clock seconds taken by `fn` (sync or async), from a monotonic clock. */
export async function timed(fn: () => unknown): Promise<number> {
  const start = process.hrtime.bigint()
  await fn()
  return Number(process.hrtime.bigint() - start) / 1e9
}

export interface Trial {
  /** 0-based among the measured runs; -1 for the warm-up. */
  run: number
  warmup: boolean
}

export interface PairedSamples {
  spool: number[]
  raw: number[]
  /** The untimed warm-up pair's seconds, kept for the record but out of every summary. */
  warmup: { spool: number; raw: number }
}

export interface PairedRunsOptions {
  runs: number
  label: string
  /** Untimed work before each pair (e.g. warming the page cache for both sides). */
  beforePair?: (trial: Trial) => unknown
  /** Each side does its own untimed setup and teardown and returns the seconds of its timed section. */
  spool: (trial: Trial) => Promise<number>
  raw: (trial: Trial) => Promise<number>
}

/** One side of a pair, after a full GC so that it starts from the same heap state each time. */
function runSide(side: (trial: Trial) => Promise<number>, trial: Trial): Promise<number> {
  collectGarbage()
  return side(trial)
}

function progress(label: string, name: string, spool: number, raw: number): void {
  process.stderr.write(`  ${label}: ${name}: spool ${spool.toFixed(3)} s, raw ${raw.toFixed(3)} s\n`)
}

/**
 * Runs one warm-up pair (JIT, allocator, and page-cache pages that a VM backs on first
 * touch), then the spool side and the raw side as `runs` measured pairs, alternating
 * which goes first so that drift (writeback, CPU frequency) does not favour one side.
 * Each side starts after a full GC.
 */
export async function pairedRuns(options: PairedRunsOptions): Promise<PairedSamples> {
  const warmupTrial: Trial = { run: -1, warmup: true }
  await options.beforePair?.(warmupTrial)
  const warmup = { spool: await runSide(options.spool, warmupTrial), raw: await runSide(options.raw, warmupTrial) }
  progress(options.label, 'warm-up', warmup.spool, warmup.raw)
  const samples: PairedSamples = { spool: [], raw: [], warmup }
  for (let run = 0; run < options.runs; run++) {
    const trial: Trial = { run, warmup: false }
    await options.beforePair?.(trial)
    if (run % 2 === 0) {
      samples.spool.push(await runSide(options.spool, trial))
      samples.raw.push(await runSide(options.raw, trial))
    } else {
      samples.raw.push(await runSide(options.raw, trial))
      samples.spool.push(await runSide(options.spool, trial))
    }
    progress(options.label, `run ${run + 1}/${options.runs}`, samples.spool[run]!, samples.raw[run]!)
  }
  return samples
}
