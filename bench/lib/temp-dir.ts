import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'

let root: string | null = null

/** One directory per process under the OS temp dir; removed at exit, whatever happens. */
function benchRoot(): string {
  if (root === null) {
    const made = fs.mkdtempSync(path.join(os.tmpdir(), 'spool-bench-'))
    root = made
    process.once('exit', () => fs.rmSync(made, { recursive: true, force: true }))
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
