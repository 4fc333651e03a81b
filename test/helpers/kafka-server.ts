/**
 * Starts spool's Kafka listener for the client acceptance tests (test/kafka/clients/), the
 * two ways a user does: in this process with `spool.listen()` (the application keeps
 * producing and consuming while other processes connect), or as `spool serve` in a
 * child process (needs `npm run build`; a test can SIGKILL it).
 */
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process'
import path from 'node:path'
import type { Spool, SpoolOptions, TopicOptions } from '../../src/client/spool.js'
import { openTestSpool } from './open-spool.js'
import { CHILD_SAFETY_TIMEOUT_MS } from './safety-timeout.js'

const CLI = path.join(import.meta.dirname, '../../dist/cli/main.js')

export function bootstrapOf(address: { host: string; port: number }): string {
  return address.host.includes(':') ? `[${address.host}]:${address.port}` : `${address.host}:${address.port}`
}

export interface InProcessServer {
  spool: Spool
  /** host:port for a client's bootstrap list. */
  bootstrap: string
  /** Closes the spool, and with it the listener (it closes first). */
  close(): Promise<void>
}

/** Opens a spool in `dir`, creates `topics`, and listens on 127.0.0.1, a free port. */
export async function listenInProcess(dir: string, topics: Readonly<Record<string, TopicOptions>> = {}, options: SpoolOptions = {}): Promise<InProcessServer> {
  const spool = await openTestSpool(dir, { cleanerIntervalMs: 0, ...options })
  try {
    for (const [name, topicOptions] of Object.entries(topics)) await spool.createTopic(name, topicOptions)
    const address = await spool.listen({ host: '127.0.0.1', port: 0 })
    return { spool, bootstrap: bootstrapOf(address), close: () => spool.close() }
  } catch (error) {
    await spool.close().catch(() => undefined)
    throw error
  }
}

export interface ServeProcess {
  child: ChildProcessWithoutNullStreams
  bootstrap: string
  /** What it printed to stderr so far (for failure messages). */
  stderr(): string
  /** Resolves when it has exited. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>
}

/**
 * Runs `spool serve --port 0 --data-dir <dir>` from dist/ and resolves once it prints
 * `listening on host:port`. Rejects if it exits first, with what it printed.
 */
export function startServe(dir: string, extraArgs: readonly string[] = []): Promise<ServeProcess> {
  const child = spawn(process.execPath, [CLI, '--data-dir', dir, 'serve', '--port', '0', ...extraArgs], { stdio: ['pipe', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })))
  const safety = setTimeout(() => child.kill('SIGKILL'), CHILD_SAFETY_TIMEOUT_MS)
  void exited.then(() => clearTimeout(safety))
  return new Promise((resolve, reject) => {
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString()
      const match = /listening on (\S+):(\d+)/.exec(stdout)
      if (match !== null) resolve({ child, bootstrap: `${match[1]}:${match[2]}`, stderr: () => stderr, exited })
    })
    child.on('error', reject)
    void exited.then(({ code, signal }) => reject(new Error(`spool serve exited (${code ?? signal}) before listening\nstdout: ${stdout}\nstderr: ${stderr}`)))
  })
}

/** Asks `spool serve` to stop (SIGTERM: it finishes requests in flight and closes) and waits. */
export async function stopServe(server: ServeProcess): Promise<void> {
  if (server.child.exitCode === null && server.child.signalCode === null) server.child.kill('SIGTERM')
  await server.exited
}
