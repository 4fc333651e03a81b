import fs from 'node:fs'
import net from 'node:net'
import path from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { eventually } from '../helpers/consume.js'
import type { Dispatch } from '../../src/kafka/server/connection.js'
import { readListenerFile } from '../../src/storage/listener-file.js'
import { KafkaListener } from '../../src/kafka/server/listener.js'
import { nodeIO } from '../../src/storage/io.js'
import { expectCode } from '../helpers/expect-code.js'
import { tempDir } from '../helpers/temp-dir.js'

/**
 * The listener with a fake dispatch (a frame is a 4-byte id; its response the same id):
 * the listener file, the connection limit, the bind checks, and a graceful close.
 */

const listeners: KafkaListener[] = []
const sockets: net.Socket[] = []
afterEach(async () => {
  for (const socket of sockets.splice(0)) socket.destroy()
  await Promise.all(listeners.splice(0).map((listener) => listener.close()))
})

const tick = (ms = 0): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))


function request(id: number): Buffer {
  const frame = Buffer.alloc(8)
  frame.writeInt32BE(4, 0)
  frame.writeInt32BE(id, 4)
  return frame
}

const echo: Dispatch = async (frame) => [Buffer.from([0, 0, 0, 4]), frame.subarray(0, 4)]

function makeListener(dispatch: Dispatch = echo, extra: { closeTimeoutMs?: number } = {}): { listener: KafkaListener; dir: string; warnings: string[]; advertised: Array<{ host: string; port: number }> } {
  const dir = tempDir('spool-listener-')
  const warnings: string[] = []
  const advertised: Array<{ host: string; port: number }> = []
  const listener = new KafkaListener({
    dataDir: dir,
    io: nodeIO,
    logger: { warn: (message) => warnings.push(message) },
    dispatcher: (address) => {
      advertised.push(address)
      return dispatch
    },
    ...extra,
  })
  listeners.push(listener)
  return { listener, dir, warnings, advertised }
}

interface Client {
  socket: net.Socket
  received: number[]
  closed: Promise<void>
  isClosed: () => boolean
}

async function connectTo(port: number): Promise<Client> {
  const socket = net.connect(port, '127.0.0.1')
  sockets.push(socket)
  socket.on('error', () => undefined)
  const received: number[] = []
  let pending = Buffer.alloc(0)
  socket.on('data', (chunk: Buffer) => {
    pending = Buffer.concat([pending, chunk])
    while (pending.length >= 8) {
      received.push(pending.readInt32BE(4))
      pending = pending.subarray(8)
    }
  })
  let isClosed = false
  const closed = new Promise<void>((resolve) =>
    socket.once('close', () => {
      isClosed = true
      resolve()
    }),
  )
  await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject))
  return { socket, received, closed, isClosed: () => isClosed }
}

