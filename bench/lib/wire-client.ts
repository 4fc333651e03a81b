/**
 * The fewest client costs a Kafka request can have, so that W8 measures the listener and
 * not a client library: one socket, requests encoded by spool's own codec
 * (src/kafka/protocol/frames.ts), responses cut out of the stream by their size prefix
 * and matched in order (the listener answers strictly in request order). No metadata,
 * no retries, no batching of its own: the caller hands it record batches already encoded.
 */
import net from 'node:net'
import { APIS, type ApiDefinition } from '../../src/kafka/apis/index.js'
import { type DecodedBody, decodeResponse, encodeRequest } from '../../src/kafka/protocol/frames.js'

const SIZE_PREFIX_BYTES = 4
const INBOX_START_BYTES = 256 * 1024
/** What a read is given at least (Node's own reads are 64 KiB). */
const MIN_READ_BYTES = 64 * 1024

interface Waiter {
  api: ApiDefinition
  version: number
  /** Runs on the decoded body before the next response is read (see requestUsing). */
  use: ((body: DecodedBody) => unknown) | null
  resolve: (body: unknown) => void
  reject: (error: Error) => void
}

export class WireClient {
  private readonly waiters: Waiter[] = []
  private nextCorrelationId = 1
  private failure: Error | null = null

  private constructor(
    private readonly socket: net.Socket,
    /** Bytes read and not yet cut into frames: [0, filled) of it. */
    private readonly inbox: Inbox,
  ) {
    socket.setNoDelay(true)
    socket.on('error', (error) => this.fail(error))
    socket.on('close', () => this.fail(new Error('the listener closed the connection')))
  }

  static connect(port: number, host = '127.0.0.1'): Promise<WireClient> {
    return new Promise((resolve, reject) => {
      const inbox = new Inbox()
      let client: WireClient | null = null
      // The kernel copies each read straight into the inbox (onread): one copy, as a C
      // client reading a response into its own buffer; no 64 KiB chunk per read to join.
      const socket = net.connect({ port, host, onread: { buffer: () => inbox.room(), callback: (bytes) => client!.onRead(bytes) } })
      client = new WireClient(socket, inbox)
      socket.once('error', reject)
      socket.once('connect', () => {
        socket.off('error', reject)
        resolve(client!)
      })
    })
  }

  /** Sends one request (several may be in flight); resolves with its decoded response body. */
  request(apiKey: number, version: number, body: object): Promise<DecodedBody> {
    return this.send(apiKey, version, body, null) as Promise<DecodedBody>
  }

  /**
   * Sends one request and hands its decoded body to `use` at once, before the next
   * response is read, so that the body may point into a buffer reused for every response:
   * a consumer's way (librdkafka reads each response into its own buffer, not through a
   * copy of 64 KiB socket chunks). Resolves with what `use` returns.
   */
  requestUsing<T>(apiKey: number, version: number, body: object, use: (body: DecodedBody) => T): Promise<T> {
    return this.send(apiKey, version, body, use) as Promise<T>
  }

  private send(apiKey: number, version: number, body: object, use: ((body: DecodedBody) => unknown) | null): Promise<unknown> {
    if (this.failure !== null) return Promise.reject(this.failure)
    const api = APIS.get(apiKey)
    if (api === undefined) throw new Error(`unknown api key ${apiKey}`)
    const frame = encodeRequest(api, version, { correlationId: this.nextCorrelationId++, clientId: 'spool-bench' }, body)
    return new Promise((resolve, reject) => {
      this.waiters.push({ api, version, use, resolve, reject })
      // The codec's chunks in one writev (the records stay the caller's buffers, not copied).
      this.socket.cork()
      for (const chunk of frame) this.socket.write(chunk)
      this.socket.uncork()
    })
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      this.failure ??= new Error('closed')
      this.socket.once('close', () => resolve())
      this.socket.end()
    })
  }

  private onRead(bytes: number): boolean {
    const inbox = this.inbox
    inbox.filled += bytes
    let at = 0
    while (inbox.filled - at >= SIZE_PREFIX_BYTES) {
      const size = inbox.buffer.readInt32BE(at)
      if (inbox.filled - at < SIZE_PREFIX_BYTES + size) break
      const waiter = this.waiters.shift()
      if (waiter === undefined) {
        this.fail(new Error('a response to no request'))
        return false
      }
      const inPlace = inbox.buffer.subarray(at + SIZE_PREFIX_BYTES, at + SIZE_PREFIX_BYTES + size)
      // A body kept past this call (request) gets its own copy; `use` runs before the inbox is reused.
      const frame = waiter.use === null ? Buffer.from(inPlace) : inPlace
      try {
        const body = decodeResponse(waiter.api, waiter.version, frame).body
        waiter.resolve(waiter.use === null ? body : waiter.use(body))
      } catch (error) {
        waiter.reject(error as Error)
      }
      at += SIZE_PREFIX_BYTES + size
    }
    inbox.consume(at)
    // A frame begun: room for all of it, so that the reads go on into it.
    if (inbox.filled >= SIZE_PREFIX_BYTES) inbox.expect(SIZE_PREFIX_BYTES + inbox.buffer.readInt32BE(0))
    return true
  }

  private fail(error: Error): void {
    this.failure ??= error
    for (const waiter of this.waiters.splice(0)) waiter.reject(error)
  }
}

/** Where the socket reads into: grown to hold a whole frame, its unread bytes moved to the front. */
class Inbox {
  buffer = Buffer.allocUnsafeSlow(INBOX_START_BYTES)
  filled = 0

  /** Where the next read goes: the free tail, at least MIN_READ_BYTES long. */
  room(): Buffer {
    if (this.buffer.length - this.filled < MIN_READ_BYTES) this.grow(this.filled + MIN_READ_BYTES)
    return this.buffer.subarray(this.filled)
  }

  /** A frame of `bytes` starts at the front: make room for all of it. */
  expect(bytes: number): void {
    if (bytes > this.buffer.length) this.grow(bytes)
  }

  /** Drops the first `bytes` (frames handed on). */
  consume(bytes: number): void {
    if (bytes === 0) return
    this.buffer.copyWithin(0, bytes, this.filled)
    this.filled -= bytes
  }

  private grow(bytes: number): void {
    const bigger = Buffer.allocUnsafeSlow(Math.max(bytes, this.buffer.length * 2))
    this.buffer.copy(bigger, 0, 0, this.filled)
    this.buffer = bigger
  }
}
