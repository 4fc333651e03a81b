import { invalidArgument } from '../errors.js'
import type { RecordHeader } from '../record/types.js'

/** What an application may pass as a key, a value or a header value. */
export type Bytes = Buffer | Uint8Array | string

/** Headers as an object (one value a key) or as a list (keys may repeat, as in Kafka). */
export type HeadersInput = Record<string, Bytes | null> | ReadonlyArray<{ key: string; value: Bytes | null }>

/** To a Buffer without copying when the bytes already are one or a view of one. */
export function toBuffer(field: string, value: unknown): Buffer | null {
  if (value === null || value === undefined) return null
  if (Buffer.isBuffer(value)) return value
  if (typeof value === 'string') return Buffer.from(value, 'utf8')
  if (value instanceof Uint8Array) return Buffer.from(value.buffer, value.byteOffset, value.byteLength)
  throw invalidArgument(field, 'must be a Buffer, a Uint8Array, a string or null')
}

const NO_HEADERS: readonly RecordHeader[] = Object.freeze([])

export function toHeaders(field: string, headers: unknown): readonly RecordHeader[] {
  if (headers === undefined || headers === null) return NO_HEADERS
  if (Array.isArray(headers)) {
    return headers.map((header: unknown, i) => {
      const { key, value } = (header ?? {}) as { key?: unknown; value?: unknown }
      if (typeof key !== 'string') throw invalidArgument(`${field}[${i}].key`, 'must be a string')
      return { key, value: toBuffer(`${field}[${i}].value`, value) }
    })
  }
  if (typeof headers !== 'object') throw invalidArgument(field, 'must be an object or an array of { key, value }')
  return Object.entries(headers).map(([key, value]) => ({ key, value: toBuffer(`${field}.${key}`, value) }))
}

export { payloadBytes } from '../record/payload.js'
