import { spawnSync } from 'node:child_process'
import path from 'node:path'

const CLI = path.join(import.meta.dirname, '../../dist/cli/main.js')

export interface CliResult {
  code: number
  stdout: string
  stderr: string
}

/** Runs the built `spool` CLI as a subprocess (npm test builds dist/ first), with optional stdin. */
export function runCli(args: string[], input?: string): CliResult {
  const result = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 60_000, ...(input === undefined ? {} : { input }) })
  return { code: result.status ?? -1, stdout: result.stdout, stderr: result.stderr }
}
