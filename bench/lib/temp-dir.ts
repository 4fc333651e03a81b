import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'

/**
 * Set by the bench for the workload processes it starts (lib/fork.ts) to its own root:
 * a child's directories then outlive it (W1 keeps a log for W2's process to read), and
 * the bench removes them all when it exits, whatever happened to the child.
 */
export const BENCH_ROOT_ENV = 'SPOOL_BENCH_ROOT'

let root: string | null = null

/** One directory per bench run under the OS temp dir; removed at exit by the process that made it. */
export function benchRoot(): string {
  if (root === null) {
    const inherited = process.env[BENCH_ROOT_ENV]
    if (inherited !== undefined && inherited !== '') {
      root = inherited
    } else {
      const made = fs.mkdtempSync(path.join(os.tmpdir(), 'spool-bench-'))
      root = made
      process.once('exit', () => fs.rmSync(made, { recursive: true, force: true }))
    }
  }
  return root
}

/** A fresh, empty directory for one measured run. */
export function freshDir(prefix: string): string {
  return fs.mkdtempSync(path.join(benchRoot(), `${prefix}-`))
}

export function removeDir(dir: string): void {
  fs.rmSync(dir, { recursive: true, force: true })
}

/** Runs `side` in a fresh directory that is removed afterwards. */
export async function inFreshDir<T>(prefix: string, side: (dir: string) => Promise<T>): Promise<T> {
  const dir = freshDir(prefix)
  try {
    return await side(dir)
  } finally {
    removeDir(dir)
  }
}
