import net from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import { eventually } from '../helpers/consume.js'
import { MAX_KAFKA_REQUEST_BYTES } from '../../src/limits.js'
import { type ConnectionOptions, type Dispatch, KafkaConnection } from '../../src/kafka/server/connection.js'
import { seededRandom } from '../helpers/kafka-records.js'

/**
 * The connection layer alone, with a fake dispatch: a request frame is a 4-byte id (and
 * any padding), its response the same id, size-prefixed. What it proves: order under
 * concurrency, acks-0 (null) responses, the request-size bound, both back-pressure bounds,
 * failures that close the connection with one log line, and a graceful drain.
 */

const cleanups: Array<() => void> = []
afterEach(() => {
  for (const cleanup of cleanups.splice(0)) cleanup()
})

function request(id: number, padding = 0): Buffer {
  const frame = Buffer.alloc(8 + padding)
  frame.writeInt32BE(4 + padding, 0)
  frame.writeInt32BE(id, 4)
  return frame
}

function response(id: number, extra?: Buffer): Buffer[] {
  const head = Buffer.alloc(8)
  head.writeInt32BE(4 + (extra?.length ?? 0), 0)
  head.writeInt32BE(id, 4)
  return extra === undefined ? [head] : [head, extra]
}

const idOf = (frame: Buffer): number => frame.readInt32BE(0)

const tick = (ms = 0): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))


interface Harness {
  client: net.Socket
  connection: () => KafkaConnection
  /** Ids of the responses the client got, in arrival order. */
  received: number[]
  /** Whole response frames' payload sizes, in arrival order. */
  sizes: number[]
  warnings: string[]
  clientClosed: Promise<void>
  clientEnded: () => boolean
}

