/**
 * One workload in a fresh process, as JMH forks one JVM per benchmark: neither an earlier
 * workload's heap and garbage nor its JIT warm-up reaches this one, and its first pass is
 * a real first pass. Started by lib/fork.ts as
 * `node --import tsx bench/workload-child.ts JOB_FILE RESULT_FILE`: JOB_FILE holds
 * `{ job, input }` (a name of jobs.ts and its input), RESULT_FILE gets `{ value, memory,
 * warnings }` or `{ error }`. Progress goes to stderr, as in the bench's own process.
 */
import fs from 'node:fs'
import type { Logger } from '../src/storage/logger.js'
import { JOBS, type JobName } from './jobs.js'
import { sampleMemory } from './lib/memory.js'

const [jobFile, resultFile] = process.argv.slice(2)
if (jobFile === undefined || resultFile === undefined) throw new Error('usage: workload-child.ts JOB_FILE RESULT_FILE')

const { job, input } = JSON.parse(fs.readFileSync(jobFile, 'utf8')) as { job: JobName; input: unknown }
const warnings: string[] = []
const logger: Logger = {
  warn: (message) => {
    warnings.push(message)
    process.stderr.write(`spool: warning: ${message}\n`)
  },
}

const stop = sampleMemory()
try {
  const run = JOBS[job] as (input: unknown, logger: Logger) => Promise<unknown>
  const value = await run(input, logger)
  fs.writeFileSync(resultFile, JSON.stringify({ value, memory: stop(), warnings }))
} catch (error) {
  fs.writeFileSync(resultFile, JSON.stringify({ error: error instanceof Error ? (error.stack ?? error.message) : String(error), warnings }))
  process.exitCode = 1
}
// A workload that left a handle open (a timer, a socket) must not hold the bench up: its result is written.
process.exit()
