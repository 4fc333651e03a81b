import { describe, expect, it } from 'vitest'
import { API_KEYS, API_VERSIONS, APIS, METADATA, PRODUCE } from '../../src/kafka/apis/index.js'
import type { Broker } from '../../src/kafka/broker.js'
import type { Handler, RequestContext } from '../../src/kafka/handlers/handler.js'
import { HANDLERS } from '../../src/kafka/handlers/index.js'
import { KAFKA_ERRORS } from '../../src/kafka/protocol/error-codes.js'
import { decodeResponse, encodeRequest } from '../../src/kafka/protocol/frames.js'
import type { ConnectionContext } from '../../src/kafka/server/connection.js'
import { createDispatcher } from '../../src/kafka/server/dispatch.js'

/**
 * The request path with the real codec and fake handlers: what reaches a handler, what
 * comes back, and how what spool does not serve is answered (ApiVersions) or refused.
 */

const broker = { nodeId: 0 } as unknown as Broker
const advertised = { host: 'h', port: 1 }
const connection: ConnectionContext = { id: 1, remote: 'test', signal: new AbortController().signal }

/** A request frame as the connection hands it over: without its size prefix. */
function frameOf(chunks: Buffer[]): Buffer {
  return Buffer.concat(chunks).subarray(4)
}

function responseBody(api: typeof API_VERSIONS, version: number, chunks: Buffer[] | null, correlationId: number): Record<string, unknown> {
  expect(chunks).not.toBeNull()
  const whole = Buffer.concat(chunks!)
  expect(whole.readInt32BE(0)).toBe(whole.length - 4)
  const decoded = decodeResponse(api, version, whole.subarray(4))
  expect(decoded.correlationId).toBe(correlationId)
  return decoded.body as Record<string, unknown>
}

/** An ApiVersions request in a version the codec does not encode (past what spool serves): header v2, as librdkafka sends v3+. */
function apiVersionsBeyond(version: number, correlationId: number): Buffer {
  const clientId = Buffer.from('rdkafka')
  const head = Buffer.alloc(8)
  head.writeInt16BE(API_KEYS.ApiVersions, 0)
  head.writeInt16BE(version, 2)
  head.writeInt32BE(correlationId, 4)
  const idLength = Buffer.alloc(2)
  idLength.writeInt16BE(clientId.length)
  // tagged fields (0), then a body this test does not bother to make valid
  return Buffer.concat([head, idLength, clientId, Buffer.from([0]), Buffer.from([0x08, 0x01, 0x02])])
}

