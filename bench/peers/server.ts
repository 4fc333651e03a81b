/**
 * What the server peers (Redis, NATS: a server process the bench talks to over TCP)
 * share. The server runs as a child process of the bench: on 127.0.0.1, on a free port,
 * with its data in a fresh temp dir, one server per measured run so that no run reads or
 * appends to another's data. It is stopped by its PID when the run ends, and killed when
 * the bench process exits however it exits, so a failed or interrupted run leaves no
 * server behind. And the workloads' plan: W1 for each config, a fresh server each run,
 * then W2 over one more server loaded (untimed) the way the first config writes, on as
 * many batches as fit the time budget.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process'
import net from 'node:net'
import type { Dataset } from '../lib/dataset.js'
import { freshDir, removeDir } from '../lib/temp-dir.js'
import { within } from '../lib/timing.js'
import type { RecordInput } from '../../src/record/types.js'
import { batchesFitting, measureReplay, measureThroughput } from './measure.js'
import { type PeerConfig, type PeerRunOptions, type PeerThroughput, probePackage } from './peer.js'

export interface ServerSpec {
  /** The binary, looked up on PATH, e.g. `redis-server`. */
  bin: string
  /** What to install when the binary is missing, e.g. `redis-server (Debian package redis-server)`. */
  install: string
  /** The command line that serves on 127.0.0.1:`port` with its data in `dir`. */
  args(port: number, dir: string): string[]
}

export interface RunningServer {
  port: number
  dir: string
}

const HOST = '127.0.0.1'
/** How long a fresh server (empty data dir) may take to accept connections. */
const START_TIMEOUT_MS = 10_000
/** How often the start-up waits retry a connection. */
const CONNECT_RETRY_MS = 20
/** How long a server may take to exit after SIGTERM (Redis flushes its AOF) before SIGKILL. */
const STOP_GRACE_MS = 3_000
/** How much of the server's output an error quotes: its last lines say why it failed. */
const OUTPUT_TAIL_BYTES = 4 * 1024
/** Exits that a server may still be running at: each kills every server still alive. */
const EXIT_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const

/**
 * The probe of a server peer: the server's version (`<bin> --version`, as a `which` that
 * also names the version) and its client package's, or what to install when either is
 * missing.
 */
export async function probeServer(spec: ServerSpec, clientPackage: string): Promise<{ version: string } | { missing: string }> {
  const client = await probePackage(clientPackage)
  if ('missing' in client) return client
  const probe = spawnSync(spec.bin, ['--version'], { encoding: 'utf8' })
  if (probe.error !== undefined || probe.status !== 0) return { missing: spec.install }
  const version = /\d+\.\d+\.\d+/.exec(probe.stdout)?.[0] ?? probe.stdout.trim()
  return { version: `${spec.bin} ${version}, ${client.version}` }
}

/** Starts a server, runs `use` against it, and stops it and removes its data whatever happens. */
export async function withServer<T>(spec: ServerSpec, use: (server: RunningServer) => Promise<T>): Promise<T> {
  const dir = freshDir(spec.bin)
  try {
    const port = await freePort()
    const child = spawn(spec.bin, spec.args(port, dir), { stdio: ['ignore', 'pipe', 'pipe'] })
    live.add(child)
    killAtExit()
    try {
      await started(spec.bin, child, port)
      return await use({ port, dir })
    } finally {
      await stop(child)
    }
  } finally {
    removeDir(dir)
  }
}

/** A port nothing listens on now: the kernel picks one for a listener that is closed at once. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const listener = net.createServer()
    listener.once('error', reject)
    listener.listen(0, HOST, () => {
      const { port } = listener.address() as net.AddressInfo
      listener.close(() => resolve(port))
    })
  })
}

/**
 * Resolves once the server accepts a TCP connection; rejects if it exits first or does
 * not accept within START_TIMEOUT_MS, quoting the end of its output (Redis logs to
 * stdout, NATS to stderr) so the error says why.
 */
async function started(bin: string, child: ChildProcess, port: number): Promise<void> {
  let output = ''
  const keep = (chunk: Buffer): void => void (output = (output + chunk.toString('utf8')).slice(-OUTPUT_TAIL_BYTES))
  child.stdout!.on('data', keep)
  child.stderr!.on('data', keep)
  const exited = new Promise<never>((_, reject) => {
    child.once('error', (error) => reject(new Error(`${bin} did not start: ${error.message}`)))
    child.once('exit', (code, signal) => reject(new Error(`${bin} exited (${signal ?? code}) before it accepted connections: ${output.trim()}`)))
  })
  exited.catch(() => {}) // only awaited while starting: an exit after that is the run's to notice
  let accepting = false
  const accepts = (async () => {
    while (!accepting) {
      accepting = await connects(port)
      if (!accepting) await new Promise((resolve) => setTimeout(resolve, CONNECT_RETRY_MS))
    }
  })()
  try {
    await within(Promise.race([accepts, exited]), START_TIMEOUT_MS, () => `${bin} did not accept connections on ${HOST}:${port} within ${START_TIMEOUT_MS} ms: ${output.trim()}`)
  } finally {
    accepting = true // stops the polling loop when the server failed instead
  }
}

