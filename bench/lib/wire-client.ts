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
  private chunks: Buffer[] = []
  /** Where a response that spans socket chunks is put together; reused for requestUsing's. */
  private frameBuffer = Buffer.alloc(0)
  private buffered = 0
  private nextCorrelationId = 1
  private failure: Error | null = null

  private constructor(private readonly socket: net.Socket) {
    socket.setNoDelay(true)
    socket.on('data', (chunk: Buffer) => this.onData(chunk))
    socket.on('error', (error) => this.fail(error))
    socket.on('close', () => this.fail(new Error('the listener closed the connection')))
  }

  static connect(port: number, host = '127.0.0.1'): Promise<WireClient> {
    return new Promise((resolve, reject) => {
      const socket = net.connect({ port, host })
      socket.once('error', reject)
      socket.once('connect', () => {
        socket.off('error', reject)
        resolve(new WireClient(socket))
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

  private onData(chunk: Buffer): void {
    this.chunks.push(chunk)
    this.buffered += chunk.length
    for (;;) {
      if (this.buffered < SIZE_PREFIX_BYTES) return
      if (this.chunks[0]!.length < SIZE_PREFIX_BYTES) this.chunks = [Buffer.concat(this.chunks)]
      const size = this.chunks[0]!.readInt32BE(0)
      if (this.buffered < SIZE_PREFIX_BYTES + size) return
      const waiter = this.waiters.shift()
      if (waiter === undefined) return this.fail(new Error('a response to no request'))
      // One copy of a frame that spans chunks (a large Fetch response does): the client's
      // cost, not the server's; into the reused buffer when the body is used at once.
      const whole = this.chunks.length === 1 ? this.chunks[0]! : this.join(this.buffered, waiter.use !== null)
      const frame = whole.subarray(SIZE_PREFIX_BYTES, SIZE_PREFIX_BYTES + size)
      const rest = whole.subarray(SIZE_PREFIX_BYTES + size)
      try {
        const body = decodeResponse(waiter.api, waiter.version, frame).body
        waiter.resolve(waiter.use === null ? body : waiter.use(body))
      } catch (error) {
        waiter.reject(error as Error)
      }
      // After `use`: the rest may be a view of the reused buffer, which the next frame overwrites.
      this.chunks = rest.length === 0 ? [] : [Buffer.from(rest)]
      this.buffered = rest.length
    }
  }

  private join(total: number, reuse: boolean): Buffer {
    if (!reuse) return Buffer.concat(this.chunks, total)
    if (this.frameBuffer.length < total) this.frameBuffer = Buffer.allocUnsafeSlow(total)
    let at = 0
    for (const chunk of this.chunks) at += chunk.copy(this.frameBuffer, at)
    return this.frameBuffer.subarray(0, total)
  }

  private fail(error: Error): void {
    this.failure ??= error
    for (const waiter of this.waiters.splice(0)) waiter.reject(error)
  }
}