/** A server that wraps its one accepted socket in a KafkaConnection, and a client connected to it. */
async function connect(dispatch: Dispatch, options: Partial<ConnectionOptions> = {}): Promise<Harness> {
  const warnings: string[] = []
  let connection: KafkaConnection | undefined
  const server = net.createServer((socket) => {
    connection = new KafkaConnection(socket, dispatch, { logger: { warn: (message) => warnings.push(message) }, ...options })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as net.AddressInfo
  const client = net.connect(port, '127.0.0.1')
  await new Promise<void>((resolve) => client.once('connect', resolve))
  await eventually(() => connection !== undefined, 'the connection')
  const received: number[] = []
  const sizes: number[] = []
  // Reads each response's size and id, and skips the rest without holding it: responses may be large.
  let head = Buffer.alloc(0)
  let skip = 0
  let ended = false
  client.on('data', (chunk: Buffer) => {
    let at = 0
    while (at < chunk.length) {
      if (skip > 0) {
        const n = Math.min(skip, chunk.length - at)
        skip -= n
        at += n
        continue
      }
      const n = Math.min(8 - head.length, chunk.length - at)
      head = Buffer.concat([head, chunk.subarray(at, at + n)])
      at += n
      if (head.length < 8) break
      const size = head.readInt32BE(0)
      received.push(head.readInt32BE(4))
      sizes.push(size)
      skip = size - 4
      head = Buffer.alloc(0)
    }
  })
  client.on('end', () => (ended = true))
  client.on('error', () => undefined)
  const clientClosed = new Promise<void>((resolve) => client.once('close', () => resolve()))
  cleanups.push(() => {
    client.destroy()
    connection?.destroy()
    server.close()
  })
  return { client, connection: () => connection!, received, sizes, warnings, clientClosed, clientEnded: () => ended }
}

/** A dispatch whose calls wait until the test releases them, by id. */
function heldDispatch(respond: (id: number) => Buffer[] | null = (id) => response(id)): { dispatch: Dispatch; calls: number[]; release: (id: number) => void } {
  const calls: number[] = []
  const waiting = new Map<number, () => void>()
  const released = new Set<number>()
  const dispatch: Dispatch = async (frame) => {
    const id = idOf(frame)
    calls.push(id)
    if (!released.has(id)) await new Promise<void>((resolve) => waiting.set(id, resolve))
    return respond(id)
  }
  const release = (id: number): void => {
    released.add(id)
    waiting.get(id)?.()
  }
  return { dispatch, calls, release }
}

describe('KafkaConnection', () => {
  it('answers in request order while many requests run at once, each finishing after a random delay', async () => {
    const seed = 16
    const random = seededRandom(seed)
    let running = 0
    let mostAtOnce = 0
    const dispatch: Dispatch = async (frame) => {
      running++
      mostAtOnce = Math.max(mostAtOnce, running)
      await tick(Math.floor(random() * 20))
      running--
      return response(idOf(frame))
    }
    const h = await connect(dispatch, { maxInFlightRequests: 16 })
    const COUNT = 300
    // One write holding every frame, then frames cut across writes: both framings.
    h.client.write(Buffer.concat(Array.from({ length: COUNT / 2 }, (_, i) => request(i))))
    const rest = Buffer.concat(Array.from({ length: COUNT / 2 }, (_, i) => request(COUNT / 2 + i, i % 7)))
    for (let at = 0; at < rest.length; at += 5) h.client.write(rest.subarray(at, at + 5))
    await eventually(() => h.received.length === COUNT, `${COUNT} responses (seed ${seed})`)
    expect(h.received).toEqual(Array.from({ length: COUNT }, (_, i) => i))
    expect(mostAtOnce).toBeGreaterThan(1)
    expect(mostAtOnce).toBeLessThanOrEqual(16)
    expect(h.warnings).toEqual([])
  })

  it('writes nothing for a request whose dispatch returns null (acks 0), and answers the ones after it', async () => {
    const random = seededRandom(7)
    const dispatch: Dispatch = async (frame) => {
      const id = idOf(frame)
      await tick(Math.floor(random() * 10))
      return id % 3 === 0 ? null : response(id)
    }
    const h = await connect(dispatch)
    h.client.write(Buffer.concat(Array.from({ length: 60 }, (_, i) => request(i))))
    const expected = Array.from({ length: 60 }, (_, i) => i).filter((i) => i % 3 !== 0)
    await eventually(() => h.received.length === expected.length, 'the answered responses')
    await tick(50)
    expect(h.received).toEqual(expected)
  })

  it('writes a response given as several buffers as one frame, without copying them together', async () => {
    const extra = Buffer.alloc(100_000, 7)
    const h = await connect(async (frame) => response(idOf(frame), extra))
    h.client.write(Buffer.concat([request(1), request(2)]))
    await eventually(() => h.received.length === 2, 'two responses')
    expect(h.sizes).toEqual([100_004, 100_004])
  })

  it.each([
    ['over the request-size bound', 1025],
    ['negative', -1],
  ])('closes the connection, with one log line, on a frame size %s', async (_what, size) => {
    const calls: number[] = []
    const h = await connect(async (frame) => (calls.push(idOf(frame)), response(idOf(frame))), { maxRequestBytes: 1024 })
    const bad = Buffer.alloc(4)
    bad.writeInt32BE(size, 0)
    h.client.write(Buffer.concat([request(1), request(2, 1016), bad, request(3)]))
    await h.clientClosed
    expect(calls).toEqual([1, 2]) // exactly at the bound is taken; nothing after the bad size is
    expect(h.warnings).toHaveLength(1)
    expect(h.warnings[0]).toMatch(size < 0 ? /negative size/ : /1025 bytes is over the limit of 1024/)
  })

  it("bounds requests at Kafka's socket.request.max.bytes (100 MiB) by default, before reading the body", async () => {
    expect(MAX_KAFKA_REQUEST_BYTES).toBe(100 * 1024 * 1024)
    const h = await connect(async () => null)
    const huge = Buffer.alloc(4)
    huge.writeInt32BE(MAX_KAFKA_REQUEST_BYTES + 1, 0)
    h.client.write(huge)
    await h.clientClosed
    expect(h.warnings).toEqual([expect.stringMatching(/over the limit of 104857600 bytes/)])
  })

  it('stops reading at maxInFlightRequests and reads on as responses go out', async () => {
    const held = heldDispatch()
    const h = await connect(held.dispatch, { maxInFlightRequests: 4 })
    h.client.write(Buffer.concat(Array.from({ length: 10 }, (_, i) => request(i))))
    await eventually(() => held.calls.length === 4, 'four dispatches')
    await tick(100)
    expect(held.calls).toEqual([0, 1, 2, 3])
    expect(h.connection().inFlight).toBe(4)
    held.release(1) // answered, but waits behind 0: still four in flight
    await tick(50)
    expect(held.calls).toHaveLength(4)
    held.release(0)
    await eventually(() => held.calls.length === 6, 'two more dispatches')
    for (let id = 0; id < 10; id++) held.release(id)
    await eventually(() => h.received.length === 10, 'ten responses')
    expect(h.received).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9])
  })

  it('stops reading while answered responses wait behind a slow one, past maxBufferedResponseBytes', async () => {
    const MiB = Buffer.alloc(1024 * 1024, 1)
    const held = heldDispatch((id) => response(id, MiB))
    for (let id = 1; id < 10; id++) held.release(id) // all but the first answer at once
    const h = await connect(held.dispatch, { maxBufferedResponseBytes: 2.5 * 1024 * 1024 })
    for (let id = 0; id < 4; id++) {
      h.client.write(request(id))
      await eventually(() => held.calls.length === id + 1, `dispatch ${id}`)
    }
    // 3 MiB of answers held behind request 0: the next requests are not read.
    h.client.write(Buffer.concat([request(4), request(5)]))
    await tick(150)
    expect(held.calls).toEqual([0, 1, 2, 3])
    held.release(0)
    await eventually(() => h.received.length === 6, 'six responses')
    expect(h.received).toEqual([0, 1, 2, 3, 4, 5])
  })

  it('stops reading while the client does not take its responses, and goes on when it does', async () => {
    const big = Buffer.alloc(8 * 1024 * 1024, 2) // one buffer, written again and again: no memory per response
    const calls: number[] = []
    const h = await connect(async (frame) => (calls.push(idOf(frame)), response(idOf(frame), big)), { maxBufferedResponseBytes: 1024 * 1024 })
    h.client.pause()
    // 320 MiB of responses: far more than the kernel's socket buffers hold (Linux lets a
    // loopback receive buffer grow to tcp_rmem's maximum, 32 MiB here).
    const COUNT = 40
    for (let id = 0; id < COUNT; id++) {
      h.client.write(request(id))
      await tick(1)
    }
    await tick(300)
    const whilePaused = calls.length
    await tick(300)
    expect(calls.length).toBe(whilePaused) // stopped, not slow
    expect(whilePaused).toBeLessThan(COUNT)
    h.client.resume()
    await eventually(() => h.received.length === COUNT, 'every response')
    expect(h.received).toEqual(Array.from({ length: COUNT }, (_, i) => i))
  })

  it.each([
    ['rejects', async (): Promise<Buffer[] | null> => Promise.reject(new Error('boom'))],
    ['throws synchronously', (): Promise<Buffer[] | null> => {
      throw new Error('boom')
    }],
  ])('closes the connection with one log line when a dispatch %s', async (what, failing) => {
    const calls: number[] = []
    const h = await connect((frame) => {
      calls.push(idOf(frame))
      return idOf(frame) === 2 ? failing() : Promise.resolve(response(idOf(frame)))
    })
    h.client.write(Buffer.concat([request(1), request(2), request(3)]))
    await h.clientClosed
    expect(h.warnings).toHaveLength(1)
    expect(h.warnings[0]).toMatch(/^kafka listener: closing the connection from 127\.0\.0\.1:\d+: boom$/)
    expect(h.received).not.toContain(3)
    // A synchronous throw (a request that does not decode) stops the stream there, as Kafka does.
    if (what === 'throws synchronously') expect(calls).toEqual([1, 2])
  })

  it('aborts its signal when the client goes away, so a long poll ends', async () => {
    let aborted = false
    const h = await connect(async (_frame, context) => {
      await new Promise((resolve) => context.signal.addEventListener('abort', resolve))
      aborted = true
      return null
    })
    h.client.write(request(1))
    await tick(20)
    h.client.destroy()
    await eventually(() => aborted, 'the abort')
    await h.connection().finished()
  })

  it('drain(): takes no new request, finishes those in flight and sends their responses, then ends the connection', async () => {
    const shutdown = new AbortController()
    const held = heldDispatch()
    const h = await connect(held.dispatch, { shutdown: shutdown.signal })
    h.client.write(Buffer.concat([request(1), request(2), request(3)]))
    await eventually(() => held.calls.length === 3, 'three dispatches')
    shutdown.abort()
    expect(h.connection().context.signal.aborted).toBe(true) // long polls answer now
    const drained = h.connection().drain()
    h.client.write(request(4)) // too late
    await tick(50)
    expect(h.clientEnded()).toBe(false)
    held.release(2)
    held.release(3)
    held.release(1)
    await eventually(() => h.clientEnded(), 'the end of the connection')
    expect(h.received).toEqual([1, 2, 3])
    expect(held.calls).toEqual([1, 2, 3])
    h.client.end()
    await drained
    expect(h.warnings).toEqual([])
  })

  it('survives garbage: random bytes end in a closed connection or nothing, never a crash', async () => {
    const random = seededRandom(99)
    for (let round = 0; round < 20; round++) {
      const h = await connect(async (frame) => (frame.length >= 4 && idOf(frame) % 2 === 0 ? response(idOf(frame)) : Promise.reject(new Error('bad'))), { maxRequestBytes: 4096 })
      const junk = Buffer.from(Array.from({ length: 1 + Math.floor(random() * 3000) }, () => Math.floor(random() * 256)))
      h.client.write(junk)
      h.client.end()
      await h.clientClosed
      expect(h.warnings.length).toBeLessThanOrEqual(1)
    }
  })
})
