import { setMaxListeners } from 'node:events'
import type { Socket } from 'node:net'
import {
  KAFKA_CONNECTION_MAX_IDLE_MS,
  MAX_KAFKA_BUFFERED_RESPONSE_BYTES,
  MAX_KAFKA_IN_FLIGHT_REQUESTS,
  MAX_KAFKA_REQUEST_BYTES,
} from '../../limits.js'
import type { Logger } from '../../storage/logger.js'

/** What a dispatch knows of the connection its request came on. */
export interface ConnectionContext {
  /** Numbers the listener's connections, for log lines. */
  readonly id: number
  /** The client's `address:port`, for log lines. */
  readonly remote: string
  /** Aborted when the connection closes or the listener shuts down: long polls answer at once. */
  readonly signal: AbortSignal
}

/**
 * Turns one request frame (the bytes after its 4-byte size) into its response: the buffers
 * to write, size prefix included, written as they are (never concatenated); or null for no
 * response at all (Produce with acks 0). A throw or a rejection closes the connection with
 * one log line, its message. A synchronous throw (what the dispatcher does for a request
 * it cannot decode) closes it before any later frame is dispatched: as with Kafka, which
 * reads a connection's next request only after the last, nothing a client sent after a
 * malformed request is acted on.
 */
export type Dispatch = (frame: Buffer, connection: ConnectionContext) => Promise<ResponseFrames | null>

/** A response's buffers, and what to run once they were written (`afterResponse` in handlers). */
export type ResponseFrames = Buffer[] & { written?: () => void }

export interface ConnectionOptions {
  readonly logger: Logger
  readonly id?: number
  /** Kafka's socket.request.max.bytes. */
  readonly maxRequestBytes?: number
  readonly maxInFlightRequests?: number
  readonly maxBufferedResponseBytes?: number
  /** 0: never closed for idleness. */
  readonly maxIdleMs?: number
  /** The listener's shutdown: aborts this connection's signal too. */
  readonly shutdown?: AbortSignal
}

/** A request dispatched and not yet written: its response once the dispatch settles. */
interface Slot {
  /** undefined while the dispatch runs; null for no response. */
  response: ResponseFrames | null | undefined
  bytes: number
}

const SIZE_PREFIX_BYTES = 4

/**
 * One client connection: a stream of size-prefixed request frames in, responses out in
 * request order.
 *
 * Each request is dispatched as soon as its frame is whole, so several run at once (a
 * pipelining client's Produce waits for its fsync while the next Fetch is already read);
 * answers that finish early wait behind earlier ones, because Kafka clients match
 * responses to requests by order as much as by correlation id. A request without a
 * response (acks 0) takes its turn and writes nothing.
 *
 * Memory is bounded: a frame larger than maxRequestBytes (or with a negative size) closes
 * the connection before its body is read; with maxInFlightRequests dispatched, or
 * maxBufferedResponseBytes of answers not yet taken by the client, the socket is no longer
 * read (TCP then holds the client back) until they drain. Nothing a client sends can
 * throw out of here: every failure closes this connection, with one log line.
 */
export class KafkaConnection {
  readonly context: ConnectionContext
  private readonly controller = new AbortController()
  private readonly logger: Logger
  private readonly maxRequestBytes: number
  private readonly maxInFlight: number
  private readonly maxBufferedBytes: number
  private readonly shutdown: AbortSignal | undefined
  private readonly onShutdown = (): void => this.controller.abort()

  /** Bytes read and not yet cut into frames. */
  private chunks: Buffer[] = []
  private unframedBytes = 0
  /** Dispatched requests in request order, until their response is written. */
  private readonly pending: Slot[] = []
  /** Bytes of responses that are ready but wait behind an earlier request. */
  private heldBytes = 0
  /** Dispatches not yet settled (a closed connection's too). */
  private running = 0
  private paused = false
  private state: 'open' | 'draining' | 'closed' = 'open'
  private socketClosed = false
  private readonly finishWaiters: Array<() => void> = []

