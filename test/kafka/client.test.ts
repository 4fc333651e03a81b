import net from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import type { ConsumedRecord } from '../../src/client/reader.js'
import { KafkaClient, RemoteProducer, parseAddress, readRemote } from '../../src/kafka/client/index.js'
import { expectCode } from '../helpers/expect-code.js'
import { type InProcessServer, listenInProcess } from '../helpers/kafka-server.js'
import { tempDir } from '../helpers/temp-dir.js'

/**
 * spool's own Kafka client (src/kafka/client/) against spool's listener in this process:
 * version negotiation, produce with acks -1 seen by the in-process reader, fetch from
 * offsets and times, a long poll woken by an in-process append, admin, and the errors a
 * user meets (unknown topic, out of range, nothing listening).
 */

const servers: InProcessServer[] = []
const clients: KafkaClient[] = []
afterEach(async () => {
  for (const client of clients.splice(0)) client.close()
  await Promise.all(servers.splice(0).map((s) => s.close()))
})

async function start(topics: Record<string, { partitions?: number; timestampType?: 'create' | 'logAppend' }> = {}): Promise<{ server: InProcessServer; client: KafkaClient }> {
  const server = await listenInProcess(tempDir(), topics)
  servers.push(server)
  const client = await KafkaClient.connect(parseAddress(server.bootstrap))
  clients.push(client)
  return { server, client }
}

async function collect(source: AsyncGenerator<ConsumedRecord>, max = Infinity): Promise<ConsumedRecord[]> {
  const records: ConsumedRecord[] = []
  for await (const record of source) {
    records.push(record)
    if (records.length >= max) break
  }
  return records
}

const text = (records: readonly ConsumedRecord[]): string[] => records.map((r) => `${r.partition}:${r.offset}:${r.key?.toString() ?? '-'}=${r.value?.toString() ?? 'null'}`)

