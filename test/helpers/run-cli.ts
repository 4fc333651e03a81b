import { spawnSync } from 'node:child_process'
import path from 'node:path'

const CLI = path.join(import.meta.dirname, '../../dist/cli/main.js')

/**
 * How long a test of several CLI runs may take before vitest gives up on it: a safety
 * limit, not a speed check. Each run starts a Node process (a few hundred ms on an idle
 * machine, seconds on a loaded one), so vitest's 5 s default failed tests that were
 * merely slow.
 */
export const CLI_TEST_TIMEOUT_MS = 120_000

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