  constructor(
    private readonly socket: Socket,
    private readonly dispatch: Dispatch,
    options: ConnectionOptions,
  ) {
    this.logger = options.logger
    this.maxRequestBytes = options.maxRequestBytes ?? MAX_KAFKA_REQUEST_BYTES
    this.maxInFlight = options.maxInFlightRequests ?? MAX_KAFKA_IN_FLIGHT_REQUESTS
    this.maxBufferedBytes = options.maxBufferedResponseBytes ?? MAX_KAFKA_BUFFERED_RESPONSE_BYTES
    this.shutdown = options.shutdown
    const address = socket.remoteAddress ?? '?'
    const remote = `${address.includes(':') ? `[${address}]` : address}:${socket.remotePort ?? '?'}`
    this.context = { id: options.id ?? 0, remote, signal: this.controller.signal }
    // Each long poll in flight listens on this connection's signal, and each connection on
    // the listener's: many listeners are the design, not a leak (Node warns past 10).
    setMaxListeners(0, this.controller.signal)
    if (this.shutdown?.aborted === true) this.controller.abort()
    else this.shutdown?.addEventListener('abort', this.onShutdown, { once: true })

    // Small responses go out at once: Kafka clients wait for each answer (Nagle would hold it).
    socket.setNoDelay(true)
    socket.on('data', (chunk: Buffer) => this.onData(chunk))
    socket.on('drain', () => this.guarded(() => this.pump()))
    // A reset or a broken pipe: 'close' follows, and the client has gone; nothing to tell.
    socket.on('error', () => undefined)
    socket.on('close', () => this.onClose())
    const maxIdleMs = options.maxIdleMs ?? KAFKA_CONNECTION_MAX_IDLE_MS
    if (maxIdleMs > 0) {
      socket.setTimeout(maxIdleMs)
      socket.on('timeout', () => {
        if (this.pending.length === 0) this.destroy()
      })
    }
  }

  /** Requests dispatched whose response is not written yet. */
  get inFlight(): number {
    return this.pending.length
  }

  /**
   * Stops taking requests (frames read and not yet dispatched are dropped: the client
   * sends them again when it reconnects), lets the dispatched ones finish and their
   * responses go out, then ends the connection. Resolves when the socket has closed and
   * no dispatch runs.
   */
  drain(): Promise<void> {
    if (this.state === 'open') {
      this.state = 'draining'
      this.dropUnframed()
      this.maybeEnd()
    }
    return this.finished()
  }

  /** Closes at once; responses not yet written are lost. `reason`: logged, one line. */
  destroy(reason?: string): void {
    if (reason !== undefined && this.state !== 'closed') this.logger.warn(`kafka listener: closing the connection from ${this.context.remote}: ${reason}`)
    this.state = 'closed'
    this.dropUnframed()
    this.controller.abort()
    this.socket.destroy()
  }

  /** Resolves once the socket has closed and every dispatch has settled. */
  finished(): Promise<void> {
    if (this.socketClosed && this.running === 0) return Promise.resolve()
    return new Promise((resolve) => this.finishWaiters.push(resolve))
  }

  private onData(chunk: Buffer): void {
    // While draining, reading goes on only to see the client's end of the connection.
    if (this.state !== 'open') return
    this.chunks.push(chunk)
    this.unframedBytes += chunk.length
    this.guarded(() => this.pump())
  }

  /** Runs `step`; anything it throws closes the connection instead of reaching the event loop. */
  private guarded(step: () => void): void {
    try {
      step()
    } catch (error) {
      this.destroy(messageOf(error))
    }
  }

  /** Dispatches every whole frame it may, then reads on or stops reading the socket. */
  private pump(): void {
    while (this.state === 'open' && this.mayTakeRequest()) {
      const frame = this.nextFrame()
      if (frame === null) break
      this.start(frame)
    }
    if (this.state !== 'open') return
    const pause = !this.mayTakeRequest()
    if (pause !== this.paused) {
      this.paused = pause
      if (pause) this.socket.pause()
      else this.socket.resume()
    }
  }

  private mayTakeRequest(): boolean {
    return this.pending.length < this.maxInFlight && this.heldBytes + this.socket.writableLength < this.maxBufferedBytes
  }

