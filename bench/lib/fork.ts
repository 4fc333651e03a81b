/**
 * Runs one job of jobs.ts in a fresh Node process (workload-child.ts) and waits for its
 * result: the input goes in a file, the result comes back in one, stderr (progress) is
 * passed through, and the child's stdout joins it (the bench's stdout is the report).
 * Jobs run one at a time: on a 2-core machine a second one would measure the first.
 */
import { spawn } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import type { JobInput, JobName, JobOutput } from '../jobs.js'
import type { MemoryPeak } from './memory.js'
import { BENCH_ROOT_ENV, benchRoot, freshDir, removeDir } from './temp-dir.js'

const BENCH_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const CHILD = path.join(BENCH_DIR, 'workload-child.ts')
/** tsx resolves from the repository root, whatever directory the bench was started in. */
const REPO_ROOT = path.dirname(BENCH_DIR)

export interface Forked<T> {
  value: T
  /** The peaks of the process that ran the job. */
  memory: MemoryPeak
  /** What the job's logger was told (also printed to stderr as it happened). */
  warnings: string[]
}

type ChildResult<T> = Forked<T> | { error: string; warnings: string[] }

export async function forkJob<N extends JobName>(job: N, input: JobInput<N>): Promise<Forked<JobOutput<N>>> {
  const dir = freshDir(`job-${job}`)
  try {
    const jobFile = path.join(dir, 'job.json')
    const resultFile = path.join(dir, 'result.json')
    fs.writeFileSync(jobFile, JSON.stringify({ job, input }))
    const child = spawn(process.execPath, ['--import', 'tsx', CHILD, jobFile, resultFile], {
      cwd: REPO_ROOT,
      stdio: ['ignore', 2, 'inherit'],
      env: { ...process.env, [BENCH_ROOT_ENV]: benchRoot() },
    })
    const exit = await new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve, reject) => {
      child.once('error', reject)
      child.once('exit', (code, signal) => resolve({ code, signal }))
    })
    const result = fs.existsSync(resultFile) ? (JSON.parse(fs.readFileSync(resultFile, 'utf8')) as ChildResult<JobOutput<N>>) : null
    if (result === null) throw new Error(`${job}: the workload process exited (${exit.signal ?? `code ${String(exit.code)}`}) without a result`)
    if ('error' in result) throw new Error(`${job} failed in its workload process: ${result.error}`)
    return result
  } finally {
    removeDir(dir)
  }
}
