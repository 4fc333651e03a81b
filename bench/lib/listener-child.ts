/**
 * W8's client process: a Kafka client in another process, as every real one is, so that
 * its work does not share the listener's event loop. The bench forks it once and sends it
 * one command at a time over IPC; it answers with what it measured. It uses the wire
 * client (wire-client.ts): the fewest client costs, so the figures are the listener's.
 *
 * Commands:
 *   produce  — one Produce request in flight (acks -1), each a small batch: latency of each.
 *   fill     — the dataset's batches (acks -1, a few in flight): untimed setup for fetch.
 *   fetch    — Fetch from offset 0 to the end, one request in flight, as a consumer does.
 *   loopback — the physical twin of fetch: the same bytes from a plain socket, counted.
 *   roundTrip — the physical floor of produce: the same request frames, one at a time, to
 *              a plain server that answers each with as many bytes as a Produce response.
 */
import { once } from 'node:events'
import net from 'node:net'
import { pathToFileURL } from 'node:url'
import { API_KEYS, APIS } from '../../src/kafka/apis/index.js'
import { encodeRequest } from '../../src/kafka/protocol/frames.js'
import { DEFAULT_MAX_BATCH_BYTES } from '../../src/limits.js'
import { OFFSET_BATCH_LENGTH, OFFSET_LAST_OFFSET_DELTA, OFFSET_RECORD_COUNT, BATCH_LOG_OVERHEAD_BYTES } from '../../src/record/batch-format.js'
import { encodeBatch } from '../../src/record/batch-encoder.js'
import { type DatasetSpec, makeDataset } from './dataset.js'
import { profiled } from './profile.js'
import { type ProduceSpec, produceBatches } from './produce-batches.js'
import { WireClient } from './wire-client.js'

/** The newest versions spool serves: what a current client would pick. */
export const PRODUCE_VERSION = 8
export const FETCH_VERSION = 11
/** Acks -1: answered once the topic's flush policy made the batch durable. */
const ACKS_ALL = -1
const PRODUCE_TIMEOUT_MS = 30_000
/** Fetch's long poll, should the log ever be behind (it is not: filled before). */
const FETCH_MAX_WAIT_MS = 500
/** Produce requests the fill keeps in flight: librdkafka's and the JVM's max.in.flight default. */
const FILL_IN_FLIGHT = 5
/** The loopback twin's reads land here, over and over: a fetch's size. */
const LOOPBACK_READ_BUFFER = Buffer.allocUnsafeSlow(1024 * 1024)

export type ChildCommand =
  | { op: 'produce'; port: number; topic: string; spec: ProduceSpec }
  | { op: 'fill'; port: number; topic: string; spec: DatasetSpec }
  | { op: 'fetch'; port: number; topic: string; records: number; maxBytes: number; partitionMaxBytes: number }
  | { op: 'loopback'; port: number; bytes: number }
  | { op: 'roundTrip'; port: number; topic: string; spec: ProduceSpec; answerBytes: number }

export type ChildReply =
  | { ok: true; seconds: number; micros?: number[]; records?: number; bytes?: number }
  | { ok: false; error: string }

const now = (): bigint => process.hrtime.bigint()
const secondsSince = (start: bigint): number => Number(now() - start) / 1e9

function produceBody(topic: string, records: Buffer): object {
  return { transactionalId: null, acks: ACKS_ALL, timeoutMs: PRODUCE_TIMEOUT_MS, topicData: [{ name: topic, partitionData: [{ index: 0, records }] }] }
}

function checkProduced(body: { responses: { partitionResponses: { errorCode: number; errorMessage?: string | null }[] }[] }): void {
  const partition = body.responses[0]!.partitionResponses[0]!
  if (partition.errorCode !== 0) throw new Error(`produce failed: error ${partition.errorCode} ${partition.errorMessage ?? ''}`)
}

async function produce(port: number, topic: string, spec: ProduceSpec): Promise<ChildReply> {
  // Encoded before the clock starts: a client's encoding is not the listener's cost.
  const batches = produceBatches(spec).map((records) => encodeBatch(records, Date.now(), DEFAULT_MAX_BATCH_BYTES).bytes)
  const client = await WireClient.connect(port)
  try {
    const micros: number[] = []
    const start = now()
    for (const batch of batches) {
      const sent = now()
      checkProduced(await client.request(API_KEYS.Produce, PRODUCE_VERSION, produceBody(topic, batch)))
      micros.push(Number(now() - sent) / 1e3)
    }
    return { ok: true, seconds: secondsSince(start), micros }
  } finally {
    await client.close()
  }
}

async function fill(port: number, topic: string, spec: DatasetSpec): Promise<ChildReply> {
  const data = makeDataset(spec)
  const client = await WireClient.connect(port)
  try {
    const start = now()
    let next = 0
    const sender = async (): Promise<void> => {
      while (next < data.encoded.length) checkProduced(await client.request(API_KEYS.Produce, PRODUCE_VERSION, produceBody(topic, data.encoded[next++]!)))
    }
    await Promise.all(Array.from({ length: FILL_IN_FLIGHT }, sender))
    return { ok: true, seconds: secondsSince(start), records: data.records, bytes: data.bytes }
  } finally {
    await client.close()
  }
}

interface FetchedPartition {
  errorCode: number
  records: Buffer | null
}

