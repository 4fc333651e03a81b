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
