import { Spool } from '../client/spool.js'
import { invalidArgument } from '../errors.js'
import type { GlobalOptions } from './output.js'

/**
 * Opens the data directory for one command and closes it after. Inspection commands open
 * it read-only: no lock, so they work beside a running application, and no file changes.
 */
export async function withSpool<T>(globals: GlobalOptions, mode: 'read-only' | 'write', use: (spool: Spool) => Promise<T>): Promise<T> {
  const spool = await Spool.open({ dir: globals.dataDir, readOnly: mode === 'read-only', cleanerIntervalMs: 0 })
  try {
    return await use(spool)
  } finally {
    await spool.close()
  }
}

/** Parses a command-line integer option, naming it in the error. */
export function integerOption(name: string, value: string | undefined, min = 0): number | undefined {
  if (value === undefined) return undefined
  const n = Number(value)
  if (!Number.isSafeInteger(n) || n < min) {
    throw invalidArgument(`--${name}`, `must be an integer of at least ${min}, not "${value}"`)
  }
  return n
}

/** An ISO date or milliseconds since the epoch. */
export function timeOption(name: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined
  const ms = /^\d+$/.test(value) ? Number(value) : Date.parse(value)
  if (!Number.isSafeInteger(ms)) throw invalidArgument(`--${name}`, `must be an ISO date or milliseconds, not "${value}"`)
  return ms
}
