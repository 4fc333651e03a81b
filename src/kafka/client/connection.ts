import net from 'node:net'
import { SpoolError } from '../../errors.js'
import type { ApiDefinition } from '../apis/index.js'
import { type DecodedBody, decodeResponse, encodeRequest } from '../protocol/frames.js'
import { type Address, hostPort } from './address.js'

/**
 * The largest response frame the client reads: a Fetch answer is bounded by the maxBytes
 * the client asks for (plus one batch, KIP-74), so anything past this is a peer that does
 * not speak Kafka (an HTTP server on that port), not an answer to wait for.
 */
export const MAX_RESPONSE_BYTES = 256 * 1024 * 1024
/** How long connecting may take before the command gives up: a listener on loopback answers in microseconds. */
export const CONNECT_TIMEOUT_MS = 10_000
const SIZE_PREFIX_BYTES = 4
/** The detail that marks a response the codec could not read (the request was answered, not lost). */
export const MALFORMED_RESPONSE = 'malformedResponse'
/** Kafka's correlation id is an int32; it wraps to 0 after this. */
const MAX_CORRELATION_ID = 0x7fffffff

interface Pending {
  api: ApiDefinition
  version: number
  resolve: (body: DecodedBody) => void
  reject: (error: unknown) => void
}

/** Why a connection failed, as the one line a command prints. */
export function connectionError(address: Address, cause: unknown, when: 'connecting' | 'talking'): SpoolError {
  const errno = (cause as NodeJS.ErrnoException | undefined)?.code
  const where = hostPort(address)
  const detail =
    errno === 'ECONNREFUSED'
      ? 'connection refused: nothing listens there'
      : errno === 'ETIMEDOUT'
        ? 'timed out'
        : errno === 'ENOTFOUND' || errno === 'EAI_AGAIN'
          ? 'no such host'
          : cause instanceof Error
            ? cause.message
            : String(cause)
  const message =
    when === 'connecting'
      ? `cannot reach a Kafka listener at ${where} (${detail}); start one (spool serve, or spool.listen() in the application) or check --bootstrap`
      : `the connection to the Kafka listener at ${where} failed (${detail}); what it had not answered may or may not have been done`
  return new SpoolError('LISTENER_UNREACHABLE', message, { cause, details: { host: address.host, port: address.port, errno } })
}

/**
 * One client connection: requests are written as they come (several in flight) and each
 * response is matched to its request by correlation id — a broker answers in request
 * order, but matching by id, not by position, catches a peer that does not. A failure of
 * the socket fails every request in flight with one error.
 */
export class ClientConnection {
  private readonly pending = new Map<number, Pending>()
  private nextCorrelationId = 1
  private buffered: Buffer[] = []
  private bufferedBytes = 0
  private failure: unknown = null
  private closed = false

  private constructor(
    private readonly socket: net.Socket,
    readonly address: Address,
    private readonly clientId: string,
  ) {
    socket.on('data', (chunk: Buffer) => this.receive(chunk))
    socket.on('error', (error) => this.fail(connectionError(address, error, 'talking')))
    socket.on('close', () => this.fail(connectionError(address, new Error('closed by the listener: it may have stopped'), 'talking')))
  }

  static connect(address: Address, clientId: string, timeoutMs = CONNECT_TIMEOUT_MS): Promise<ClientConnection> {
    return new Promise((resolve, reject) => {
      const socket = net.connect({ host: address.host, port: address.port })
      socket.setNoDelay(true)
      const timer = setTimeout(() => {
        socket.destroy()
        reject(connectionError(address, Object.assign(new Error('timed out'), { code: 'ETIMEDOUT' }), 'connecting'))
      }, timeoutMs)
      socket.once('error', (error) => {
        clearTimeout(timer)
        reject(connectionError(address, error, 'connecting'))
      })
      socket.once('connect', () => {
        clearTimeout(timer)
        socket.removeAllListeners('error')
        resolve(new ClientConnection(socket, address, clientId))
      })
    })
  }

  /** Sends a request at `version` and resolves with the decoded response body. */
  request(api: ApiDefinition, version: number, body: object): Promise<DecodedBody> {
    if (this.failure !== null) return Promise.reject(this.failure)
    const correlationId = this.takeCorrelationId()
    const frame = encodeRequest(api, version, { correlationId, clientId: this.clientId }, body)
    return new Promise((resolve, reject) => {
      this.pending.set(correlationId, { api, version, resolve, reject })
      for (const chunk of frame) this.socket.write(chunk)
    })
  }

  private takeCorrelationId(): number {
    const id = this.nextCorrelationId
    this.nextCorrelationId = id === MAX_CORRELATION_ID ? 0 : id + 1
    return id
  }

  /** Closes the socket; requests still in flight fail. */
  close(): void {
    if (this.closed) return
    this.closed = true
    this.fail(new SpoolError('CLOSED', `the connection to ${hostPort(this.address)} was closed`))
    this.socket.destroy()
  }

  private receive(chunk: Buffer): void {
    this.buffered.push(chunk)
    this.bufferedBytes += chunk.length
    while (this.bufferedBytes >= SIZE_PREFIX_BYTES) {
      const head = this.buffered.length === 1 ? this.buffered[0]! : this.joined()
      const size = head.readInt32BE(0)
      if (size < 0 || size > MAX_RESPONSE_BYTES) {
        this.protocolFailure(`a response frame of ${size} bytes (at most ${MAX_RESPONSE_BYTES} are read): is this a Kafka listener?`)
        return
      }
      if (this.bufferedBytes < SIZE_PREFIX_BYTES + size) return
      const all = this.joined()
      const frame = all.subarray(SIZE_PREFIX_BYTES, SIZE_PREFIX_BYTES + size)
      const rest = all.subarray(SIZE_PREFIX_BYTES + size)
      this.buffered = rest.length === 0 ? [] : [rest]
      this.bufferedBytes = rest.length
      this.dispatch(frame)
    }
  }

  private joined(): Buffer {
    if (this.buffered.length > 1) this.buffered = [Buffer.concat(this.buffered)]
    return this.buffered[0]!
  }

  private dispatch(frame: Buffer): void {
    if (frame.length < 4) {
      this.protocolFailure('a response frame too short to hold a correlation id')
      return
    }
    const correlationId = frame.readInt32BE(0)
    const pending = this.pending.get(correlationId)
    if (pending === undefined) {
      this.protocolFailure(`a response to correlation id ${correlationId}, which no request in flight has`)
      return
    }
    this.pending.delete(correlationId)
    try {
      pending.resolve(decodeResponse(pending.api, pending.version, frame).body)
    } catch (error) {
      pending.reject(
        new SpoolError(
          'IO_ERROR', `the Kafka listener at ${hostPort(this.address)} sent a ${pending.api.name} v${pending.version} response that does not parse: ${(error as Error).message}`, {
          cause: error,
          details: { api: pending.api.name, version: pending.version, [MALFORMED_RESPONSE]: true },
        }),
      )
    }
  }

  private protocolFailure(what: string): void {
    this.fail(new SpoolError('IO_ERROR', `the peer at ${hostPort(this.address)} sent ${what}`, { details: { host: this.address.host, port: this.address.port } }))
    this.socket.destroy()
  }

  private fail(error: unknown): void {
    if (this.failure === null) this.failure = error
    for (const pending of this.pending.values()) pending.reject(this.failure)
    this.pending.clear()
  }
}
