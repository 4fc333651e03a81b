import path from 'node:path'
import { ioError } from '../errors.js'
import { readJsonFile, writeFileAtomic } from './atomic-file.js'
import type { StorageIO } from './io.js'
import { LISTENER_FILE } from './paths.js'

/**
 * `listener.json` in the data directory: how to reach the Kafka listener of the process
 * that owns the directory, so that the CLI (which cannot take the lock then) goes through
 * it. Written once the socket is bound, removed when the listener closes:
 *
 *     {"host":"127.0.0.1","port":9092,"advertisedHost":"127.0.0.1","pid":4242}
 *
 * `host` and `port` are the bound address (`host` may be a wildcard such as 0.0.0.0),
 * `advertisedHost` the name clients are told to use. A process killed with SIGKILL leaves
 * the file behind: a reader checks `pid` (and that the address answers) before trusting it.
 */
export interface ListenerInfo {
  readonly host: string
  readonly port: number
  readonly advertisedHost: string
  readonly pid: number
}

export function listenerFilePath(dataDir: string): string {
  return path.join(dataDir, LISTENER_FILE)
}

/** Written atomically (aside, fsync, rename): a reader never sees half of it. */
export async function writeListenerFile(io: StorageIO, dataDir: string, info: ListenerInfo): Promise<void> {
  const { host, port, advertisedHost, pid } = info
  await writeFileAtomic(io, listenerFilePath(dataDir), Buffer.from(`${JSON.stringify({ host, port, advertisedHost, pid })}\n`))
}

/** Absent already is fine. Not fsynced: a file that reappears after a power cut names a dead pid. */
export async function removeListenerFile(io: StorageIO, dataDir: string): Promise<void> {
  const file = listenerFilePath(dataDir)
  try {
    await io.unlink(file)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw ioError('removing', file, error)
  }
}

/** The listener file's contents; null when there is none or it does not hold what a listener writes. */
export async function readListenerFile(io: StorageIO, dataDir: string): Promise<ListenerInfo | null> {
  const value = (await readJsonFile(io, listenerFilePath(dataDir))) as Record<string, unknown> | null
  if (value === null || typeof value !== 'object') return null
  const { host, port, advertisedHost, pid } = value
  if (typeof host !== 'string' || typeof advertisedHost !== 'string') return null
  if (!Number.isInteger(port) || (port as number) < 1 || (port as number) > 65_535) return null
  if (!Number.isInteger(pid) || (pid as number) <= 0) return null
  return { host, port: port as number, advertisedHost, pid: pid as number }
}
