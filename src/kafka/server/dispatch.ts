import type { Broker } from '../broker.js'
import { API_KEYS, APIS, type ApiDefinition } from '../apis/index.js'
import type { Handler } from '../handlers/handler.js'
import { HANDLERS } from '../handlers/index.js'
import { servedApiVersions } from '../handlers/api-versions.js'
import { KAFKA_ERRORS } from '../protocol/error-codes.js'
import { decodeRequestBody, decodeRequestHeader, encodeResponse } from '../protocol/frames.js'
import { ProtocolError } from '../protocol/protocol-error.js'
import type { Dispatch, ResponseFrames } from './connection.js'

export interface DispatcherOptions {
  readonly broker: Broker
  /** Where clients reach this broker (Metadata's answer). */
  readonly advertised: { readonly host: string; readonly port: number }
  /** The API table; APIS unless a test passes its own. */
  readonly apis?: ReadonlyMap<number, ApiDefinition>
  /** The handler table; HANDLERS unless a test passes its own. */
  readonly handlers?: ReadonlyMap<number, Handler>
}

/**
 * Every request header version (v0–v2) starts with apiKey (int16), apiVersion (int16) and
 * correlationId (int32). The dispatcher reads these itself: which header version the rest
 * is in depends on the API and version, and an unsupported version still needs its
 * correlation id for the ApiVersions error answer.
 */
const HEADER_PREFIX_BYTES = 8

/**
 * The request path: header → API → version check → body → handler → response frame.
 *
 * What Kafka does with what it does not serve, so that clients react as they do with Kafka:
 * an ApiVersions request of a version not served is answered in version 0 with
 * UNSUPPORTED_VERSION and the full list (librdkafka first sends v3 and retries with what
 * the list offers); any other unknown API or version, and a malformed request, throw at
 * once — the connection closes with that one log line, before it dispatches anything the
 * client sent after. A handler's failure (a rejection) closes it too.
 */
export function createDispatcher(options: DispatcherOptions): Dispatch {
  const apis = options.apis ?? APIS
  const handlers = options.handlers ?? HANDLERS
  const { broker, advertised } = options
  // The list ApiVersions answers with (handlers/api-versions.ts), or the injected table's.
  const served = options.apis === undefined ? servedApiVersions() : servedVersions(apis)
  // Not an async function: everything up to the handler call throws synchronously, so that
  // the connection closes before it dispatches the frames read after a bad one.
  return (frame, connection) => {
    if (frame.length < HEADER_PREFIX_BYTES) throw new Error(`malformed request: ${frame.length} bytes, too short for a request header`)
    const apiKey = frame.readInt16BE(0)
    const apiVersion = frame.readInt16BE(2)
    const correlationId = frame.readInt32BE(4)
    const api = apis.get(apiKey)
    const handler = handlers.get(apiKey)
    if (api === undefined || handler === undefined) throw new Error(`unknown API key ${apiKey} (version ${apiVersion}): not served`)
    if (apiVersion < api.minVersion || apiVersion > api.maxVersion) {
      if (apiKey === API_KEYS.ApiVersions) return Promise.resolve(encodeResponse(api, 0, correlationId, { errorCode: KAFKA_ERRORS.UNSUPPORTED_VERSION, apiKeys: served }))
      throw new Error(`${api.name} version ${apiVersion} is not supported (versions ${api.minVersion}–${api.maxVersion} are)`)
    }
    let clientId: string | null = null
    let body: unknown
    try {
      const { header, bodyOffset } = decodeRequestHeader(frame, apis)
      clientId = header.clientId
      body = decodeRequestBody(api, apiVersion, frame, bodyOffset)
    } catch (error) {
      // Anything else from the decoder is a bug in it, but the input caused it: the same answer.
      const what = error instanceof ProtocolError ? 'malformed' : 'undecodable'
      throw new Error(`${what} ${api.name} v${apiVersion} request${fromClient(clientId)}: ${messageOf(error)}`, { cause: error })
    }
    const failed = (error: unknown): never => {
      throw new Error(`${api.name} v${apiVersion}${fromClient(clientId)} failed: ${messageOf(error)}`, { cause: error })
    }
    const afterWrite: Array<() => void> = []
    const written = (): void => {
      for (const task of afterWrite.splice(0)) task()
    }
    let handled: Promise<object | null>
    try {
      handled = handler(body, { apiVersion, clientId, broker, advertised, signal: connection.signal, afterResponse: (task) => afterWrite.push(task) })
    } catch (error) {
      handled = Promise.reject(error)
    }
    return handled
      .then((response): ResponseFrames | null => {
        if (response === null) {
          written()
          return null
        }
        const frames: ResponseFrames = encodeResponse(api, apiVersion, correlationId, response)
        if (afterWrite.length > 0) frames.written = written
        return frames
      })
      .catch(failed)
  }
}

/** ApiVersions' list for a table a test passes: every API, with the versions served. */
function servedVersions(apis: ReadonlyMap<number, ApiDefinition>): Array<{ apiKey: number; minVersion: number; maxVersion: number }> {
  return [...apis.values()]
    .sort((a, b) => a.key - b.key)
    .map((api) => ({ apiKey: api.key, minVersion: api.minVersion, maxVersion: api.maxVersion }))
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error)
}

function fromClient(clientId: string | null): string {
  return clientId === null ? '' : ` from client ${JSON.stringify(clientId)}`
}
