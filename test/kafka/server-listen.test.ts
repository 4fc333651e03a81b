import fs from 'node:fs'
import net from 'node:net'
import path from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import type { Spool } from '../../src/client/spool.js'
import { API_VERSIONS, FETCH, METADATA, type ApiDefinition } from '../../src/kafka/apis/index.js'
import { decodeResponse, encodeRequest } from '../../src/kafka/protocol/frames.js'
import { expectCode } from '../helpers/expect-code.js'
import { openTestSpool } from '../helpers/open-spool.js'
import { tempDir } from '../helpers/temp-dir.js'

/**
 * spool.listen(): the listener of an embedded spool, reached over a real socket with the
 * codec; one per spool; closed first by spool.close(), which lets requests in flight finish.
 */

const spools: Spool[] = []
const sockets: net.Socket[] = []
afterEach(async () => {
  for (const socket of sockets.splice(0)) socket.destroy()
  await Promise.all(spools.splice(0).map((spool) => spool.close()))
})

async function open(dir = tempDir('spool-listen-')): Promise<{ spool: Spool; dir: string }> {
  const spool = await openTestSpool(dir, { cleanerIntervalMs: 0 })
  spools.push(spool)
  return { spool, dir }
}

/** A raw Kafka connection: sends a request, resolves with the decoded body of its response. */
async function rawClient(port: number): Promise<{ send: (api: ApiDefinition, version: number, body: object) => Promise<Record<string, unknown>>; closed: Promise<void> }> {
  const socket = net.connect(port, '127.0.0.1')
  sockets.push(socket)
  await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject))
  const waiting: Array<(frame: Buffer) => void> = []
  let pending = Buffer.alloc(0)
  socket.on('data', (chunk: Buffer) => {
    pending = Buffer.concat([pending, chunk])
    while (pending.length >= 4 && pending.length >= 4 + pending.readInt32BE(0)) {
      const size = pending.readInt32BE(0)
      waiting.shift()!(pending.subarray(4, 4 + size))
      pending = pending.subarray(4 + size)
    }
  })
  socket.on('error', () => undefined)
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()))
  let correlationId = 0
  const send = async (api: ApiDefinition, version: number, body: object): Promise<Record<string, unknown>> => {
    const id = ++correlationId
    const frame = new Promise<Buffer>((resolve) => waiting.push(resolve))
    for (const chunk of encodeRequest(api, version, { correlationId: id, clientId: 'test' }, body)) socket.write(chunk)
    const decoded = decodeResponse(api, version, await frame)
    expect(decoded.correlationId).toBe(id)
    return decoded.body as Record<string, unknown>
  }
  return { send, closed }
}

describe('spool.listen()', () => {
  it('serves the spool over the Kafka protocol on the address it returns, and says where in listener.json', async () => {
    const { spool, dir } = await open()
    const bound = await spool.listen({ port: 0 })
    expect(bound).toEqual({ host: '127.0.0.1', port: expect.any(Number) })
    expect(JSON.parse(fs.readFileSync(path.join(dir, 'listener.json'), 'utf8'))).toEqual({ host: '127.0.0.1', port: bound.port, advertisedHost: '127.0.0.1', pid: process.pid })
    const client = await rawClient(bound.port)
    const versions = await client.send(API_VERSIONS, 2, {})
    expect(versions['errorCode']).toBe(0)
    const metadata = await client.send(METADATA, 1, { topics: null })
    expect(metadata['brokers']).toEqual([expect.objectContaining({ host: '127.0.0.1', port: bound.port })])
  })

  it('advertises advertisedHost to clients', async () => {
    const { spool } = await open()
    const bound = await spool.listen({ port: 0, advertisedHost: 'spool.example' })
    const metadata = await (await rawClient(bound.port)).send(METADATA, 1, { topics: null })
    expect(metadata['brokers']).toEqual([expect.objectContaining({ host: 'spool.example', port: bound.port })])
  })

  it('has one listener per spool; a listen that failed may be tried again', async () => {
    const { spool } = await open()
    const { spool: other } = await open()
    const { port } = await spool.listen({ port: 0 })
    expect((await expectCode(spool.listen({ port: 0 }), 'INVALID_ARGUMENT')).message).toMatch(/listen was called already/)
    await expectCode(other.listen({ port }), 'IO_ERROR') // in use
    await expectCode(other.listen({ port: 0, autoCreateTopics: 'yes' as unknown as boolean }), 'INVALID_ARGUMENT')
    expect((await other.listen({ port: 0 })).port).not.toBe(port)
  })

  it('is refused on a read-only spool and after close()', async () => {
    const { spool, dir } = await open()
    const readOnly = await openTestSpool(dir, { readOnly: true })
    spools.push(readOnly)
    await expectCode(readOnly.listen({ port: 0 }), 'NEEDS_OWNER')
    await spool.close()
    await expectCode(spool.listen({ port: 0 }), 'CLOSED')
  })

  it('close() closes the listener first: a long poll in flight is answered, then the port and listener.json are gone', async () => {
    const { spool, dir } = await open()
    await spool.createTopic('t')
    const { port } = await spool.listen({ port: 0 })
    const client = await rawClient(port)
    const fetching = client.send(FETCH, 4, {
      replicaId: -1,
      maxWaitMs: 2 ** 31 - 1, // longer than any run: the answer can only come from the close
      minBytes: 1,
      maxBytes: 1024 * 1024,
      isolationLevel: 0,
      topics: [{ topic: 't', partitions: [{ partition: 0, fetchOffset: 0, partitionMaxBytes: 1024 * 1024 }] }],
    })
    await new Promise((resolve) => setTimeout(resolve, 100))
    await spool.close()
    const answer = await fetching
    expect((answer['responses'] as unknown[]).length).toBe(1)
    await client.closed
    expect(fs.existsSync(path.join(dir, 'listener.json'))).toBe(false)
    await expect(rawClient(port)).rejects.toThrow(/ECONNREFUSED/)
  })
})
