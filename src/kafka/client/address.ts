import { invalidArgument } from '../../errors.js'

/** Where a Kafka listener is. */
export interface Address {
  readonly host: string
  readonly port: number
}

/** `host:port`, with an IPv6 address in brackets (`[::1]:9092`), as Kafka's bootstrap.servers writes it. */
export function hostPort(address: Address): string {
  return address.host.includes(':') ? `[${address.host}]:${address.port}` : `${address.host}:${address.port}`
}

const BRACKETED = /^\[([^\]]+)\]:(\d+)$/
const PLAIN = /^([^:[\]\s]+):(\d+)$/

/** Parses `host:port` or `[ipv6]:port`; INVALID_ARGUMENT naming `field` otherwise. */
export function parseAddress(text: string, field = '--bootstrap'): Address {
  const match = BRACKETED.exec(text) ?? PLAIN.exec(text)
  const port = match === null ? NaN : Number(match[2])
  if (match === null || !Number.isInteger(port) || port < 1 || port > 65_535) {
    throw invalidArgument(field, `must be host:port (127.0.0.1:9092, [::1]:9092), not "${text}"`)
  }
  return { host: match[1]!, port }
}
