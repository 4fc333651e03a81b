import { setMaxListeners } from 'node:events'
import net from 'node:net'
import { SpoolError, invalidArgument } from '../../errors.js'
import { DEFAULT_KAFKA_MAX_CONNECTIONS, KAFKA_LISTENER_CLOSE_TIMEOUT_MS } from '../../limits.js'
import type { StorageIO } from '../../storage/io.js'
import type { Logger } from '../../storage/logger.js'
import { integerIn } from '../../validate.js'
import { hostPort } from '../client/address.js'
import { type ConnectionOptions, type Dispatch, KafkaConnection } from './connection.js'
import { removeListenerFile, writeListenerFile } from '../../storage/listener-file.js'

/** Kafka's port. */
export const DEFAULT_KAFKA_PORT = 9092
/** Loopback only, until the listener has authentication. */
export const DEFAULT_KAFKA_HOST = '127.0.0.1'

export interface ListenOptions {
  /** The address to bind; 127.0.0.1 by default. Any other is reachable from other machines, and logs a warning (no authentication yet). */
  readonly host?: string
  /** 9092 by default; 0 picks a free port (the one bound is returned). */
  readonly port?: number
  /** The host clients are told to connect to (Metadata); the bound address by default. Needed when binding a wildcard (0.0.0.0, ::). */
  readonly advertisedHost?: string
  readonly maxConnections?: number
}

export interface BoundAddress {
  readonly host: string
  readonly port: number
}

export interface ListenerDeps {
  /** Where listener.json goes. */
  readonly dataDir: string
  readonly io: StorageIO
  readonly logger: Logger
  /** Makes the request path once the address is known (Metadata advertises it). */
  readonly dispatcher: (advertised: BoundAddress) => Dispatch
  /** Per-connection bounds; the limits.ts defaults unless a test passes smaller ones. */
  readonly connection?: Omit<ConnectionOptions, 'logger' | 'shutdown' | 'id'>
  /** How long close() lets connections finish before destroying them. */
  readonly closeTimeoutMs?: number
}

/**
 * The Kafka listener: a TCP server whose connections each run a stream of requests
 * (connection.ts) through one dispatch. It bounds the number of connections, says where it
 * is in listener.json while it runs, and closes gracefully: no new connection or request
 * is taken, long polls are cut short, requests in flight finish and their responses go
 * out, then the sockets close.
 */
export class KafkaListener {
  private server: net.Server | null = null
  private bound: BoundAddress | null = null
  private readonly connections = new Set<KafkaConnection>()
  private readonly shutdown = new AbortController()
  private starting: Promise<BoundAddress> | null = null
  private closing: Promise<void> | null = null
  private nextConnectionId = 1

  constructor(private readonly deps: ListenerDeps) {
    // Every connection listens for the shutdown: as many listeners as connections, by design.
    setMaxListeners(0, this.shutdown.signal)
  }

  /** The bound address; null before start() resolves and after close(). */
  get address(): BoundAddress | null {
    return this.closing === null ? this.bound : null
  }

  /** Connections open now. */
  get connectionCount(): number {
    return this.connections.size
  }

  start(options: ListenOptions = {}): Promise<BoundAddress> {
    if (this.starting !== null) return Promise.reject(invalidArgument('listen', 'was called already: a spool has one listener'))
    this.starting = this.bind(options)
    return this.starting
  }

