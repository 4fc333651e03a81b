/**
 * The power-cut simulation (test/sim/) from the command line:
 *
 *   npm run sim -- --seeds 2000            runs seeds 1..2000 (start elsewhere with --from N)
 *   npm run sim -- --seed 1234             replays one seed exactly and prints its trace
 *   npm run sim -- --seeds 500 --traces    prints the trace of every failing seed
 *   --prepare-data-dir                     the data directory exists durably before the first open
 *                                          (by default each seed decides)
 *
 * Prints one summary line, then the failing seeds grouped by what failed; exits 1 on any
 * failure.
 */
import { parseArgs } from 'node:util'
import { formatFailure, summarizeFailures } from '../test/sim/report.js'
import { type SeedResult, runSeed } from '../test/sim/workload.js'

const { values } = parseArgs({
  options: {
    seeds: { type: 'string' },
    from: { type: 'string', default: '1' },
    seed: { type: 'string' },
    traces: { type: 'boolean', default: false },
    'prepare-data-dir': { type: 'boolean' },
  },
})

function integer(name: string, text: string): number {
  const value = Number(text)
  if (!Number.isSafeInteger(value) || value < 0) throw new Error(`--${name} must be a non-negative integer, not ${text}`)
  return value
}

/** An engine promise nobody handled is a crash in production: it fails the seed that ran. */
const unhandled: unknown[] = []
process.on('unhandledRejection', (reason) => unhandled.push(reason))

async function runOne(seed: number): Promise<SeedResult> {
  unhandled.length = 0
  const result = await runSeed(seed, values['prepare-data-dir'] === undefined ? {} : { prepareDataDir: values['prepare-data-dir'] })
  for (const reason of unhandled) result.failures.push({ kind: 'unexpected-error', message: `unhandled rejection: ${String(reason)}` })
  return result
}

async function replay(seed: number): Promise<boolean> {
  const result = await runOne(seed)
  if (result.failures.length > 0) {
    console.log(formatFailure(result))
    return false
  }
  console.log(result.trace.join('\n'))
  console.log(`seed ${seed}: clean (${result.steps} steps, ${result.cuts} power cuts)`)
  return true
}

async function runMany(from: number, count: number, traces: boolean): Promise<boolean> {
  const started = Date.now()
  const failed: SeedResult[] = []
  let cuts = 0
  for (let seed = from; seed < from + count; seed++) {
    const result = await runOne(seed)
    cuts += result.cuts
    if (result.failures.length === 0) continue
    failed.push(result)
    if (traces) console.log(formatFailure(result))
  }
  const seconds = ((Date.now() - started) / 1000).toFixed(1)
  console.log(`sim: ${count} seeds (${from}..${from + count - 1}), ${cuts} power cuts, ${count - failed.length} clean, ${failed.length} failed, ${seconds} s`)
  for (const line of summarizeFailures(failed)) console.log(line)
  return failed.length === 0
}

const ok =
  values.seed !== undefined
    ? await replay(integer('seed', values.seed))
    : await runMany(integer('from', values.from!), integer('seeds', values.seeds ?? '200'), values.traces!)
process.exitCode = ok ? 0 : 1