describe('createDispatcher', () => {
  it('decodes the request, calls its handler with the context, and encodes the answer in the same version', async () => {
    const seen: Array<{ body: unknown; context: RequestContext }> = []
    const metadata: Handler = async (body, context) => {
      seen.push({ body, context })
      return { brokers: [{ nodeId: 0, host: context.advertised.host, port: context.advertised.port }], topics: [] }
    }
    const dispatch = createDispatcher({ broker, advertised, handlers: new Map([[API_KEYS.Metadata, metadata]]) })
    const frame = frameOf(encodeRequest(METADATA, 1, { correlationId: 77, clientId: 'tester' }, { topics: null }))
    const body = responseBody(METADATA, 1, await dispatch(frame, connection), 77)
    expect(body['brokers']).toEqual([expect.objectContaining({ nodeId: 0, host: 'h', port: 1 })])
    expect(seen).toHaveLength(1)
    expect(seen[0]!.body).toEqual({ topics: null })
    expect(seen[0]!.context).toEqual({ apiVersion: 1, clientId: 'tester', broker, advertised, signal: connection.signal, afterResponse: expect.any(Function) })
  })

  it('runs what a handler left for after its response once the frames are written, or at once when there is none', async () => {
    const ran: string[] = []
    const metadata: Handler = async (_body, context) => {
      context.afterResponse(() => ran.push('metadata'))
      return { brokers: [], topics: [] }
    }
    const produce: Handler = async (_body, context) => {
      context.afterResponse(() => ran.push('produce'))
      return null
    }
    const dispatch = createDispatcher({ broker, advertised, handlers: new Map([[API_KEYS.Metadata, metadata], [API_KEYS.Produce, produce]]) })
    const frames = await dispatch(frameOf(encodeRequest(METADATA, 1, { correlationId: 1, clientId: null }, { topics: null })), connection)
    expect(ran).toEqual([])
    frames!.written!()
    expect(ran).toEqual(['metadata'])
    const acks0 = frameOf(encodeRequest(PRODUCE, 3, { correlationId: 2, clientId: null }, { transactionalId: null, acks: 0, timeoutMs: 1000, topicData: [] }))
    expect(await dispatch(acks0, connection)).toBeNull()
    expect(ran).toEqual(['metadata', 'produce'])
  })

  it('writes nothing when the handler answers null (Produce with acks 0)', async () => {
    const dispatch = createDispatcher({ broker, advertised, handlers: new Map<number, Handler>([[API_KEYS.Produce, async () => null]]) })
    const frame = frameOf(encodeRequest(PRODUCE, 8, { correlationId: 1, clientId: null }, { transactionalId: null, acks: 0, timeoutMs: 1000, topicData: [] }))
    expect(await dispatch(frame, connection)).toBeNull()
  })

  it.each([4, 5, 127])('answers ApiVersions v%i (not served) in version 0 with UNSUPPORTED_VERSION and the list of what is served', async (version) => {
    const dispatch = createDispatcher({ broker, advertised })
    const body = responseBody(API_VERSIONS, 0, await dispatch(apiVersionsBeyond(version, 42), connection), 42)
    expect(body['errorCode']).toBe(KAFKA_ERRORS.UNSUPPORTED_VERSION)
    expect(KAFKA_ERRORS.UNSUPPORTED_VERSION).toBe(35)
    const listed = body['apiKeys'] as Array<{ apiKey: number; minVersion: number; maxVersion: number }>
    expect(listed).toContainEqual({ apiKey: API_KEYS.ApiVersions, minVersion: 0, maxVersion: API_VERSIONS.maxVersion })
    expect(listed).toContainEqual({ apiKey: API_KEYS.Produce, minVersion: 0, maxVersion: 8 })
    expect(listed).toContainEqual({ apiKey: API_KEYS.Fetch, minVersion: 4, maxVersion: 11 })
    expect(listed.map((entry) => entry.apiKey).sort((a, b) => a - b)).toEqual([...APIS.keys()].sort((a, b) => a - b))
  })

  it('serves ApiVersions v0–3 through its handler, with the same list', async () => {
    const dispatch = createDispatcher({ broker, advertised })
    for (let version = 0; version <= 3; version++) {
      const body = version < 3 ? {} : { clientSoftwareName: 'spool-test', clientSoftwareVersion: '1.0' }
      const frame = frameOf(encodeRequest(API_VERSIONS, version, { correlationId: version, clientId: 'c' }, body))
      const answer = responseBody(API_VERSIONS, version, await dispatch(frame, connection), version)
      expect(answer['errorCode']).toBe(0)
      expect((answer['apiKeys'] as unknown[]).length).toBe(APIS.size)
    }
  })

  it('refuses, by throwing at once (the connection closes with that line before it reads on), an unknown API, an unsupported version and a short frame', async () => {
    const dispatch = createDispatcher({ broker, advertised })
    const unknown = apiVersionsBeyond(0, 1)
    unknown.writeInt16BE(11, 0) // JoinGroup: not served yet
    expect(() => dispatch(unknown, connection)).toThrow('unknown API key 11 (version 0): not served')
    const old = frameOf(encodeRequest(PRODUCE, 3, { correlationId: 1, clientId: null }, { transactionalId: null, acks: 1, timeoutMs: 1000, topicData: [] }))
    old.writeInt16BE(2, 2) // Produce v2: before message format v2
    expect(() => dispatch(old, connection)).toThrow('Produce version 2 is not supported (versions 3–8 are)')
    expect(() => dispatch(Buffer.alloc(5), connection)).toThrow('malformed request: 5 bytes, too short for a request header')
  })

  it('refuses a malformed body, naming the API and the client, without calling the handler', async () => {
    let called = false
    const dispatch = createDispatcher({ broker, advertised, handlers: new Map<number, Handler>([[API_KEYS.Metadata, async () => ((called = true), {})]]) })
    const frame = frameOf(encodeRequest(METADATA, 1, { correlationId: 1, clientId: 'fuzzer' }, { topics: [{ name: 'a' }] }))
    expect(() => dispatch(frame.subarray(0, frame.length - 1), connection)).toThrow(/^malformed Metadata v1 request from client "fuzzer": /)
    expect(() => dispatch(Buffer.concat([frame, Buffer.from([1])]), connection)).toThrow(/^malformed Metadata v1 request/)
    expect(called).toBe(false)
  })

  it("passes a handler's failure on with the API named (the connection closes with that one line)", async () => {
    const dispatch = createDispatcher({ broker, advertised, handlers: new Map<number, Handler>([[API_KEYS.Metadata, async () => Promise.reject(new Error('disk gone'))]]) })
    const frame = frameOf(encodeRequest(METADATA, 4, { correlationId: 1, clientId: 'app' }, { topics: null, allowAutoTopicCreation: false }))
    await expect(dispatch(frame, connection)).rejects.toThrow('Metadata v4 from client "app" failed: disk gone')
    const throwing = createDispatcher({ broker, advertised, handlers: new Map<number, Handler>([[API_KEYS.Metadata, () => { throw new Error('sync') }]]) })
    await expect(throwing(frame, connection)).rejects.toThrow('Metadata v4 from client "app" failed: sync')
  })

  it('uses the handler table of src/kafka/handlers by default: every API of the table has a handler', () => {
    expect([...HANDLERS.keys()].sort((a, b) => a - b)).toEqual([...APIS.keys()].sort((a, b) => a - b))
  })
})
