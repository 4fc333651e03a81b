/**
 * Redis Streams beside spool: one stream, each record an entry with fields `k` (key) and
 * `v` (value), written by a client over TCP to a redis-server started for the run.
 *
 * W1 pipelines a dataset batch's 1,000 XADDs and awaits their replies before the next,
 * as a producer that awaits each batch writes, with the append-only file on and RDB
 * snapshots off. Two configs: `appendfsync everysec` (the default: acknowledged before
 * the fsync, which runs once a second) and `always` (the durable twin: Redis writes and
 * fsyncs the AOF before it sends a pipeline's replies). W2 reads the stream back in
 * XRANGE pages. W3 XADDs each record on one connection while a consumer group reader
 * on another waits in XREADGROUP BLOCK.
 */
import type { RecordInput } from '../../src/record/types.js'
import { DRAIN_TIMEOUT_MS, Latencies, type LatencyRecord, latencyRecords, stamp } from '../latency.js'
import { paced } from '../lib/pacer.js'
import type { LatencySample } from '../lib/result.js'
import { timed } from '../lib/timing.js'
import { expectedRate, measureLatency } from './measure.js'
import { type Peer, type PeerConfig, type PeerLatency, loadProbed } from './peer.js'
import { type ServerSpec, type ServerStore, probeServer, serverThroughput, withServer } from './server.js'

/** A stream entry as XRANGE and XREADGROUP return it: its id and [field, value, …]. */
type Entry = [id: Buffer, fields: Buffer[]]

/** The little of ioredis 5 used here; the `…Buffer` twins return Buffers instead of strings. */
interface RedisClient {
  on(event: 'error', listener: (error: Error) => void): void
  connect(): Promise<void>
  disconnect(): void
  pipeline(): RedisPipeline
  xadd(key: string, id: '*', ...fields: (string | Buffer)[]): Promise<unknown>
  xrangeBuffer(key: string, start: string, end: string, countToken: 'COUNT', count: number): Promise<Entry[]>
  xgroup(subcommand: 'CREATE', key: string, group: string, id: '$', mkstream: 'MKSTREAM'): Promise<unknown>
  xreadgroupBuffer(...args: (string | number)[]): Promise<[stream: Buffer, entries: Entry[]][] | null>
}

interface RedisPipeline {
  xadd(key: string, id: '*', ...fields: (string | Buffer)[]): RedisPipeline
  /** Each command's [error, reply]; null when the pipeline was discarded. */
  exec(): Promise<[Error | null, unknown][] | null>
}

interface IoRedis {
  Redis: new (options: {
    host: string
    port: number
    lazyConnect: boolean
    /** null: never reconnect, so that a command to a dead server fails instead of waiting. */
    retryStrategy: () => null
    maxRetriesPerRequest: number
  }) => RedisClient
}

const NAME = 'redis'
const PACKAGE = 'ioredis'
const STREAM = 's'
const GROUP = 'g'
const CONSUMER = 'c'
/** XRANGE's page: larger pages (2,000–10,000) measured no faster at 100 B and slower at 1 KiB. */
const READ_PAGE_RECORDS = 1_000
/** At most this many entries per XREADGROUP reply when the reader falls behind. */
const W3_READ_RECORDS = 1_000

type AppendFsync = 'everysec' | 'always'

interface RedisConfig extends PeerConfig {
  appendfsync: AppendFsync
}

/**
 * Records/s W1 reaches at 100 B and at 1 KiB on the development machine (2 vCPUs) while
 * other work shared it, up to 2.5× more when quiet; they only size the runs to the
 * budget, and erring slow keeps them within it. `always` waits for the disk, so it
 * varies most with what else the machine does.
 */
const CONFIGS: readonly RedisConfig[] = [
  { name: 'AOF appendfsync everysec, pipelined XADD', durable: false, appendfsync: 'everysec', expectedPerSec: expectedRate(110_000, 60_000) },
  { name: 'AOF appendfsync always, pipelined XADD', durable: true, appendfsync: 'always', expectedPerSec: expectedRate(50_000, 20_000) },
]
const EVERYSEC = CONFIGS[0]!

function server(config: RedisConfig): ServerSpec {
  return {
    bin: 'redis-server',
    install: 'redis-server (Debian package redis-server)',
    // --save '' turns RDB snapshots off so that no background save competes with the AOF.
    args: (port, dir) => ['--bind', '127.0.0.1', '--port', String(port), '--dir', dir, '--save', '', '--appendonly', 'yes', '--appendfsync', config.appendfsync, '--loglevel', 'warning'],
  }
}