function connects(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, HOST)
    socket.once('connect', () => {
      socket.destroy()
      resolve(true)
    })
    socket.once('error', () => resolve(false))
  })
}

/** SIGTERM by PID, then SIGKILL if the server has not exited within STOP_GRACE_MS. */
async function stop(child: ChildProcess): Promise<void> {
  try {
    const gone = child.pid === undefined || child.exitCode !== null || child.signalCode !== null // never started, or exited
    if (gone) return
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
    child.kill('SIGTERM')
    try {
      await within(exited, STOP_GRACE_MS, () => 'no exit after SIGTERM')
    } catch {
      child.kill('SIGKILL')
      await exited
    }
  } finally {
    live.delete(child)
  }
}

const live = new Set<ChildProcess>()
let killingAtExit = false

/**
 * Kills every live server when the bench exits: at a normal exit, process.exit() or an
 * uncaught error ('exit' runs synchronously, so SIGKILL: nothing can wait for a graceful
 * stop), and at a signal that would end the process without 'exit', which is then
 * re-raised so that it still ends the process unless someone else handles it.
 */
function killAtExit(): void {
  if (killingAtExit) return
  killingAtExit = true
  const killAll = (): void => {
    for (const child of live) child.kill('SIGKILL')
  }
  process.once('exit', killAll)
  for (const signal of EXIT_SIGNALS) {
    const onSignal = (): void => {
      killAll()
      process.removeListener(signal, onSignal)
      if (process.listenerCount(signal) === 0) process.kill(process.pid, signal)
    }
    process.on(signal, onSignal)
  }
}

export interface ServerStore<C extends PeerConfig> {
  peer: string
  /** W1's configs; W2 reads a server loaded as the first one writes, so it is the one that does not sync. */
  configs: readonly C[]
  server(config: C): ServerSpec
  /** Appends `batches` to the empty server on `port`; returns the seconds the appends took. */
  append(port: number, batches: readonly RecordInput[][], config: C): Promise<number>
  /** How W2 reads, as its `config`, e.g. `XRANGE COUNT 1000`. */
  replayConfig: string
  replayPerSec(valueBytes: number): number
  /** Reads every record on the server on `port` in order; returns the seconds that took and the count. */
  replay(port: number): Promise<{ seconds: number; records: number }>
}

/** A server's start and stop, about 0.05 s for either peer here, with room to spare. */
const SERVER_OVERHEAD_SECONDS = 0.2

/** W1 for every config and W2, on the prefix of `data` that fits `options.budgetSeconds`. */
export async function serverThroughput<C extends PeerConfig>(store: ServerStore<C>, data: Dataset, options: PeerRunOptions): Promise<PeerThroughput[]> {
  const batches = data.batches.slice(0, batchesFor(store, data, options))
  const records = batches.reduce((sum, batch) => sum + batch.length, 0)
  const base = { peer: store.peer, valueBytes: data.valueBytes, records }
  const results: PeerThroughput[] = []
  for (const config of store.configs) {
    results.push(
      await measureThroughput({ ...base, workload: 'W1', config: config.name, durable: config.durable }, options.runs, () =>
        withServer(store.server(config), ({ port }) => store.append(port, batches, config)),
      ),
    )
  }
  const first = store.configs[0]!
  const w2 = await withServer(store.server(first), async ({ port }) => {
    await store.append(port, batches, first)
    return measureReplay(base, store.replayConfig, options.runs, () => store.replay(port))
  })
  results.push(w2)
  return results
}

/**
 * The batches W1 and W2 get: each config's runs and warm-up, W2's load, and W2's runs and
 * warm-up, within the budget less each server's start and stop.
 */
function batchesFor(store: ServerStore<PeerConfig>, data: Dataset, options: PeerRunOptions): number {
  const trials = options.runs + 1
  const writes = store.configs.map((c) => ({ passes: trials, rate: c.expectedPerSec(data.valueBytes) }))
  const load = { passes: 1, rate: store.configs[0]!.expectedPerSec(data.valueBytes) }
  const servers = store.configs.length * trials + 1
  const seconds = Math.max(0, options.budgetSeconds - servers * SERVER_OVERHEAD_SECONDS)
  return batchesFitting(data, [...writes, load, { passes: trials, rate: store.replayPerSec(data.valueBytes) }], seconds)
}
