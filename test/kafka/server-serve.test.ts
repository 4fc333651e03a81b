import { type ChildProcess, spawn } from 'node:child_process'
import fs from 'node:fs'
import net from 'node:net'
import path from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { API_VERSIONS, FETCH, type ApiDefinition } from '../../src/kafka/apis/index.js'
import { decodeResponse, encodeRequest } from '../../src/kafka/protocol/frames.js'
import { openTestSpool } from '../helpers/open-spool.js'
import { CLI_TEST_TIMEOUT_MS, runCli } from '../helpers/run-cli.js'
import { tempDir } from '../helpers/temp-dir.js'

/**
 * `spool serve`, the built CLI in a child process (npm run build first): it prints where
 * it listens, serves, and on SIGTERM or SIGINT finishes what is in flight, closes the
 * directory and exits 0.
 */

const CLI = path.join(import.meta.dirname, '../../dist/cli/main.js')

const children: ChildProcess[] = []
afterEach(() => {
  for (const child of children.splice(0)) child.kill('SIGKILL')
})

interface Serving {
  child: ChildProcess
  /** The first stdout line. */
  line: Promise<string>
  exited: Promise<number | null>
  stderr: () => string
}

function serve(args: string[]): Serving {
  const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
  children.push(child)
  let stdout = ''
  let stderr = ''
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)))
  const line = new Promise<string>((resolve, reject) => {
    child.stdout!.on('data', (chunk: Buffer) => {
      stdout += chunk.toString()
      if (stdout.includes('\n')) resolve(stdout.slice(0, stdout.indexOf('\n')))
    })
    void exited.then((code) => reject(new Error(`spool serve exited with ${code}: ${stderr}`)))
  })
  return { child, line, exited, stderr: () => stderr }
}

function portOf(line: string): number {
  const match = /^listening on 127\.0\.0\.1:(\d+)$/.exec(line)
  expect(match, line).not.toBeNull()
  return Number(match![1])
}

async function request(port: number, api: ApiDefinition, version: number, body: object): Promise<Record<string, unknown>> {
  const socket = net.connect(port, '127.0.0.1')
  try {
    await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject))
    const frame = new Promise<Buffer>((resolve, reject) => {
      let pending = Buffer.alloc(0)
      socket.on('data', (chunk: Buffer) => {
        pending = Buffer.concat([pending, chunk])
        if (pending.length >= 4 && pending.length >= 4 + pending.readInt32BE(0)) resolve(pending.subarray(4, 4 + pending.readInt32BE(0)))
      })
      socket.once('close', () => reject(new Error('closed before the response')))
    })
    for (const chunk of encodeRequest(api, version, { correlationId: 9, clientId: 'serve-test' }, body)) socket.write(chunk)
    return decodeResponse(api, version, await frame).body as Record<string, unknown>
  } finally {
    socket.destroy()
  }
}

describe('spool serve (the built CLI)', { timeout: CLI_TEST_TIMEOUT_MS }, () => {
  it.each(['SIGTERM', 'SIGINT'] as const)('serves until %s, then closes cleanly and exits 0', async (signal) => {
    const dir = path.join(tempDir('spool-serve-'), 'data')
    const running = serve(['--data-dir', dir, 'serve', '--port', '0', '--create'])
    const port = portOf(await running.line)
    expect(JSON.parse(fs.readFileSync(path.join(dir, 'listener.json'), 'utf8'))).toEqual({ host: '127.0.0.1', port, advertisedHost: '127.0.0.1', pid: running.child.pid })
    expect((await request(port, API_VERSIONS, 0, {}))['errorCode']).toBe(0)
    running.child.kill(signal)
    expect(await running.exited).toBe(0)
    expect(running.stderr()).toBe('')
    expect(fs.existsSync(path.join(dir, 'listener.json'))).toBe(false)
    const reopened = await openTestSpool(dir) // the lock was released
    await reopened.close()
  })

  it('on SIGTERM, answers the request in flight (a long poll, cut short) before it exits', async () => {
    const dir = tempDir('spool-serve-')
    const setup = await openTestSpool(dir)
    await setup.createTopic('t')
    await setup.close()
    const running = serve(['--data-dir', dir, 'serve', '--port', '0'])
    const port = portOf(await running.line)
    const fetching = request(port, FETCH, 4, {
      replicaId: -1,
      maxWaitMs: 120_000,
      minBytes: 1,
      maxBytes: 1024 * 1024,
      isolationLevel: 0,
      topics: [{ topic: 't', partitions: [{ partition: 0, fetchOffset: 0, partitionMaxBytes: 1024 * 1024 }] }],
    })
    await new Promise((resolve) => setTimeout(resolve, 200))
    running.child.kill('SIGTERM')
    const answer = await fetching
    expect((answer['responses'] as unknown[]).length).toBe(1)
    expect(await running.exited).toBe(0)
    expect(running.stderr()).toBe('')
  })

  it('--json prints the bound address as one JSON line', async () => {
    const dir = tempDir('spool-serve-')
    const running = serve(['--data-dir', dir, '--json', 'serve', '--port', '0'])
    const printed = JSON.parse(await running.line) as { listening: { host: string; port: number } }
    expect(printed.listening.host).toBe('127.0.0.1')
    expect(printed.listening.port).toBeGreaterThan(0)
    running.child.kill('SIGTERM')
    expect(await running.exited).toBe(0)
  })

  it('refuses a bad port (exit 2), a port in use and a missing data directory (exit 1)', async () => {
    const dir = tempDir('spool-serve-')
    expect(runCli(['--data-dir', dir, 'serve', '--port', 'x'])).toMatchObject({ code: 2, stderr: expect.stringMatching(/--port must be a decimal integer/) })
    expect(runCli(['--data-dir', dir, 'serve', '--port', '70000'])).toMatchObject({ code: 2, stderr: expect.stringMatching(/port must be an integer from 0 to 65535/) })
    expect(runCli(['--data-dir', path.join(dir, 'missing'), 'serve', '--port', '0'])).toMatchObject({ code: 1, stderr: expect.stringMatching(/DATA_DIR_NOT_FOUND/) })
    const busy = net.createServer()
    await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve))
    try {
      const { port } = busy.address() as net.AddressInfo
      expect(runCli(['--data-dir', dir, 'serve', '--port', String(port)])).toMatchObject({ code: 1, stderr: expect.stringMatching(/EADDRINUSE.*the port is in use/) })
    } finally {
      busy.close()
    }
    expect(fs.existsSync(path.join(dir, 'listener.json'))).toBe(false)
  })
})