/** Runs `use` with a client connected to the server on `port`, disconnected afterwards. */
async function connected<T>(port: number, use: (client: RedisClient) => Promise<T>): Promise<T> {
  const ioredis = await loadProbed<IoRedis>(PACKAGE)
  const client = new ioredis.Redis({ host: '127.0.0.1', port, lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0 })
  client.on('error', () => {}) // a lost connection fails the pending commands, which report it; unheard, ioredis prints it too
  try {
    await client.connect()
    return await use(client)
  } finally {
    client.disconnect()
  }
}

/** Each batch one pipeline of XADDs, awaited before the next. */
async function append(client: RedisClient, batches: readonly RecordInput[][]): Promise<void> {
  for (const batch of batches) {
    const pipeline = client.pipeline()
    for (const { key, value } of batch) pipeline.xadd(STREAM, '*', 'k', key ?? EMPTY, 'v', value ?? EMPTY)
    const replies = await pipeline.exec()
    if (replies === null) throw new Error('XADD pipeline discarded')
    for (const [error] of replies) if (error !== null) throw error
  }
}

const EMPTY = Buffer.alloc(0)

/** The whole stream in XRANGE pages, each starting after the last id seen; returns the count. */
async function readAll(client: RedisClient): Promise<number> {
  let count = 0
  let start = '-'
  for (;;) {
    const page = await client.xrangeBuffer(STREAM, start, '+', 'COUNT', READ_PAGE_RECORDS)
    count += page.length
    const last = page[page.length - 1]
    if (last === undefined || page.length < READ_PAGE_RECORDS) return count
    start = `(${last[0].toString('latin1')}`
  }
}

const store: ServerStore<RedisConfig> = {
  peer: NAME,
  configs: CONFIGS,
  server,
  append: (port, batches) => connected(port, (client) => timed(() => append(client, batches))),
  replayConfig: `XRANGE COUNT ${READ_PAGE_RECORDS}`,
  replayPerSec: expectedRate(450_000, 300_000),
  replay: (port) =>
    connected(port, async (client) => {
      let records = 0
      const seconds = await timed(async () => (records = await readAll(client)))
      return { seconds, records }
    }),
}

/** W3's run: a paced producer connection, and a consumer group reader blocked on another. */
function latencyRun(records: readonly LatencyRecord[], ratePerSec: number): Promise<LatencySample> {
  return withServer(server(EVERYSEC), ({ port }) =>
    connected(port, (producer) =>
      connected(port, async (consumer) => {
        await consumer.xgroup('CREATE', STREAM, GROUP, '$', 'MKSTREAM')
        const latencies = new Latencies(records.length)
        const reading = (async () => {
          while (!latencies.done) {
            const reply = await consumer.xreadgroupBuffer('GROUP', GROUP, CONSUMER, 'BLOCK', 0, 'COUNT', W3_READ_RECORDS, 'STREAMS', STREAM, '>')
            for (const [, fields] of reply?.[0]?.[1] ?? []) latencies.add(valueField(fields))
          }
        })()
        reading.catch(() => {}) // observed by latencies.complete, which may only start after it failed
        let failure: unknown = null
        const seconds = await paced(records.length, ratePerSec, (i) => {
          const { key, value } = records[i]!
          stamp(value)
          producer.xadd(STREAM, '*', 'k', key, 'v', value).catch((error: unknown) => (failure ??= error))
        })
        await latencies.complete(reading, DRAIN_TIMEOUT_MS)
        if (failure !== null) throw failure
        return latencies.sample(records.length / seconds)
      }),
    ),
  )
}

/** The value of an entry written as [k, key, v, value]. */
function valueField(fields: Buffer[]): Buffer {
  const value = fields[3]
  if (value === undefined || fields.length !== 4) throw new Error(`a stream entry of ${fields.length} fields, not [k, key, v, value]`)
  return value
}

export const redisPeer: Peer = {
  name: NAME,

  probe: () => probeServer(server(EVERYSEC), PACKAGE),

  throughput: (data, options) => serverThroughput(store, data, options),

  async latency(options): Promise<PeerLatency[]> {
    const records = latencyRecords(options)
    const rate = options.ratePerSec.toLocaleString('en-US')
    const config = `XADD ${rate}/s → XREADGROUP BLOCK, AOF appendfsync everysec`
    const base = { peer: NAME, workload: 'W3' as const, config, valueBytes: options.valueBytes, records: records.length, ratePerSec: options.ratePerSec }
    return [await measureLatency(base, options.runs, () => latencyRun(records, options.ratePerSec))]
  },
}
