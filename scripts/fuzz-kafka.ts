/**
 * The long run of the Kafka listener fuzz (issue 16): seeded runs of test/helpers/kafka-fuzz
 * one after another, each against a fresh in-process listener and data directory, until a
 * number of seeds or of minutes is reached. Prints each failing seed with the frames that
 * trigger it; exits 1 if any seed failed.
 *
 *   npm run fuzz:kafka -- [--seeds N] [--minutes M] [--seed S] [--connections C] [--parallel P]
 *                         [--max-frames F] [--after-close inert|may-apply]
 *
 * --seed S replays one seed (the suite and this script print the seed of every failure).
 * Without --seeds or --minutes, 10 seeds. Seeds start at --seed (default: from the clock).
 */
import { parseArgs } from 'node:util'
import { runFuzz } from '../test/helpers/kafka-fuzz/run.js'

const { values } = parseArgs({
  options: {
    seeds: { type: 'string' },
    minutes: { type: 'string' },
    seed: { type: 'string' },
    connections: { type: 'string', default: '400' },
    parallel: { type: 'string', default: '4' },
    'max-frames': { type: 'string', default: '24' },
    'after-close': { type: 'string', default: 'inert' },
  },
})

function integer(name: string, text: string | undefined): number | undefined {
  if (text === undefined) return undefined
  const value = Number(text)
  if (!Number.isSafeInteger(value) || value < 0) {
    process.stderr.write(`--${name} must be a non-negative integer, not ${text}\n`)
    process.exit(2)
  }
  return value
}

const firstSeed = integer('seed', values.seed) ?? (Date.now() % 2 ** 31)
const minutes = integer('minutes', values.minutes)
const seeds = integer('seeds', values.seeds) ?? (minutes === undefined ? 10 : Infinity)
const until = minutes === undefined ? Infinity : Date.now() + minutes * 60_000
const connections = integer('connections', values.connections)!
const parallel = integer('parallel', values.parallel)!
const maxFrames = integer('max-frames', values['max-frames'])!
const afterClose = values['after-close']
if (afterClose !== 'inert' && afterClose !== 'may-apply') {
  process.stderr.write(`--after-close must be inert or may-apply, not ${afterClose}\n`)
  process.exit(2)
}

const started = Date.now()
const failed: number[] = []
const totals = { frames: 0, mutatedFrames: 0, responses: 0, closedByServer: 0, acknowledged: 0, storedRecords: 0 }
let worstMemory = { arrayBuffersMiB: 0, heapUsedMiB: 0, rssMiB: 0 }
let ran = 0
for (let seed = firstSeed; ran < seeds && Date.now() < until; seed++, ran++) {
  const report = await runFuzz({ seed, connections, parallel, maxFrames, afterClose, progress: (line) => process.stderr.write(`  ${line}\n`) })
  for (const key of Object.keys(totals) as Array<keyof typeof totals>) totals[key] += report.stats[key]
  worstMemory = {
    arrayBuffersMiB: Math.max(worstMemory.arrayBuffersMiB, report.memory.arrayBuffersMiB),
    heapUsedMiB: Math.max(worstMemory.heapUsedMiB, report.memory.heapUsedMiB),
    rssMiB: Math.max(worstMemory.rssMiB, report.memory.rssMiB),
  }
  const { stats, memory } = report
  process.stdout.write(
    `seed ${seed}: ${report.failures.length === 0 ? 'ok' : `${report.failures.length} FAILURES`} — ${stats.frames} frames (${stats.mutatedFrames} mutated), ` +
      `${stats.responses} responses, ${stats.closedByServer} closed by the listener, ${stats.acknowledged} batches acknowledged, ${stats.storedRecords} records stored; ` +
      `memory +${memory.arrayBuffersMiB.toFixed(1)} MiB arrayBuffers, +${memory.heapUsedMiB.toFixed(1)} MiB heap, +${memory.rssMiB.toFixed(1)} MiB RSS\n`,
  )
  if (report.failures.length > 0) {
    failed.push(seed)
    for (const failure of report.failures) process.stdout.write(`${failure}\n`)
  }
}
const seconds = ((Date.now() - started) / 1000).toFixed(0)
process.stdout.write(
  `\n${ran} seeds (${firstSeed}..${firstSeed + ran - 1}) in ${seconds} s: ${totals.frames} frames, ${totals.mutatedFrames} mutated, ${totals.responses} responses, ` +
    `${totals.closedByServer} connections closed by the listener, ${totals.acknowledged} batches acknowledged, ${totals.storedRecords} records checked; ` +
    `worst memory growth +${worstMemory.arrayBuffersMiB.toFixed(1)} MiB arrayBuffers, +${worstMemory.heapUsedMiB.toFixed(1)} MiB heap, +${worstMemory.rssMiB.toFixed(1)} MiB RSS\n`,
)
if (failed.length > 0) {
  process.stdout.write(`FAILED seeds: ${failed.join(' ')} (replay one: npm run fuzz:kafka -- --seed S --seeds 1)\n`)
  process.exitCode = 1
} else {
  process.stdout.write('no failures\n')
}
