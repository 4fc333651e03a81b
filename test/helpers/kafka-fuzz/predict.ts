import { API_KEYS, APIS, API_VERSIONS, type ApiDefinition } from '../../../src/kafka/apis/index.js'
import { HANDLERS } from '../../../src/kafka/handlers/index.js'
import { type DecodedBody, decodeRequestBody, decodeRequestHeader, isProtocolError } from '../../../src/kafka/protocol/frames.js'

/**
 * What the listener must do with a byte stream, frame by frame, as the dispatcher's rules
 * say (src/kafka/server/dispatch.ts, connection.ts): the fuzz cuts the stream it sent into
 * frames itself and decodes each with the codec, so it knows which answer each frame
 * earns — a response of a given API and version, none (Produce acks 0), the ApiVersions
 * error answer, or a closed connection — before it looks at what came back.
 */
export type Expectation =
  | { kind: 'respond'; api: ApiDefinition; version: number; correlationId: number; body: DecodedBody; frame: Buffer }
  | { kind: 'silent'; api: ApiDefinition; version: number; correlationId: number; body: DecodedBody; frame: Buffer }
  /** ApiVersions of a version not served: answered in v0 with UNSUPPORTED_VERSION. */
  | { kind: 'versions-error'; api: ApiDefinition; version: 0; correlationId: number; frame: Buffer }
  | { kind: 'close'; why: string; frame: Buffer | null }

export interface StreamPrediction {
  /** One per frame the listener reads, up to and including the first that closes the connection. */
  frames: Expectation[]
  /** Bytes after the last whole frame that the listener waits on (a frame not complete yet). */
  incompleteTail: number
  /**
   * Whole frames after the one that closes the connection. Kafka never acts on them (it
   * reads a connection's next request only after answering the last); they must change
   * nothing, unless the run is told the listener may act on them (FuzzOptions.afterClose).
   */
  afterClose: Expectation[]
}

const HEADER_PREFIX_BYTES = 8

export function predictStream(stream: Buffer, maxRequestBytes: number): StreamPrediction {
  const frames: Expectation[] = []
  const afterClose: Expectation[] = []
  let closed = false
  let at = 0
  while (stream.length - at >= 4) {
    const size = stream.readInt32BE(at)
    if (size < 0 || size > maxRequestBytes) {
      if (!closed) frames.push({ kind: 'close', why: `frame size ${size}`, frame: null })
      return { frames, incompleteTail: 0, afterClose }
    }
    if (stream.length - at - 4 < size) break
    const frame = stream.subarray(at + 4, at + 4 + size)
    at += 4 + size
    const expectation = predictFrame(frame)
    if (closed) afterClose.push(expectation)
    else frames.push(expectation)
    closed ||= expectation.kind === 'close'
  }
  return { frames, incompleteTail: closed ? 0 : stream.length - at, afterClose }
}

export function predictFrame(frame: Buffer): Expectation {
  if (frame.length < HEADER_PREFIX_BYTES) return { kind: 'close', why: 'shorter than a header', frame }
  const apiKey = frame.readInt16BE(0)
  const version = frame.readInt16BE(2)
  const correlationId = frame.readInt32BE(4)
  const api = APIS.get(apiKey)
  if (api === undefined || !HANDLERS.has(apiKey)) return { kind: 'close', why: `unknown API ${apiKey}`, frame }
  if (version < api.minVersion || version > api.maxVersion) {
    if (apiKey === API_KEYS.ApiVersions) return { kind: 'versions-error', api: API_VERSIONS, version: 0, correlationId, frame }
    return { kind: 'close', why: `${api.name} v${version} not served`, frame }
  }
  let body: DecodedBody
  try {
    const { bodyOffset } = decodeRequestHeader(frame)
    body = decodeRequestBody(api, version, frame, bodyOffset)
  } catch (error) {
    // Anything but a ProtocolError is the decoder failing on its input: a bug, though the listener survives it.
    const bug = isProtocolError(error) ? '' : `DECODER BUG (${(error as Error)?.constructor?.name}): `
    return { kind: 'close', why: `${bug}${(error as Error).message}`, frame }
  }
  const silent = apiKey === API_KEYS.Produce && body.acks === 0
  return { kind: silent ? 'silent' : 'respond', api, version, correlationId, body, frame }
}
