import type { Spool } from '../client/spool.js'
import { SpoolError, invalidArgument, isSpoolError } from '../errors.js'
import type { GlobalOptions } from './output.js'

export interface OpenOptions {
  /**
   * Create the data directory (and its parents) when it does not exist: only `spool init`
   * and `topics create --create` do, so that a mistyped --data-dir fails
   * (DATA_DIR_NOT_FOUND) instead of making an empty directory.
   */
  create?: boolean
}

/** Writable opens in progress (opening, open or closing): see mayExitNow(). */
let writers = 0

/**
 * Opens the data directory for one command and closes it after. Inspection commands open
 * it read-only: no lock, so they work beside a running application, and no file changes.
 * The engine is imported here, on first use, so that `--version`, `--help` and a command
 * line that fails to parse do not pay for loading it.
 */
export async function withSpool<T>(globals: GlobalOptions, mode: 'read-only' | 'write', use: (spool: Spool) => Promise<T>, options: OpenOptions = {}): Promise<T> {
  const readOnly = mode === 'read-only'
  if (!readOnly) writers++
  try {
    const { Spool } = await import('../client/spool.js')
    let spool: Spool
    try {
      spool = await Spool.open({ dir: globals.dataDir, readOnly, create: !readOnly && options.create === true, cleanerIntervalMs: 0 })
    } catch (error) {
      if (!readOnly && isSpoolError(error, 'DATA_DIR_NOT_FOUND')) {
        throw new SpoolError('DATA_DIR_NOT_FOUND', `${error.message}; to start a new data directory there, run spool init`, { cause: error, details: error.details })
      }
      throw error
    }
    try {
      return await use(spool)
    } finally {
      await spool.close()
    }
  } finally {
    if (!readOnly) writers--
  }
}

/**
 * Whether the process may end at once, as `cat` does when its reader has gone: no
 * writable open is in progress (read-only ones take no lock and change nothing), so no
 * lock, partial write or uncommitted group state is left behind. Otherwise the command
 * is left to stop on CliStreams.stdoutClosed and close cleanly.
 */
export function mayExitNow(): boolean {
  return writers === 0
}

/** A plain decimal integer, optionally negative: no hex, exponents, fractions, signs or spaces that Number() would take. */
const DECIMAL_INTEGER = /^-?\d+$/

function integerOf(field: string, value: string, min: number): number {
  const n = Number(value)
  if (!DECIMAL_INTEGER.test(value) || !Number.isSafeInteger(n) || n < min) {
    throw invalidArgument(field, `must be a decimal integer of at least ${min}, not "${value}"`)
  }
  return n
}

/** Parses a command-line integer option (plain decimal digits only), naming it in the error. */
export function integerOption(name: string, value: string | undefined, min = 0): number | undefined {
  return value === undefined ? undefined : integerOf(`--${name}`, value, min)
}

/** Parses a command-line integer argument (plain decimal digits only), naming it as the help does (`<total>`). */
export function integerArgument(name: string, value: string, min = 0): number {
  return integerOf(`<${name}>`, value, min)
}

/**
 * An ISO 8601 date (`2026-11-23`, `2026-11-23T21:54:35.277Z`, with or without seconds,
 * fraction and offset; without an offset a time is local) — not whatever Date.parse
 * guesses at (`tuesday 5`).
 */
const ISO_DATE = /^\d{4}-\d{2}-\d{2}(?:T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:\d{2})?)?$/

/** An ISO date or milliseconds since the epoch (plain decimal digits). */
export function timeOption(name: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined
  const ms = /^\d+$/.test(value) ? Number(value) : ISO_DATE.test(value) ? Date.parse(value) : NaN
  if (!Number.isSafeInteger(ms)) throw invalidArgument(`--${name}`, `must be an ISO date or milliseconds since the epoch (2026-11-23T21:54:35Z, 1795470875000), not "${value}"`)
  return ms
}