describe('KafkaListener', () => {
  it('binds a free port on loopback, says where in listener.json while it runs, and removes it at close', async () => {
    const { listener, dir, warnings, advertised } = makeListener()
    const bound = await listener.start({ port: 0 })
    expect(bound.host).toBe('127.0.0.1')
    expect(bound.port).toBeGreaterThan(0)
    expect(advertised).toEqual([bound])
    expect(JSON.parse(fs.readFileSync(path.join(dir, 'listener.json'), 'utf8'))).toEqual({ host: '127.0.0.1', port: bound.port, advertisedHost: '127.0.0.1', pid: process.pid })
    expect(await readListenerFile(nodeIO, dir)).toEqual({ host: '127.0.0.1', port: bound.port, advertisedHost: '127.0.0.1', pid: process.pid })
    expect(fs.readdirSync(dir)).toEqual(['listener.json']) // written aside and renamed: nothing left over
    const client = await connectTo(bound.port)
    client.socket.write(Buffer.concat([request(5), request(6)]))
    await eventually(() => client.received.length === 2, 'two responses')
    expect(client.received).toEqual([5, 6])
    await listener.close()
    expect(fs.existsSync(path.join(dir, 'listener.json'))).toBe(false)
    expect(listener.address).toBeNull()
    await client.closed
    await expect(connectTo(bound.port)).rejects.toThrow(/ECONNREFUSED/)
    expect(warnings).toEqual([])
  })

  it('advertises the given host', async () => {
    const { listener, dir, advertised } = makeListener()
    const bound = await listener.start({ port: 0, advertisedHost: 'kafka.example' })
    expect(advertised).toEqual([{ host: 'kafka.example', port: bound.port }])
    expect((await readListenerFile(nodeIO, dir))?.advertisedHost).toBe('kafka.example')
  })

  it('refuses connections past maxConnections, with a log line each, and takes new ones once others close', async () => {
    const { listener, warnings } = makeListener()
    const { port } = await listener.start({ port: 0, maxConnections: 2 })
    const first = await connectTo(port)
    const second = await connectTo(port)
    await eventually(() => listener.connectionCount === 2, 'two connections')
    const third = await connectTo(port)
    await third.closed
    expect(warnings).toEqual([expect.stringMatching(/refusing the connection from 127\.0\.0\.1:\d+: 2 connections are open, the limit/)])
    first.socket.destroy()
    await eventually(() => listener.connectionCount === 1, 'the first to go')
    const fourth = await connectTo(port)
    fourth.socket.write(request(4))
    second.socket.write(request(2))
    await eventually(() => fourth.received.length === 1 && second.received.length === 1, 'both answered')
  })

  it('close(): cuts long polls short, lets requests in flight finish and sends their responses, then closes', async () => {
    let releaseSlow!: () => void
    const slowDone = new Promise<void>((resolve) => (releaseSlow = resolve))
    let finishedSlow = false
    const dispatched: number[] = []
    const dispatch: Dispatch = async (frame, connection) => {
      const id = frame.readInt32BE(0)
      dispatched.push(id)
      if (id === 1) {
        // A long poll: answers when its time is up or the listener closes.
        await new Promise((resolve) => {
          const timer = setTimeout(resolve, 60_000)
          connection.signal.addEventListener('abort', () => (clearTimeout(timer), resolve(undefined)))
        })
      } else if (id === 2) {
        await slowDone // a produce waiting for its fsync
        finishedSlow = true
      }
      return [Buffer.from([0, 0, 0, 4]), frame.subarray(0, 4)]
    }
    const { listener, dir } = makeListener(dispatch)
    const { port } = await listener.start({ port: 0 })
    const client = await connectTo(port)
    client.socket.write(Buffer.concat([request(1), request(2)]))
    await eventually(() => dispatched.length === 2, 'both requests in flight')
    let closed = false
    const closing = listener.close().then(() => (closed = true))
    await eventually(() => client.received.length === 1, "the long poll's answer") // cut short by the close
    await eventually(() => !fs.existsSync(path.join(dir, 'listener.json')), 'listener.json to go')
    expect(closed).toBe(false) // request 2 still runs
    expect(client.received).toEqual([1])
    await expect(connectTo(port)).rejects.toThrow(/ECONNREFUSED/) // no new connection
    releaseSlow()
    await closing
    expect(finishedSlow).toBe(true)
    expect(client.received).toEqual([1, 2])
    await client.closed
  })

  it('close(): destroys, after its timeout, a connection whose client does not read its responses', async () => {
    const big = Buffer.alloc(8 * 1024 * 1024)
    big.writeInt32BE(big.length - 4, 0)
    const { listener } = makeListener(async () => [big], { closeTimeoutMs: 200 })
    const { port } = await listener.start({ port: 0 })
    const client = await connectTo(port)
    client.socket.pause() // never reads: 8 MiB cannot all be sent
    client.socket.write(request(1))
    await tick(100)
    await listener.close()
    client.socket.resume() // a paused socket would not see its end
    await client.closed
  })

  it('refuses bad options, and a port in use, with clear errors; a wildcard address needs an advertised host', async () => {
    const taken = makeListener()
    const { port } = await taken.listener.start({ port: 0 })
    expect((await expectCode(makeListener().listener.start({ port }), 'IO_ERROR')).message).toMatch(/cannot listen on 127\.0\.0\.1:\d+ \(EADDRINUSE\): the port is in use/)
    expect((await expectCode(makeListener().listener.start({ port: 70_000 }), 'INVALID_ARGUMENT')).message).toMatch(/port/)
    expect((await expectCode(makeListener().listener.start({ host: '' }), 'INVALID_ARGUMENT')).message).toMatch(/host/)
    expect((await expectCode(makeListener().listener.start({ host: '0.0.0.0', port: 0 }), 'INVALID_ARGUMENT')).message).toMatch(/advertisedHost is needed when listening on every address/)
    expect((await expectCode(taken.listener.start({ port: 0 }), 'INVALID_ARGUMENT')).message).toMatch(/listen was called already/)
  })

  it('binds another address only when told, with a warning: there is no authentication yet', async () => {
    const { listener, warnings } = makeListener()
    const bound = await listener.start({ host: '0.0.0.0', port: 0, advertisedHost: 'localhost' })
    expect(bound.host).toBe('0.0.0.0')
    expect(warnings).toEqual([expect.stringMatching(/listening on 0\.0\.0\.0:\d+, reachable from other machines; it has no authentication yet/)])
  })
})
