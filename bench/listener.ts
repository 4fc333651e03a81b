/**
 * W8 the Kafka listener (issue 16 calls it "W7"; W7 was taken by open-close): produce and
 * fetch through `spool.listen()`, driven by a Kafka client in another process, beside the
 * in-process path and beside the loopback socket's own limit, in one run.
 *
 * The client is a raw-protocol one (lib/wire-client.ts, spool's own codec), not kafkajs or
 * kcat: its costs per request are the fewest possible (records encoded before the clock
 * starts, responses walked by batch header), so what is left is the listener's. kafkajs'
 * JavaScript would dominate the figures; kcat would add its own batching, queueing
 * timers (linger) and a process spawn per run. It runs in a child process
 * (lib/listener-child.ts), as every real client does, so it does not share the
 * listener's event loop; the child is forked once and serves every run.
 *
 * Produce: one Produce request (v8, acks -1) in flight at a time, each a batch of 1-16
 * records of 100 B values (lib/produce-batches.ts), to a one-partition topic with flush
 * 'always' and with 'never'; per-request latency (sent → answer decoded) and records/s,
 * beside in-process `producer.send` of the same records (a batch's sends awaited
 * together: one batch, as one request is), not idempotent on either side.
 *
 * Fetch: a one-partition topic filled (untimed) through the listener with 1 KiB values,
 * 1,000 records a batch, then read from offset 0 to the end with Fetch v11, one request
 * in flight, Kafka consumers' default limits (fetch.max.bytes 50 MiB,
 * max.partition.fetch.bytes 1 MiB). Beside it, in the same rounds: the loopback limit —
 * the same stored bytes written by a plain net server in this process to a socket the
 * child reads and counts (no framing, no round trips; read the way the wire client reads,
 * straight into a reused buffer) — and the in-process path, `spool.read()` of the same
 * records.
 */
import { type ChildProcess, fork } from 'node:child_process'
import { once } from 'node:events'
import net from 'node:net'
import path from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { openSpool } from '../src/client/spool.js'
import { API_KEYS, APIS } from '../src/kafka/apis/index.js'
import { encodeResponse } from '../src/kafka/protocol/frames.js'
import type { AppendFlush as Flush } from './append.js'
import { type Logger, stderrLogger } from '../src/storage/logger.js'
import { makeDataset } from './lib/dataset.js'
import { formatInteger } from './lib/format.js'
import { interleavedRuns, perRoundRatio } from './lib/interleave.js'
import { type ChildCommand, type ChildReply, PRODUCE_VERSION } from './lib/listener-child.js'
import { profiled } from './lib/profile.js'
import { type ProduceSpec, produceBatches, recordCount } from './lib/produce-batches.js'
import { type LatencySample, type LatencySide, type SideResult, type TargetResult, latencySide, sideResult } from './lib/result.js'
import { type Summary, quantile, summarize } from './lib/stats.js'
import { freshDir, inFreshDir, removeDir } from './lib/temp-dir.js'
import { pairedTrials, repeatedTrials, timed } from './lib/timing.js'

export interface ListenerOptions {
  /** Produce requests a run, at each flush policy. */
  produceRequests: number
  /** Records of the fetch topic (1 KiB values). */
  fetchRecords: number
  keyBytes: number
  seed: number
  runs: number
  logger: Logger
}

export interface ListenerProduceResult {
  id: string
  workload: 'W8'
  title: string
  flush: Flush
  valueBytes: number
  requests: number
  records: number
  runs: number
  /** Latency per request in µs; ratePerSec = records/s with one request in flight. */
  listener: LatencySide
  inProcess: LatencySide
  /** listener ÷ in-process, per paired run (> 1: the listener is slower). */
  latencyRatio: { p50: Summary; p99: Summary }
  /** listener records/s ÷ in-process records/s, per paired run. */
  throughputRatio: Summary
  target: TargetResult
}

