/**
 * NATS JetStream beside spool: one stream with file storage on one subject, written by
 * a client over TCP to a nats-server started for the run. A message's data is the
 * record's key then its value: NATS headers are text lines, so a binary key would have
 * to be encoded (base64) to travel in one; a fixed-size prefix needs no encoding, and as
 * the dataset's records lie key then value, the data is a view, not a copy.
 *
 * W1 starts a dataset batch's 1,000 async publishes and awaits all their acks before the
 * next batch. It has no durable twin: nats-server 2.9 acknowledges once the message is
 * in its file store's buffers and syncs to disk on a timer, never per message (a sync on
 * every write, `sync_interval: always`, came with 2.10). W2 reads the stream back in
 * order with an ordered (pull) consumer. W3 publishes each record while an ordered push
 * subscription takes them.
 */
import type { RecordInput } from '../../src/record/types.js'
import { DRAIN_TIMEOUT_MS, Latencies, type LatencyRecord, latencyRecords, stamp } from '../latency.js'
import { paced } from '../lib/pacer.js'
import type { LatencySample } from '../lib/result.js'
import { timed } from '../lib/timing.js'
import { expectedRate, measureLatency } from './measure.js'
import { type Peer, type PeerConfig, type PeerLatency, type PeerLatencyOptions, keyThenValue, loadProbed } from './peer.js'
import { type ServerSpec, type ServerStore, probeServer, serverThroughput, withServer } from './server.js'

/** The little of nats.js 2 used here. */
interface NatsConnection {
  jetstream(): JetStreamClient
  jetstreamManager(): Promise<{
    streams: {
      add(config: { name: string; subjects: string[]; storage: 'file' }): Promise<unknown>
      info(stream: string): Promise<{ state: { messages: number } }>
    }
  }>
  close(): Promise<void>
}

interface JetStreamClient {
  /** Resolves with the stream's ack once the message is stored. */
  publish(subject: string, data: Uint8Array): Promise<unknown>
  consumers: { get(stream: string): Promise<OrderedConsumer> }
  /** A push subscription; deprecated beside the pull API, which has no push consumer in this version. */
  subscribe(subject: string, options: ConsumerOptsBuilder): Promise<{ unsubscribe(): void }>
}

interface OrderedConsumer {
  consume(options: { max_messages: number }): Promise<AsyncIterable<JsMsg> & { stop(): void }>
}

interface JsMsg {
  data: Uint8Array
}

interface ConsumerOptsBuilder {
  orderedConsumer(): ConsumerOptsBuilder
  callback(fn: (error: Error | null, message: JsMsg | null) => void): ConsumerOptsBuilder
}

interface Nats {
  connect(options: { servers: string; reconnect: boolean }): Promise<NatsConnection>
  consumerOpts(): ConsumerOptsBuilder
}

const NAME = 'nats'
const PACKAGE = 'nats'
const STREAM = 'log'
const SUBJECT = 'log'
/** How many messages the ordered consumer asks for at a time (it asks for more as it goes). */
const READ_BATCH_MESSAGES = 10_000

/**
 * Records/s W1 reaches at 100 B and at 1 KiB on the development machine (2 vCPUs) while
 * other work shared it, up to 1.7× more when quiet; they only size the runs to the
 * budget, and erring slow keeps them within it. The client is the bottleneck: nats.js
 * spends about 40 µs of CPU on each publish (a request with its own timer and a JSON
 * ack) while the server idles.
 */
const CONFIGS: readonly PeerConfig[] = [
  { name: 'file storage, async publish, 1,000 acks in flight', durable: false, expectedPerSec: expectedRate(20_000, 18_000) },
]

const SERVER: ServerSpec = {
  bin: 'nats-server',
  install: 'nats-server (Debian package nats-server)',
  args: (port, dir) => ['-js', '-a', '127.0.0.1', '-p', String(port), '-sd', dir],
}

/** Runs `use` with a connection to the server on `port`, closed afterwards. No reconnect: a dead server fails the run. */
async function connected<T>(port: number, use: (connection: NatsConnection) => Promise<T>): Promise<T> {
  const connection = await (await loadProbed<Nats>(PACKAGE)).connect({ servers: `127.0.0.1:${port}`, reconnect: false })
  try {
    return await use(connection)
  } finally {
    await connection.close()
  }
}

