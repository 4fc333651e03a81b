/**
 * Whole frames: the 4-byte size, the header, and the body an API's schema describes.
 *
 *   Request  => Size:INT32 Header Body
 *   Request header v1 => api_key:INT16 api_version:INT16 correlation_id:INT32 client_id:NULLABLE_STRING
 *   Request header v2 => v1 + TAGGED_FIELDS      (flexible versions of the API)
 *   Response => Size:INT32 Header Body
 *   Response header v0 => correlation_id:INT32
 *   Response header v1 => correlation_id:INT32 TAGGED_FIELDS   (flexible versions)
 *
 * The client id stays a classic NULLABLE_STRING even in header v2, so that any broker can
 * read who sent a request it cannot parse. ApiVersions' response header is always v0: a
 * client that sent a version the broker does not know must still be able to read the
 * answer (KIP-511).
 *
 * `frame` is always the bytes after the size prefix (what the connection cuts out of the
 * stream); encoders return chunks with the size prefix first, ready for a vectored write.
 */
import { API_KEYS, APIS, type ApiDefinition } from '../apis/index.js'
import { decodeMessage, encodeMessage, type Body } from './codec.js'
import { ProtocolError } from './protocol-error.js'
import { Reader } from './reader.js'
import { Writer } from './writer.js'

export { ProtocolError, isProtocolError } from './protocol-error.js'

export interface RequestHeader {
  apiKey: number
  apiVersion: number
  correlationId: number
  clientId: string | null
}

// Decoded bodies are described by the API's schema (src/kafka/apis/*), not TypeScript types.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type DecodedBody = any

/** Request header v2 for the API's flexible versions, else v1. */
export function requestHeaderVersion(api: ApiDefinition, version: number): 1 | 2 {
  return version >= api.firstFlexibleVersion ? 2 : 1
}

/** Response header v1 for the API's flexible versions, else v0; ApiVersions always v0. */
export function responseHeaderVersion(api: ApiDefinition, version: number): 0 | 1 {
  return api.key !== API_KEYS.ApiVersions && version >= api.firstFlexibleVersion ? 1 : 0
}

/**
 * Reads a request header. Its version comes from the API table: for an API spool does not
 * know, the header is read as v1 (the dispatcher refuses the request anyway, and a v2
 * header's tagged fields would only follow the client id). Throws ProtocolError.
 */
export function decodeRequestHeader(frame: Buffer, apis: ReadonlyMap<number, ApiDefinition> = APIS): { header: RequestHeader; bodyOffset: number } {
  const reader = new Reader(frame)
  try {
    const apiKey = reader.int16()
    const apiVersion = reader.int16()
    const correlationId = reader.int32()
    const clientId = reader.nullableString()
    const api = apis.get(apiKey)
    if (api !== undefined && requestHeaderVersion(api, apiVersion) === 2) reader.taggedFields(() => false) // no header tags are defined for requests
    return { header: { apiKey, apiVersion, correlationId, clientId }, bodyOffset: reader.offset }
  } catch (error) {
    if (error instanceof ProtocolError) error.message = `request header: ${error.message}`
    throw error
  }
}

/**
 * Decodes a request body at `offset` of `frame`. Every byte of the frame must belong to
 * the body: bytes left over mean the sender and spool disagree about the schema.
 * Records and bytes fields are views of `frame`.
 */
export function decodeRequestBody(api: ApiDefinition, version: number, frame: Buffer, offset: number): DecodedBody {
  checkServed(api, version)
  const reader = new Reader(frame, offset)
  const body = decodeMessage(api.request, version, reader)
  checkConsumed(reader, `${api.request.name} v${version}`)
  return body
}

/** A response frame: size, header (v0 or v1), body. Absent fields take their defaults. */
export function encodeResponse(api: ApiDefinition, version: number, correlationId: number, body: object): Buffer[] {
  const writer = new Writer({ sizePrefixed: true })
  writer.int32(correlationId)
  if (responseHeaderVersion(api, version) === 1) writer.uvarint(0) // no header tagged fields
  encodeMessage(api.response, version, body as Body, writer)
  return writer.finish()
}

/** A request frame, for spool's own client and for tests. */
export function encodeRequest(api: ApiDefinition, version: number, header: Pick<RequestHeader, 'correlationId' | 'clientId'>, body: object): Buffer[] {
  checkServed(api, version)
  const writer = new Writer({ sizePrefixed: true })
  writer.int16(api.key).int16(version).int32(header.correlationId).nullableString(header.clientId)
  if (requestHeaderVersion(api, version) === 2) writer.uvarint(0)
  encodeMessage(api.request, version, body as Body, writer)
  return writer.finish()
}

/** Reads a response frame (after its size prefix) of a request sent at `version`. Throws ProtocolError. */
export function decodeResponse(api: ApiDefinition, version: number, frame: Buffer): { correlationId: number; body: DecodedBody } {
  const reader = new Reader(frame)
  const correlationId = reader.int32()
  if (responseHeaderVersion(api, version) === 1) reader.taggedFields(() => false)
  const body = decodeMessage(api.response, version, reader)
  checkConsumed(reader, `${api.response.name} v${version}`)
  return { correlationId, body }
}

function checkServed(api: ApiDefinition, version: number): void {
  if (!Number.isInteger(version) || version < api.minVersion || version > api.maxVersion) {
    throw new ProtocolError(`${api.name} version ${version} is not served (versions ${api.minVersion}-${api.maxVersion} are)`)
  }
}

function checkConsumed(reader: Reader, what: string): void {
  if (reader.remaining !== 0) throw new ProtocolError(`${what}: ${reader.remaining} bytes after the end of the body`)
}