describe('KafkaClient', () => {
  it('produces through the listener what the application reads in-process, placed by key as the engine places it', async () => {
    const { server, client } = await start({ orders: { partitions: 3 } })
    await client.partitionCount('orders').then((n) => expect(n).toBe(3))
    const producer = new RemoteProducer(client, { lingerMs: 2 })
    await producer.prepare('orders')
    const sent = await Promise.all(
      Array.from({ length: 30 }, (_, i) => producer.send({ topic: 'orders', key: `k${i % 5}`, value: `v${i}`, headers: { h: 'x' } })),
    )
    const local = server.spool.producer()
    const expected = await Promise.all(Array.from({ length: 5 }, (_, i) => local.send({ topic: 'orders', key: `k${i}`, value: 'probe' })))
    // Each key's records are on the partition the in-process producer puts that key on.
    const byKey = new Map(expected.map((m, i) => [`k${i}`, m.partition]))
    const seen: ConsumedRecord[] = []
    for (let p = 0; p < 3; p++) seen.push(...(await collect(server.spool.read('orders', { partition: p }))))
    const values = seen.filter((r) => r.value?.toString() !== 'probe')
    expect(values).toHaveLength(30)
    // Each acknowledgement names where its record is.
    sent.forEach((metadata, i) => {
      const stored = values.find((r) => r.partition === metadata.partition && r.offset === metadata.offset)
      expect(stored?.value?.toString()).toBe(`v${i}`)
    })
    for (const r of values) {
      expect(r.partition).toBe(byKey.get(r.key!.toString()))
      expect(r.headers).toEqual([{ key: 'h', value: Buffer.from('x') }])
    }
    // Per key, in send order.
    for (const key of byKey.keys()) {
      const mine = values.filter((r) => r.key!.toString() === key).map((r) => Number(r.value!.toString().slice(1)))
      expect(mine).toEqual([...mine].sort((a, b) => a - b))
    }
  })

  it('fetches from an offset, from a time, and to an offset, skipping records below the start', async () => {
    const { server, client } = await start({ log: {} })
    const producer = server.spool.producer()
    // Two batches of five: a start inside a batch skips its first records.
    await Promise.all(Array.from({ length: 5 }, (_, i) => producer.send({ topic: 'log', value: `a${i}`, timestamp: 1_000 + i })))
    await Promise.all(Array.from({ length: 5 }, (_, i) => producer.send({ topic: 'log', value: `b${i}`, timestamp: 2_000 + i })))
    const all = await collect(readRemote(client, 'log', [0], { follow: false, start: async () => ({}) }))
    expect(all.map((r) => r.value!.toString())).toEqual(['a0', 'a1', 'a2', 'a3', 'a4', 'b0', 'b1', 'b2', 'b3', 'b4'])
    expect(all.map((r) => r.timestamp)).toEqual([1000, 1001, 1002, 1003, 1004, 2000, 2001, 2002, 2003, 2004])
    const fromThree = await collect(readRemote(client, 'log', [0], { follow: false, start: async () => ({ fromOffset: 3, toOffset: 6 }) }))
    expect(fromThree.map((r) => r.offset)).toEqual([3, 4, 5, 6])
    const fromTime = await collect(readRemote(client, 'log', [0], { follow: false, start: async () => ({ fromTimestamp: 2_002 }) }))
    expect(fromTime.map((r) => r.value!.toString())).toEqual(['b2', 'b3', 'b4'])
    const local = await collect(server.spool.read('log', { fromOffset: 3 }))
    expect(text(fromThree)).toEqual(text(local.slice(0, 4)))
    await expectCode(collect(readRemote(client, 'log', [0], { follow: false, start: async () => ({ fromOffset: 11 }) })), 'OFFSET_OUT_OF_RANGE')
  })

  it('follows: a long poll is answered by an in-process append, and a stop ends it', async () => {
    const { server, client } = await start({ live: { partitions: 2 } })
    const stop = new AbortController()
    const source = readRemote(client, 'live', [0, 1], { follow: true, signal: stop.signal, start: async () => ({}) })
    const first = source.next()
    await new Promise((resolve) => setTimeout(resolve, 100))
    await server.spool.producer().send({ topic: 'live', partition: 1, value: 'now' })
    const got = await first
    expect(got.done).toBe(false)
    expect((got.value as ConsumedRecord).value!.toString()).toBe('now')
    // That the listener answers a long poll on the append itself, not its timer: handlers-data.test.ts.
    const next = source.next()
    stop.abort()
    expect((await next).done).toBe(true)
  })

  it('creates and deletes topics, with the engine error codes', async () => {
    const { server, client } = await start()
    await client.createTopic('made', 4, [
      { name: 'retention.ms', value: '60000' },
      { name: 'spool.flush', value: 'never' },
    ])
    const described = await server.spool.describeTopic('made')
    expect(described.config.partitions).toBe(4)
    expect(described.config.retentionMs).toBe(60_000)
    expect(described.config.flush).toBe('never')
    await expectCode(client.createTopic('made', 1, []), 'TOPIC_EXISTS')
    await expectCode(client.createTopic('bad', 1, [{ name: 'cleanup.policy', value: 'sometimes' }]), 'INVALID_ARGUMENT')
    await client.deleteTopic('made')
    expect(server.spool.listTopics()).not.toContain('made')
    await expectCode(client.deleteTopic('made'), 'UNKNOWN_TOPIC')
    await expectCode(client.partitionCount('made'), 'UNKNOWN_TOPIC')
  })

  it('fails with one clear line when nothing listens', async () => {
    const port = await freePort()
    const error = await KafkaClient.connect({ host: '127.0.0.1', port }).catch((e: unknown) => e)
    expect(error).toMatchObject({ code: 'LISTENER_UNREACHABLE' })
    expect((error as Error).message).toMatch(new RegExp(`^cannot reach a Kafka listener at 127\\.0\\.0\\.1:${port} \\(connection refused: nothing listens there\\)`))
    expect((error as Error).message).not.toContain('\n')
  })

  it('matches responses by correlation id, and refuses a peer that does not speak Kafka', async () => {
    // A fake broker: answers the first request with a response for another correlation id.
    const wrongId = await fakePeer((socket) => socket.once('data', () => socket.write(Buffer.from([0, 0, 0, 4, 0, 0, 3, 0xe7]))))
    const mismatch = await expectCode(KafkaClient.connect(wrongId), 'IO_ERROR')
    expect(mismatch.message).toBe(`the peer at 127.0.0.1:${wrongId.port} sent a response to correlation id 999, which no request in flight has`)
    // An HTTP server on the port: its first four bytes read as an absurd frame size.
    const http = await fakePeer((socket) => socket.once('data', () => socket.write('HTTP/1.1 400 Bad Request\r\n\r\n')))
    const notKafka = await expectCode(KafkaClient.connect(http), 'IO_ERROR')
    expect(notKafka.message).toMatch(/^the peer at 127\.0\.0\.1:\d+ sent a response frame of \d+ bytes .*: is this a Kafka listener\?$/)
  })

  it('reads bootstrap addresses as Kafka writes them', () => {
    expect(parseAddress('localhost:9092')).toEqual({ host: 'localhost', port: 9092 })
    expect(parseAddress('[::1]:19092')).toEqual({ host: '::1', port: 19092 })
    for (const bad of ['localhost', ':9092', 'host:0', 'host:99999', 'a:b']) expect(() => parseAddress(bad)).toThrow(/--bootstrap must be host:port/)
  })
})

/** A port nothing listens on: bound, then released. */
async function freePort(): Promise<number> {
  const server = net.createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as net.AddressInfo
  await new Promise((resolve) => server.close(resolve))
  return port
}

const peers: net.Server[] = []
afterEach(async () => {
  await Promise.all(peers.splice(0).map((peer) => new Promise((resolve) => peer.close(resolve))))
})

/** A TCP server on a free loopback port that does `behave` with each connection. */
async function fakePeer(behave: (socket: net.Socket) => void): Promise<{ host: string; port: number }> {
  const server = net.createServer((socket) => {
    socket.on('error', () => undefined)
    behave(socket)
  })
  peers.push(server)
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return { host: '127.0.0.1', port: (server.address() as net.AddressInfo).port }
}
