#!/usr/bin/env node
import { CommanderError } from 'commander'
import { ioError, isSpoolError } from '../errors.js'
import { mayExitNow } from './open.js'
import { type CliStreams, isClosedOutput, watchOutput } from './output.js'
import { buildProgram } from './program.js'

/**
 * Exit codes: 0 done; 1 the command failed or found damage; 2 the command line was wrong
 * (commander's parse errors, and every INVALID_ARGUMENT: in the CLI the arguments are what
 * the user typed, so the same command fails again until it is changed); 130 and 143
 * stopped by SIGINT or SIGTERM (`produce` after sending what it had read); 141 stdout
 * closed by its reader.
 */
const EXIT_FAILED = 1
const EXIT_USAGE = 2
/**
 * 128 + SIGPIPE: what the shell reports for `cat big | head -2` (with `set -o pipefail`,
 * or in PIPESTATUS) when `cat` is killed by writing to a pipe nobody reads. Node ignores
 * SIGPIPE, so a write gets EPIPE instead; exiting with the same status, quietly, keeps
 * spool in a pipeline like any Unix tool: `head` and the shell print nothing, and a
 * script can still tell that the output was cut short (exit 0 would say the command ran
 * to its end, which e.g. a `consume --group` that stopped early did not).
 */
export const EXIT_STDOUT_CLOSED = 141

/** The code a --json error carries when the error is not a SpoolError (a bug, or an error spool failed to wrap). */
const INTERNAL_ERROR_CODE = 'INTERNAL'

interface Flags {
  json: boolean
  debug: boolean
}

/** Global flags main must know before (or without) a successful parse. */
function flagsOf(args: readonly string[]): Flags {
  const end = args.indexOf('--')
  const before = end < 0 ? args : args.slice(0, end)
  return { json: before.includes('--json'), debug: before.includes('--debug') }
}

function reportError(error: unknown, flags: Flags, stderr: NodeJS.WritableStream): number {
  if (error instanceof CommanderError) {
    // commander has printed the help, or the message (as text; with --json, not at all)
    if (error.exitCode === 0) return 0
    if (flags.json) stderr.write(`${errorJson('INVALID_ARGUMENT', error.message.replace(/^error: /, ''), {}, undefined)}\n`)
    return EXIT_USAGE
  }
  const stack = flags.debug && error instanceof Error ? error.stack : undefined
  if (flags.json) {
    const [code, details] = isSpoolError(error) ? [error.code, error.details] : [INTERNAL_ERROR_CODE, {}]
    stderr.write(`${errorJson(code, error instanceof Error ? error.message : String(error), details, stack)}\n`)
  } else {
    const message = isSpoolError(error) ? `${error.message} [${error.code}]` : error instanceof Error ? error.message : String(error)
    stderr.write(`spool: ${message}\n`)
    if (stack !== undefined) stderr.write(`${stack}\n`)
  }
  return isSpoolError(error, 'INVALID_ARGUMENT') ? EXIT_USAGE : EXIT_FAILED
}

/** `{"error":{"code":…,"message":…}}` on one line, with the error's details when it has any. */
function errorJson(code: string, message: string, details: Readonly<Record<string, unknown>>, stack: string | undefined): string {
  const error: Record<string, unknown> = { code, message }
  if (Object.keys(details).length > 0) error['details'] = details
  if (stack !== undefined) error['stack'] = stack
  try {
    return JSON.stringify({ error }, (_key, value: unknown) => (typeof value === 'bigint' ? value.toString() : value))
  } catch {
    return JSON.stringify({ error: { code, message } }) // details that do not serialize (a cycle) are left out
  }
}

async function main(argv: string[]): Promise<void> {
  const args = argv.slice(2)
  const flags = flagsOf(args)
  // Nothing is left to tell once stderr is gone: its errors are ignored, never a crash.
  process.stderr.on('error', () => undefined)
  const out: CliStreams = { stdout: process.stdout, stderr: process.stderr, stdoutClosed: watchOutput(process.stdout) }
  let settled = false
  /** An error's (or a signal's) status when one was reported, else 141. */
  const exitClosed = (): never => process.exit(process.exitCode !== undefined && process.exitCode !== 0 ? process.exitCode : EXIT_STDOUT_CLOSED)
  /** The output could not be written (a full disk, a terminal gone): an error, unless one was reported already. */
  const outputFailed = (reason: unknown): void => {
    if (process.exitCode === undefined || process.exitCode === 0) process.exitCode = reportError(ioError('writing', 'stdout', reason), flags, process.stderr)
  }
  out.stdoutClosed.addEventListener('abort', () => {
    const reason: unknown = out.stdoutClosed.reason
    // Nothing to finish (the command has ended, or holds no writable open): go at once, as
    // `cat` would, rather than read on into the void. A writer stops on the signal and
    // closes first (produce sends what it has read, consume --group commits what it printed).
    if (isClosedOutput(reason)) {
      if (settled || mayExitNow()) exitClosed()
    } else if (settled) {
      outputFailed(reason) // the failed write was the command's last
    }
  })
  try {
    const program = await buildProgram(out, args, { json: flags.json })
    await program.parseAsync(argv)
  } catch (error) {
    // Once stdout is closed, the errors of writing to it (and of stopping because of it) are not
    // news; a write that failed otherwise is reported below, as the output's error.
    const outputError = out.stdoutClosed.aborted && (isClosedOutput(error) || error === out.stdoutClosed.reason)
    if (!outputError) process.exitCode = reportError(error, flags, process.stderr)
  }
  settled = true
  if (!out.stdoutClosed.aborted) return
  const reason: unknown = out.stdoutClosed.reason
  if (isClosedOutput(reason)) exitClosed()
  outputFailed(reason)
}

await main(process.argv)
