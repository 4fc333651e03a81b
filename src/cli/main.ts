#!/usr/bin/env node
import { CommanderError } from 'commander'
import { isSpoolError } from '../errors.js'
import { buildProgram } from './program.js'

/** Exit codes: 0 done, 1 the command failed or found damage, 2 the command line was wrong. */
const EXIT_FAILED = 1
const EXIT_USAGE = 2

async function main(argv: string[]): Promise<void> {
  const debug = argv.includes('--debug')
  const program = buildProgram({ stdout: process.stdout, stderr: process.stderr })
  try {
    await program.parseAsync(argv)
  } catch (error) {
    if (error instanceof CommanderError) {
      // commander has printed the message or the help already
      process.exitCode = error.exitCode === 0 ? 0 : EXIT_USAGE
      return
    }
    const message = isSpoolError(error) ? `${error.message} [${error.code}]` : error instanceof Error ? error.message : String(error)
    process.stderr.write(`spool: ${message}\n`)
    if (debug && error instanceof Error && error.stack !== undefined) process.stderr.write(`${error.stack}\n`)
    process.exitCode = EXIT_FAILED
  }
}

await main(process.argv)