export interface ListenerFetchResult {
  id: string
  workload: 'W8'
  title: string
  valueBytes: number
  records: number
  /** The stored batches' bytes: what every side moves. */
  bytes: number
  runs: number
  listener: SideResult
  loopback: SideResult
  inProcess: SideResult
  /** listener ÷ loopback throughput, per round. */
  ratio: Summary
  /** listener ÷ in-process throughput, per round. */
  inProcessRatio: Summary
  target: TargetResult
}

export interface ListenerReport {
  client: string
  /** The floor under produce latency: the same request frames to a plain server answering each with a Produce response's size; null when produce did not run. */
  roundTrip: LatencySide | null
  produce: ListenerProduceResult[]
  fetch: ListenerFetchResult
}

const PRODUCE_TOPIC = 'w8-produce'
const FETCH_TOPIC = 'w8-fetch'
/** 100 B values for produce, as P1 and W3; 1 KiB for fetch, as the issue asks. */
const PRODUCE_VALUE_BYTES = 100
const FETCH_VALUE_BYTES = 1024
/** "Batches of ~1-16 records": what a client sends with one request in flight and little lingering. */
const MAX_BATCH_RECORDS = 16
/** The fill's batches: W1's 1,000 records (1.05 MB at 1 KiB values, just over max.partition.fetch.bytes: each fetch answers one whole batch, KIP-74). */
const FETCH_BATCH_RECORDS = 1_000
/** Kafka consumers' defaults: fetch.max.bytes and max.partition.fetch.bytes. */
const FETCH_MAX_BYTES = 50 * 1024 * 1024
const PARTITION_MAX_BYTES = 1024 * 1024
/** Targets (issue 16). */
const FETCH_TARGET = 0.5
const PRODUCE_P99_TARGET = 2

export const CLIENT_DESCRIPTION =
  "a raw-protocol client in a child process (bench/lib/wire-client.ts: spool's codec, batches encoded before the clock starts, one request in flight)"

const CHILD = path.join(path.dirname(fileURLToPath(import.meta.url)), 'lib', 'listener-child.ts')
const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')

/** The client process: one command at a time, answered over IPC. */
class ClientProcess {
  private waiting: { resolve: (reply: ChildReply) => void; reject: (error: Error) => void } | null = null
  private exited: Error | null = null

  private constructor(private readonly child: ChildProcess) {
    child.on('message', (reply: ChildReply) => this.settle((w) => w.resolve(reply)))
    child.on('exit', (code, signal) => {
      this.exited = new Error(`the W8 client process exited (${signal ?? String(code)})`)
      this.settle((w) => w.reject(this.exited!))
    })
  }

