import type { Command } from 'commander'
import type { Spool } from '../client/spool.js'
import { SpoolError, invalidArgument, isSpoolError } from '../errors.js'
import type { Address } from '../kafka/client/address.js'
import type { KafkaClient } from '../kafka/client/kafka-client.js'
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

/** The option of the commands that can go through a Kafka listener. */
export interface ListenerFlags {
  bootstrap?: string
}

export function bootstrapOption(command: Command): Command {
  return command.option(
    '--bootstrap <host:port>',
    "go through the Kafka listener at this address instead of opening the data directory (default: the listener of the application that holds the directory, found in its listener.json, when it has one)",
  )
}

/** A Kafka listener a command goes through. */
export interface Listener {
  client: KafkaClient
  /** The data directory it serves when it was found there (listener.json); null with --bootstrap. */
  dataDir: string | null
}

/** What a command does with the data: on the directory itself, or through a listener. */
export interface DataAccess<T> {
  local: (spool: Spool) => Promise<T>
  listener: (listener: Listener) => Promise<T>
}

/** A client connected to a listener (LISTENER_UNREACHABLE, one line, when nothing answers there); closed after `use`. */
async function throughListener<T>(address: Address, dataDir: string | null, use: (listener: Listener) => Promise<T>): Promise<T> {
  const { KafkaClient } = await import('../kafka/client/kafka-client.js')
  const client = await KafkaClient.connect(address, { clientId: 'spool-cli' })
  try {
    return await use({ client, dataDir })
  } finally {
    client.close()
  }
}

/** Loaded on use, as the engine is: `--help` and `--version` load neither. */
async function bootstrapAddress(flags: ListenerFlags): Promise<Address | null> {
  if (flags.bootstrap === undefined) return null
  const { parseAddress } = await import('../kafka/client/address.js')
  return parseAddress(flags.bootstrap)
}

/** Whether a process of this id runs (on this machine): signal 0 checks without signalling. */
function processRuns(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM' // it runs, as another user
  }
}

/** A wildcard bind address is reached through loopback by a process on the same machine. */
function reachable(info: { host: string; advertisedHost: string }): string {
  if (info.host === '0.0.0.0') return '127.0.0.1'
  if (info.host === '::' || info.host === '::0') return '::1'
  return info.host
}

/** The listener that listener.json in the data directory names, with whether its process still runs; null without one. */
interface NamedListener {
  address: Address
  /** As `host:port`, for messages. */
  where: string
  pid: number
  runs: boolean
}

async function listenerOfDir(dataDir: string): Promise<NamedListener | null> {
  const [{ readListenerFile }, { nodeIO }, { hostPort }] = await Promise.all([
    import('../storage/listener-file.js'),
    import('../storage/io.js'),
    import('../kafka/client/address.js'),
  ])
  const info = await readListenerFile(nodeIO, dataDir)
  if (info === null) return null
  const address = { host: reachable(info), port: info.port }
  return { address, where: hostPort(address), pid: info.pid, runs: processRuns(info.pid) }
}

/**
 * LOCKED, saying what the CLI can do beside the application that holds the directory:
 * go through its listener once it has one.
 */
function lockedNoListener(locked: SpoolError): SpoolError {
  return new SpoolError(
    'LOCKED',
    `${locked.message}. To produce, consume and create or delete topics beside it, let it serve Kafka clients ` +
      '(spool.listen() in the application, or run `spool serve` instead of it): the CLI then goes through that listener, ' +
      'found in the directory; or pass --bootstrap host:port',
    { cause: locked, details: locked.details },
  )
}

/** LOCKED, when listener.json names a listener that does not answer: gone, or not this holder's. */
function lockedStaleListener(locked: SpoolError, dataDir: string, named: NamedListener, cause: unknown): SpoolError {
  const holder = (locked.details as { pid?: number }).pid
  const why = named.runs ? `process ${named.pid} runs, but nothing answers there` : `process ${named.pid}, which wrote it, is gone`
  const stop = holder === undefined ? 'stop the process that holds the directory' : `stop process ${holder}, which holds the directory,`
  return new SpoolError(
    'LOCKED',
    `${dataDir} is open for writing by ${holder === undefined ? 'another process' : `process ${holder}`}, and its listener.json names a Kafka listener at ${named.where} ` +
      `that does not answer (${why}); pass --bootstrap host:port if the application listens elsewhere, or ${stop} and run the command again`,
    { cause, details: { ...locked.details, listener: { ...named.address, pid: named.pid } } },
  )
}

/**
 * Runs a command that writes (produce, topics create and delete): on the data directory
 * when it can take the lock; through the listener of the application that holds it
 * (listener.json) when it cannot; through --bootstrap when given. The output is the
 * command's either way: both paths return what it prints.
 */
export async function withWriter<T>(globals: GlobalOptions, flags: ListenerFlags, access: DataAccess<T>, options: OpenOptions = {}): Promise<T> {
  writers++ // a command that writes through a listener finishes what it read too, as one on the directory does (mayExitNow)
  try {
    const bootstrap = await bootstrapAddress(flags)
    if (bootstrap !== null) return await throughListener(bootstrap, null, access.listener)
    let opened = false
    try {
      return await withSpool(
        globals,
        'write',
        (spool) => {
          opened = true
          return access.local(spool)
        },
        options,
      )
    } catch (error) {
      if (opened || !isSpoolError(error, 'LOCKED')) throw error
      const named = await listenerOfDir(globals.dataDir)
      if (named === null) throw lockedNoListener(error)
      const { KafkaClient } = await import('../kafka/client/kafka-client.js')
      let client: KafkaClient
      try {
        client = await KafkaClient.connect(named.address, { clientId: 'spool-cli' })
      } catch (refused) {
        throw lockedStaleListener(error, globals.dataDir, named, refused)
      }
      try {
        return await access.listener({ client, dataDir: globals.dataDir })
      } finally {
        client.close()
      }
    }
  } finally {
    writers--
  }
}

/**
 * Runs a command that reads (consume without --group): through --bootstrap when given, or
 * through the listener named in the data directory when its process answers — it serves
 * what the application made durable, as it made it — else on the directory, read-only,
 * as before (no lock is needed to read).
 */
export async function withReader<T>(globals: GlobalOptions, flags: ListenerFlags, access: DataAccess<T>): Promise<T> {
  const bootstrap = await bootstrapAddress(flags)
  if (bootstrap !== null) return throughListener(bootstrap, null, access.listener)
  const named = await listenerOfDir(globals.dataDir).catch(() => null) // an unreadable listener.json: read the directory
  if (named !== null && named.runs) {
    const { KafkaClient } = await import('../kafka/client/kafka-client.js')
    const client = await KafkaClient.connect(named.address, { clientId: 'spool-cli' }).catch(() => null)
    if (client !== null) {
      try {
        return await access.listener({ client, dataDir: globals.dataDir })
      } finally {
        client.close()
      }
    }
  }
  return withSpool(globals, 'read-only', access.local)
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