  private async bind(options: ListenOptions): Promise<BoundAddress> {
    const host = options.host ?? DEFAULT_KAFKA_HOST
    if (typeof host !== 'string' || host === '') throw invalidArgument('host', 'must be an address or host name to listen on')
    const port = integerIn('port', options.port ?? DEFAULT_KAFKA_PORT, 0, 65_535)
    const maxConnections = integerIn('maxConnections', options.maxConnections ?? DEFAULT_KAFKA_MAX_CONNECTIONS, 1)
    const given = options.advertisedHost
    if (given !== undefined && (typeof given !== 'string' || given === '')) throw invalidArgument('advertisedHost', 'must be a host name or address')
    if (given === undefined && isWildcard(host)) {
      // Kafka refuses to advertise 0.0.0.0 too: clients would be told to connect to "anywhere".
      throw invalidArgument('advertisedHost', `is needed when listening on every address (${host}): it is the name clients are told to connect to`)
    }

    const server = net.createServer((socket) => this.accept(socket, maxConnections))
    this.server = server
    try {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject)
        server.listen({ host, port }, () => {
          server.off('error', reject)
          resolve()
        })
      })
    } catch (error) {
      this.server = null
      const errno = (error as NodeJS.ErrnoException).code
      const hint = errno === 'EADDRINUSE' ? ': the port is in use; stop what uses it or choose another port' : errno === 'EACCES' ? ': not allowed (ports below 1024 need privileges)' : ''
      throw new SpoolError('IO_ERROR', `cannot listen on ${host}:${port} (${errno ?? String(error)})${hint}`, { cause: error, details: { host, port, errno } })
    }
    // After listening, a failed accept (EMFILE) is reported here rather than thrown.
    server.on('error', (error) => this.deps.logger.warn(`kafka listener: ${error.message}`))
    const address = server.address() as net.AddressInfo
    this.bound = { host: address.address, port: address.port }
    if (!isLoopback(address.address)) {
      this.deps.logger.warn(
        `kafka listener: listening on ${hostPort(this.bound)}, reachable from other machines; it has no authentication yet: anyone who can connect can read, write and delete every topic`,
      )
    }
    const advertised = { host: given ?? address.address, port: address.port }
    this.dispatch = this.deps.dispatcher(advertised)
    try {
      await writeListenerFile(this.deps.io, this.deps.dataDir, { host: address.address, port: address.port, advertisedHost: advertised.host, pid: process.pid })
    } catch (error) {
      await this.teardown()
      throw error
    }
    if (this.closing !== null) throw new SpoolError('CLOSED', 'the Kafka listener was closed while it started')
    return this.bound
  }

  private dispatch: Dispatch = () => Promise.reject(new Error('the listener is not started'))

  private accept(socket: net.Socket, maxConnections: number): void {
    socket.on('error', () => undefined) // until the connection takes over: a reset must not become an uncaught error
    if (this.closing !== null) {
      socket.destroy()
      return
    }
    if (this.connections.size >= maxConnections) {
      this.deps.logger.warn(`kafka listener: refusing the connection from ${socket.remoteAddress ?? '?'}:${socket.remotePort ?? '?'}: ${maxConnections} connections are open, the limit`)
      socket.destroy()
      return
    }
    const connection = new KafkaConnection(socket, this.dispatch, {
      ...this.deps.connection,
      logger: this.deps.logger,
      shutdown: this.shutdown.signal,
      id: this.nextConnectionId++,
    })
    this.connections.add(connection)
    void connection.finished().then(() => this.connections.delete(connection))
  }

  /**
   * Stops accepting connections and removes listener.json, cuts long polls short (the
   * RequestContext signal), lets every request in flight finish and its response go out,
   * then closes the connections; after closeTimeoutMs, sockets still open (a client that
   * does not read) are destroyed. Resolves once no request runs any more.
   */
  close(): Promise<void> {
    this.closing ??= (async () => {
      await this.starting?.catch(() => undefined)
      await this.teardown()
    })()
    return this.closing
  }

  private tearingDown: Promise<void> | null = null

  private teardown(): Promise<void> {
    this.tearingDown ??= (async () => {
      const server = this.server
      if (server === null) return
      const serverClosed = new Promise<void>((resolve) => server.close(() => resolve()))
      this.shutdown.abort()
      const removed = this.bound === null ? Promise.resolve() : removeListenerFile(this.deps.io, this.deps.dataDir).catch((error: unknown) => this.deps.logger.warn(`kafka listener: ${(error as Error).message}`))
      const connections = [...this.connections]
      const timer = setTimeout(() => {
        for (const connection of connections) connection.destroy()
      }, this.deps.closeTimeoutMs ?? KAFKA_LISTENER_CLOSE_TIMEOUT_MS)
      try {
        await Promise.all(connections.map((connection) => connection.drain()))
      } finally {
        clearTimeout(timer)
      }
      await removed
      await serverClosed
    })()
    return this.tearingDown
  }
}

function isWildcard(host: string): boolean {
  return host === '0.0.0.0' || host === '::' || host === '[::]'
}

/** 127.0.0.0/8 and ::1, also as IPv4-mapped IPv6. */
function isLoopback(address: string): boolean {
  const v4 = address.startsWith('::ffff:') ? address.slice('::ffff:'.length) : address
  return v4.startsWith('127.') || address === '::1'
}