async function createStream(connection: NatsConnection): Promise<void> {
  const manager = await connection.jetstreamManager()
  await manager.streams.add({ name: STREAM, subjects: [SUBJECT], storage: 'file' })
}

/** How many messages the stream holds, as the server counts them. */
async function storedMessages(connection: NatsConnection): Promise<number> {
  const manager = await connection.jetstreamManager()
  return (await manager.streams.info(STREAM)).state.messages
}

/** Each batch's publishes started together, all acks awaited before the next batch. */
async function append(js: JetStreamClient, batches: readonly RecordInput[][]): Promise<void> {
  for (const batch of batches) await Promise.all(batch.map((record) => js.publish(SUBJECT, keyThenValue(record))))
}

/**
 * The stream's first `stored` messages, in order, through an ordered consumer; returns
 * the count. A consumer waits for more at the end of the stream rather than saying it
 * is there, so the count the server reported says when to stop.
 */
async function readAll(js: JetStreamClient, stored: number): Promise<number> {
  const consumer = await js.consumers.get(STREAM)
  if (stored === 0) return 0
  const messages = await consumer.consume({ max_messages: READ_BATCH_MESSAGES })
  let count = 0
  try {
    for await (const _ of messages) if (++count === stored) break
  } finally {
    messages.stop()
  }
  return count
}

/** A message's value: its data after the key. */
function valueOf(message: JsMsg, keyBytes: number): Buffer {
  const { data } = message
  return Buffer.from(data.buffer, data.byteOffset + keyBytes, data.length - keyBytes)
}

const store: ServerStore<PeerConfig> = {
  peer: NAME,
  configs: CONFIGS,
  server: () => SERVER,
  append: (port, batches) =>
    connected(port, async (connection) => {
      await createStream(connection)
      const js = connection.jetstream()
      return timed(() => append(js, batches))
    }),
  replayConfig: `ordered consumer, consume ${READ_BATCH_MESSAGES.toLocaleString('en-US')} at a time`,
  replayPerSec: expectedRate(250_000, 200_000),
  replay: (port) =>
    connected(port, async (connection) => {
      const stored = await storedMessages(connection)
      let records = 0
      const seconds = await timed(async () => (records = await readAll(connection.jetstream(), stored)))
      return { seconds, records }
    }),
}

/** W3's run: a paced publisher, and an ordered push subscription on the same connection. */
function latencyRun(records: readonly LatencyRecord[], options: PeerLatencyOptions): Promise<LatencySample> {
  return withServer(SERVER, ({ port }) =>
    connected(port, async (connection) => {
      const nats = await loadProbed<Nats>(PACKAGE)
      await createStream(connection)
      const js = connection.jetstream()
      const latencies = new Latencies(records.length)
      let failure: unknown = null
      let stopped!: (error: unknown) => void
      const subscription = new Promise<never>((_, reject) => (stopped = reject))
      subscription.catch(() => {}) // observed by latencies.complete, which may only start after it failed
      const ordered = nats.consumerOpts().orderedConsumer().callback((error, message) => {
        if (error !== null) stopped(error)
        else if (message !== null) latencies.add(valueOf(message, options.keyBytes))
      })
      const subscriber = await js.subscribe(SUBJECT, ordered)
      try {
        const seconds = await paced(records.length, options.ratePerSec, (i) => {
          const { bytes, value } = records[i]!
          stamp(value)
          js.publish(SUBJECT, bytes).catch((error: unknown) => (failure ??= error))
        })
        await latencies.complete(subscription, DRAIN_TIMEOUT_MS)
        if (failure !== null) throw failure
        return latencies.sample(records.length / seconds)
      } finally {
        subscriber.unsubscribe()
      }
    }),
  )
}

export const natsPeer: Peer = {
  name: NAME,

  probe: () => probeServer(SERVER, PACKAGE),

  throughput: (data, options) => serverThroughput(store, data, options),

  async latency(options): Promise<PeerLatency[]> {
    const records = latencyRecords(options)
    const rate = options.ratePerSec.toLocaleString('en-US')
    const config = `publish ${rate}/s → ordered push subscription, file storage`
    const base = { peer: NAME, workload: 'W3' as const, config, valueBytes: options.valueBytes, records: records.length, ratePerSec: options.ratePerSec }
    return [await measureLatency(base, options.runs, () => latencyRun(records, options))]
  },
}
