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
  resolve: (body: DecodedBody) => void
  reject: (error: Error) => void
}

export class WireClient {
  private readonly waiters: Waiter[] = []
  private chunks: Buffer[] = []
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
    if (this.failure !== null) return Promise.reject(this.failure)
    const api = APIS.get(apiKey)
    if (api === undefined) throw new Error(`unknown api key ${apiKey}`)
    const frame = encodeRequest(api, version, { correlationId: this.nextCorrelationId++, clientId: 'spool-bench' }, body)
    return new Promise((resolve, reject) => {
      this.waiters.push({ api, version, resolve, reject })
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
      // One copy of a frame that spans chunks (a large Fetch response does): the client's cost, not the server's.
      const whole = this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks, this.buffered)
      const frame = whole.subarray(SIZE_PREFIX_BYTES, SIZE_PREFIX_BYTES + size)
      const rest = whole.subarray(SIZE_PREFIX_BYTES + size)
      this.chunks = rest.length === 0 ? [] : [rest]
      this.buffered = rest.length
      const waiter = this.waiters.shift()
      if (waiter === undefined) return this.fail(new Error('a response to no request'))
      try {
        waiter.resolve(decodeResponse(waiter.api, waiter.version, frame).body)
      } catch (error) {
        waiter.reject(error as Error)
      }
    }
  }

  private fail(error: Error): void {
    this.failure ??= error
    for (const waiter of this.waiters.splice(0)) waiter.reject(error)
  }
}