  static async start(): Promise<ClientProcess> {
    const child = fork(CHILD, [], { cwd: REPO_ROOT, execArgv: ['--import', 'tsx', ...childProfileFlags()], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
    await once(child, 'spawn')
    return new ClientProcess(child)
  }

  async call(command: ChildCommand): Promise<ChildReply & { ok: true }> {
    if (this.exited !== null) throw this.exited
    if (this.waiting !== null) throw new Error('the W8 client process runs one command at a time')
    const reply = await new Promise<ChildReply>((resolve, reject) => {
      this.waiting = { resolve, reject }
      this.child.send(command)
    })
    if (!reply.ok) throw new Error(`W8 client, ${command.op}: ${reply.error}`)
    return reply
  }

  stop(): void {
    if (this.child.connected) this.child.disconnect()
  }

  private settle(how: (waiting: { resolve: (reply: ChildReply) => void; reject: (error: Error) => void }) => void): void {
    const waiting = this.waiting
    this.waiting = null
    if (waiting !== null) how(waiting)
  }
}

/** SPOOL_BENCH_CHILD_PROF=DIR: the client process writes a CPU profile there too (to see that the client is not what limits). */
function childProfileFlags(): string[] {
  const dir = process.env['SPOOL_BENCH_CHILD_PROF']
  return dir === undefined || dir === '' ? [] : ['--cpu-prof', `--cpu-prof-dir=${dir}`]
}

function latencySample(micros: readonly number[], records: number, seconds: number): LatencySample {
  const sorted = Float64Array.from(micros).sort()
  return { p50: quantile(sorted, 0.5), p99: quantile(sorted, 0.99), p999: quantile(sorted, 0.999), max: sorted[sorted.length - 1]!, ratePerSec: records / seconds }
}

async function listenerProduce(dir: string, flush: Flush, spec: ProduceSpec, records: number, client: ClientProcess, logger: Logger): Promise<LatencySample> {
  const spool = await openSpool({ dir, logger })
  try {
    await spool.createTopic(PRODUCE_TOPIC, { partitions: 1, flush })
    const { port } = await spool.listen({ port: 0 })
    const reply = await profiled(`W8.produce.${String(flush)}`, () => client.call({ op: 'produce', port, topic: PRODUCE_TOPIC, spec }))
    return latencySample(reply.micros!, records, reply.seconds)
  } finally {
    await spool.close()
  }
}

async function inProcessProduce(dir: string, flush: Flush, batches: ReturnType<typeof produceBatches>, logger: Logger): Promise<LatencySample> {
  const spool = await openSpool({ dir, logger })
  try {
    await spool.createTopic(PRODUCE_TOPIC, { partitions: 1, flush })
    const producer = spool.producer({ idempotent: false })
    const micros: number[] = []
    const seconds = await timed(async () => {
      for (const batch of batches) {
        const sent = process.hrtime.bigint()
        await Promise.all(batch.map((record) => producer.send({ topic: PRODUCE_TOPIC, partition: 0, key: record.key, value: record.value })))
        micros.push(Number(process.hrtime.bigint() - sent) / 1e3)
      }
    })
    return latencySample(micros, recordCount(batches), seconds)
  } finally {
    await spool.close()
  }
}

const micros = (n: number): string => `${formatInteger(n)} µs`
const describeLatency = (s: LatencySample): string => `p50 ${micros(s.p50)}, p99 ${micros(s.p99)}, ${formatInteger(s.ratePerSec)} records/s`

async function produceWorkload(flush: Flush, options: ListenerOptions, client: ClientProcess): Promise<ListenerProduceResult> {
  const spec: ProduceSpec = { requests: options.produceRequests, maxBatchRecords: MAX_BATCH_RECORDS, keyBytes: options.keyBytes, valueBytes: PRODUCE_VALUE_BYTES, seed: options.seed }
  const batches = produceBatches(spec)
  const records = recordCount(batches)
  const id = `W8.produce.${PRODUCE_VALUE_BYTES}B.${flush}`
  const samples = await pairedTrials({
    runs: options.runs,
    label: id,
    describe: describeLatency,
    spool: () => inFreshDir('w8-listener', (dir) => listenerProduce(dir, flush, spec, records, client, options.logger)),
    raw: () => inFreshDir('w8-in-process', (dir) => inProcessProduce(dir, flush, batches, options.logger)),
  })
  const ratio = (p: 'p50' | 'p99'): Summary => summarize(samples.spool.map((s, run) => s[p] / samples.raw[run]![p]))
  const latencyRatio = { p50: ratio('p50'), p99: ratio('p99') }
  const throughputRatio = summarize(samples.spool.map((s, run) => s.ratePerSec / samples.raw[run]!.ratePerSec))
  const target = { text: `p99 ≤ ${PRODUCE_P99_TARGET}× in-process`, met: latencyRatio.p99.median <= PRODUCE_P99_TARGET }
  return {
    id,
    workload: 'W8',
    title: `W8 produce acks -1, flush '${flush}'`,
    flush,
    valueBytes: PRODUCE_VALUE_BYTES,
    requests: spec.requests,
    records,
    runs: options.runs,
    listener: latencySide(`Produce v8 acks -1 through spool.listen(), one request in flight, 1-${MAX_BATCH_RECORDS} records each`, samples.spool, samples.warmup.spool),
    inProcess: latencySide(`producer.send of the same records (a request's sends awaited together), idempotent: false`, samples.raw, samples.warmup.raw),
    latencyRatio,
    throughputRatio,
    target,
  }
}

/** A plain TCP server that answers each size-prefixed frame with `answer`: the loopback round trip under a Produce. */
async function roundTripServer(answer: Buffer): Promise<{ port: number; close: () => Promise<void> }> {
  const server = net.createServer((socket) => {
    socket.setNoDelay(true)
    socket.on('error', () => undefined)
    let pending: Buffer = Buffer.alloc(0)
    socket.on('data', (chunk: Buffer) => {
      pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk])
      while (pending.length >= 4 && pending.length >= 4 + pending.readInt32BE(0)) {
        pending = pending.subarray(4 + pending.readInt32BE(0))
        socket.write(answer)
      }
    })
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const { port } = server.address() as net.AddressInfo
  return { port, close: () => new Promise((resolve) => server.close(() => resolve())) }
}

/** The bytes of Produce v8's answer for one partition of PRODUCE_TOPIC, size prefix included. */
function produceAnswerBytes(): number {
  const api = APIS.get(API_KEYS.Produce)!
  const body = { responses: [{ name: PRODUCE_TOPIC, partitionResponses: [{ index: 0, errorCode: 0, baseOffset: 0, logAppendTimeMs: -1, logStartOffset: 0, recordErrors: [], errorMessage: null }] }], throttleTimeMs: 0 }
  return encodeResponse(api, PRODUCE_VERSION, 0, body).reduce((sum, chunk) => sum + chunk.length, 0)
}

async function roundTripWorkload(options: ListenerOptions, client: ClientProcess): Promise<LatencySide> {
  const spec: ProduceSpec = { requests: options.produceRequests, maxBatchRecords: MAX_BATCH_RECORDS, keyBytes: options.keyBytes, valueBytes: PRODUCE_VALUE_BYTES, seed: options.seed }
  const answerBytes = produceAnswerBytes()
  const server = await roundTripServer(Buffer.alloc(answerBytes))
  try {
    const records = recordCount(produceBatches(spec))
    const { samples, warmup } = await repeatedTrials<LatencySample>({
      runs: options.runs,
      label: 'W8.round-trip',
      describe: describeLatency,
      run: async () => {
        const reply = await client.call({ op: 'roundTrip', port: server.port, topic: PRODUCE_TOPIC, spec, answerBytes })
        return latencySample(reply.micros!, records, reply.seconds)
      },
    })
    return latencySide(`the same Produce frames, one at a time, to a plain net server in this process answering each with ${answerBytes} bytes (a Produce response's size): the loopback round trip alone`, samples, warmup)
  } finally {
    await server.close()
  }
}

/** A plain TCP server writing `chunks` to whoever connects and sends a byte: the loopback twin of a fetch. */
async function loopbackServer(chunks: readonly Buffer[]): Promise<{ port: number; close: () => Promise<void> }> {
  const server = net.createServer((socket) => {
    socket.setNoDelay(true)
    socket.on('error', () => undefined)
    socket.once('data', async () => {
      for (const chunk of chunks) {
        if (socket.destroyed) return
        if (!socket.write(chunk)) await once(socket, 'drain').catch(() => undefined)
      }
    })
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const { port } = server.address() as net.AddressInfo
  return { port, close: () => new Promise((resolve) => server.close(() => resolve())) }
}

async function fetchWorkload(options: ListenerOptions, client: ClientProcess): Promise<ListenerFetchResult> {
  const spec = { records: options.fetchRecords, batchRecords: FETCH_BATCH_RECORDS, keyBytes: options.keyBytes, valueBytes: FETCH_VALUE_BYTES, seed: options.seed }
  const data = makeDataset(spec)
  const id = `W8.fetch.${FETCH_VALUE_BYTES}B`
  const dir = freshDir('w8-fetch')
  const spool = await openSpool({ dir, logger: options.logger })
  const loopback = await loopbackServer(data.encoded)
  try {
    await spool.createTopic(FETCH_TOPIC, { partitions: 1, flush: 'never' })
    const { port } = await spool.listen({ port: 0 })
    const filled = await client.call({ op: 'fill', port, topic: FETCH_TOPIC, spec })
    if (filled.bytes !== data.bytes) throw new Error(`W8 fill: the client sent ${filled.bytes} bytes, this process built ${data.bytes}`)
    process.stderr.write(`  ${id}: filled ${formatInteger(data.records)} records (${(data.bytes / 1e6).toFixed(1)} MB) through the listener in ${filled.seconds.toFixed(3)} s\n`)
    const { samples, warmup } = await interleavedRuns({
      runs: options.runs,
      label: id,
      sides: {
        listener: async () => {
          const reply = await profiled(id, () => client.call({ op: 'fetch', port, topic: FETCH_TOPIC, records: data.records, maxBytes: FETCH_MAX_BYTES, partitionMaxBytes: PARTITION_MAX_BYTES }))
          if (reply.bytes !== data.bytes) throw new Error(`W8 fetch: ${reply.bytes} bytes of batches, expected ${data.bytes}`)
          return reply.seconds
        },
        loopback: async () => (await profiled(`${id}.loopback`, () => client.call({ op: 'loopback', port: loopback.port, bytes: data.bytes }))).seconds,
        inProcess: () =>
          timed(async () => {
            let count = 0
            for await (const _ of spool.read(FETCH_TOPIC, { partition: 0, fromOffset: 0, toOffset: data.records - 1 })) count++
            if (count !== data.records) throw new Error(`W8 in-process read: ${count} records, expected ${data.records}`)
          }),
      },
    })
    const side = (label: string, name: keyof typeof samples): SideResult => sideResult(label, samples[name], warmup[name], data.records, data.bytes)
    const ratio = summarize(perRoundRatio(samples.listener, samples.loopback))
    return {
      id,
      workload: 'W8',
      title: `W8 fetch ${FETCH_VALUE_BYTES} B values`,
      valueBytes: FETCH_VALUE_BYTES,
      records: data.records,
      bytes: data.bytes,
      runs: options.runs,
      listener: side(`Fetch v11 through spool.listen() from offset 0 to the end, one request in flight, max.partition.fetch.bytes 1 MiB, fetch.max.bytes 50 MiB`, 'listener'),
      loopback: side('the same stored bytes written by a plain net server in the bench process and read by the client process (no framing, no round trips; read straight into one reused buffer, as the wire client reads)', 'loopback'),
      inProcess: side('spool.read() of the same records in the bench process (each record decoded)', 'inProcess'),
      ratio,
      inProcessRatio: summarize(perRoundRatio(samples.listener, samples.inProcess)),
      target: { text: `≥ ${Math.round(FETCH_TARGET * 100)}% of loopback`, met: ratio.median >= FETCH_TARGET },
    }
  } finally {
    await loopback.close()
    await spool.close()
    removeDir(dir)
  }
}

export async function listenerWorkloads(options: ListenerOptions): Promise<ListenerReport> {
  const client = await ClientProcess.start()
  try {
    const produce: ListenerProduceResult[] = []
    let roundTrip: LatencySide | null = null
    // 0 requests: fetch alone (for profiling it).
    if (options.produceRequests > 0) {
      for (const flush of ['always', 'never'] as const) produce.push(await produceWorkload(flush, options, client))
      roundTrip = await roundTripWorkload(options, client)
    }
    return { client: CLIENT_DESCRIPTION, roundTrip, produce, fetch: await fetchWorkload(options, client) }
  } finally {
    client.stop()
  }
}

// `node --cpu-prof --import tsx bench/listener.ts [produceRequests fetchRecords]`: W8 alone, for profiling (the listener
// is this process; SPOOL_BENCH_PROF=DIR profiles its listener sections only, SPOOL_BENCH_CHILD_PROF=DIR the whole client
// process). 0 produce requests: fetch alone.
if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const produceRequests = Number(process.argv[2] ?? 3_000)
  const fetchRecords = Number(process.argv[3] ?? 250_000)
  const report = await listenerWorkloads({ produceRequests, fetchRecords, keyBytes: 16, seed: 0x5eed, runs: 3, logger: stderrLogger })
  process.stdout.write(`${JSON.stringify(report, null, 2)}\n`)
}