/** Walks the batches of a Fetch answer (headers only, as a consumer finds its next offset): records, bytes, next offset. */
function walkBatches(records: Buffer, fromOffset: number): { records: number; bytes: number; nextOffset: number } {
  let count = 0
  let at = 0
  let nextOffset = fromOffset
  while (at + BATCH_LOG_OVERHEAD_BYTES <= records.length) {
    const size = BATCH_LOG_OVERHEAD_BYTES + records.readInt32BE(at + OFFSET_BATCH_LENGTH)
    if (at + size > records.length) break // a partial batch at the end: fetched again next time
    const baseOffset = Number(records.readBigInt64BE(at))
    nextOffset = baseOffset + records.readInt32BE(at + OFFSET_LAST_OFFSET_DELTA) + 1
    count += records.readInt32BE(at + OFFSET_RECORD_COUNT)
    at += size
  }
  return { records: count, bytes: at, nextOffset }
}

async function fetchAll(port: number, topic: string, expected: number, maxBytes: number, partitionMaxBytes: number): Promise<ChildReply> {
  const client = await WireClient.connect(port)
  try {
    let offset = 0
    let records = 0
    let bytes = 0
    const start = now()
    while (records < expected) {
      // The response's batches are walked as it arrives (requestUsing), before the next is read.
      const walked = await client.requestUsing(API_KEYS.Fetch, FETCH_VERSION, {
        replicaId: -1,
        maxWaitMs: FETCH_MAX_WAIT_MS,
        minBytes: 1,
        maxBytes,
        isolationLevel: 0,
        sessionId: 0,
        sessionEpoch: -1,
        topics: [{ topic, partitions: [{ partition: 0, currentLeaderEpoch: -1, fetchOffset: offset, logStartOffset: -1, partitionMaxBytes }] }],
        forgottenTopicsData: [],
        rackId: '',
      }, (body) => {
        const partition = body.responses[0]!.partitions[0]! as FetchedPartition
        if (partition.errorCode !== 0) throw new Error(`fetch at offset ${offset} failed: error ${partition.errorCode}`)
        if (partition.records === null || partition.records.length === 0) throw new Error(`fetch at offset ${offset} returned nothing`)
        return walkBatches(partition.records, offset)
      })
      records += walked.records
      bytes += walked.bytes
      offset = walked.nextOffset
    }
    const seconds = secondsSince(start)
    if (records !== expected) throw new Error(`fetched ${records} records, expected ${expected}`)
    return { ok: true, seconds, records, bytes }
  } finally {
    await client.close()
  }
}

/**
 * Reads `bytes` from a plain server that starts writing when it gets one byte: the
 * socket's own limit. Read as the wire client reads (onread, into one reused buffer), so
 * that the two differ by the protocol and the listener only.
 */
function loopback(port: number, bytes: number): Promise<ChildReply> {
  return new Promise((resolve, reject) => {
    let received = 0
    const socket = net.connect({ port, host: '127.0.0.1', onread: { buffer: LOOPBACK_READ_BUFFER, callback: (n) => onRead(n) } })
    let start = 0n
    socket.setNoDelay(true)
    socket.on('error', reject)
    socket.on('connect', () => {
      start = now()
      socket.write(Buffer.of(1))
    })
    // Returns whether to read on (onread's contract): false once every byte came.
    const onRead = (n: number): boolean => {
      received += n
      if (received < bytes) return true
      const seconds = secondsSince(start)
      socket.destroy()
      resolve(received === bytes ? { ok: true, seconds, bytes } : { ok: false, error: `loopback: ${received} bytes, expected ${bytes}` })
      return false
    }
    socket.on('close', () => {
      if (received < bytes) reject(new Error(`loopback: the server closed after ${received} of ${bytes} bytes`))
    })
  })
}

/** Sends each produce frame to a plain server and waits for its `answerBytes`-byte answer: a round trip's own cost. */
async function roundTrip(port: number, topic: string, spec: ProduceSpec, answerBytes: number): Promise<ChildReply> {
  const api = APIS.get(API_KEYS.Produce)!
  const frames = produceBatches(spec).map((records, i) =>
    Buffer.concat(encodeRequest(api, PRODUCE_VERSION, { correlationId: i, clientId: 'spool-bench' }, produceBody(topic, encodeBatch(records, Date.now(), DEFAULT_MAX_BATCH_BYTES).bytes))),
  )
  const socket = net.connect({ port, host: '127.0.0.1' })
  socket.setNoDelay(true)
  await once(socket, 'connect')
  let received = 0
  let answered: () => void = () => undefined
  socket.on('data', (chunk: Buffer) => {
    received += chunk.length
    if (received >= answerBytes) {
      received -= answerBytes
      answered()
    }
  })
  try {
    const micros: number[] = []
    const start = now()
    for (const frame of frames) {
      const sent = now()
      const answer = new Promise<void>((resolve) => (answered = resolve))
      socket.write(frame)
      await answer
      micros.push(Number(now() - sent) / 1e3)
    }
    return { ok: true, seconds: secondsSince(start), micros }
  } finally {
    socket.destroy()
  }
}

function run(command: ChildCommand): Promise<ChildReply> {
  switch (command.op) {
    case 'produce':
      return produce(command.port, command.topic, command.spec)
    case 'fill':
      return fill(command.port, command.topic, command.spec)
    case 'fetch':
      return fetchAll(command.port, command.topic, command.records, command.maxBytes, command.partitionMaxBytes)
    case 'loopback':
      return loopback(command.port, command.bytes)
    case 'roundTrip':
      return roundTrip(command.port, command.topic, command.spec, command.answerBytes)
  }
}

// Only as the forked client (the bench imports this module for its types and versions).
if (process.send !== undefined && import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  process.on('message', (command: ChildCommand) => {
    profiled(`client.${command.op}`, () => run(command)).then(
      (reply) => process.send!(reply),
      (error: unknown) => process.send!({ ok: false, error: error instanceof Error ? (error.stack ?? error.message) : String(error) } satisfies ChildReply),
    )
  })
  // The parent's end of the channel closing ends this process.
  process.on('disconnect', () => process.exit(0))
}