  /** The next whole frame without its size prefix, or null for none yet (or a bad size, which closes the connection). */
  private nextFrame(): Buffer | null {
    if (this.unframedBytes < SIZE_PREFIX_BYTES) return null
    if (this.chunks[0]!.length < SIZE_PREFIX_BYTES) this.chunks = [Buffer.concat(this.chunks)]
    const size = this.chunks[0]!.readInt32BE(0)
    if (size < 0 || size > this.maxRequestBytes) {
      this.destroy(`a request of ${size} bytes is ${size < 0 ? 'malformed (negative size)' : `over the limit of ${this.maxRequestBytes} bytes (socket.request.max.bytes)`}`)
      return null
    }
    if (this.unframedBytes < SIZE_PREFIX_BYTES + size) return null
    return this.take(SIZE_PREFIX_BYTES + size).subarray(SIZE_PREFIX_BYTES)
  }

  /** The first `count` unframed bytes: a view of the chunk when it holds them all, else one copy. */
  private take(count: number): Buffer {
    this.unframedBytes -= count
    const first = this.chunks[0]!
    if (first.length >= count) {
      if (first.length === count) this.chunks.shift()
      else this.chunks[0] = first.subarray(count)
      return first.subarray(0, count)
    }
    const out = Buffer.allocUnsafe(count)
    let at = 0
    while (at < count) {
      const chunk = this.chunks[0]!
      const part = Math.min(chunk.length, count - at)
      chunk.copy(out, at, 0, part)
      at += part
      if (part === chunk.length) this.chunks.shift()
      else this.chunks[0] = chunk.subarray(part)
    }
    return out
  }

  private dropUnframed(): void {
    this.chunks = []
    this.unframedBytes = 0
  }

  private start(frame: Buffer): void {
    let dispatched: Promise<ResponseFrames | null>
    try {
      dispatched = this.dispatch(frame, this.context)
    } catch (error) {
      this.destroy(messageOf(error)) // the frames after it are never dispatched
      return
    }
    const slot: Slot = { response: undefined, bytes: 0 }
    this.pending.push(slot)
    this.running++
    dispatched
      .then(
        (response) => {
          slot.response = response ?? null
          if (response) for (const buffer of response) slot.bytes += buffer.length
          this.heldBytes += slot.bytes
          this.guarded(() => this.writeReady())
        },
        (error: unknown) => this.destroy(messageOf(error)),
      )
      .finally(() => {
        this.running--
        this.checkFinished()
      })
  }

  /** Writes the responses at the head of the queue that are ready, in order, in one corked batch. */
  private writeReady(): void {
    if (this.state === 'closed') return
    let corked = false
    while (this.pending.length > 0 && this.pending[0]!.response !== undefined) {
      const { response, bytes } = this.pending.shift()!
      this.heldBytes -= bytes
      if (!response || response.length === 0) {
        response?.written?.()
        continue
      }
      if (!corked) this.socket.cork()
      corked = true
      const last = response.length - 1
      for (let i = 0; i < last; i++) this.socket.write(response[i]!)
      // Called once the bytes left for the kernel, or the write failed: either way they are done with.
      const written = response.written
      if (written === undefined) this.socket.write(response[last]!)
      else this.socket.write(response[last]!, () => written())
    }
    // One writev for all of them (the socket's _writev), without copying them together.
    if (corked) this.socket.uncork()
    if (this.state === 'open') this.pump()
    else this.maybeEnd()
  }

  /** Once draining has nothing left in flight: end our side, and read on (discarding) until the client closes its own. */
  private maybeEnd(): void {
    if (this.state !== 'draining' || this.pending.length > 0) return
    this.state = 'closed'
    this.socket.end()
    // Closing with unread input would reset the connection and could lose the responses
    // just written; the client closes when it sees our end (the listener's timeout bounds it).
    this.socket.resume()
  }

  private onClose(): void {
    this.state = 'closed'
    this.socketClosed = true
    this.dropUnframed()
    this.controller.abort()
    this.shutdown?.removeEventListener('abort', this.onShutdown)
    this.checkFinished()
  }

  private checkFinished(): void {
    if (!this.socketClosed || this.running > 0) return
    for (const resolve of this.finishWaiters.splice(0)) resolve()
  }
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error)
}
