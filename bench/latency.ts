/**
 * W3 latency: a producer sends at a steady rate (10,000 records/s) for a few seconds to a
 * one-partition topic with flush 'never', and one push consumer (`run({ eachRecord })`)
 * takes them; each value carries its send time, stamped just before `send()`, so the
 * figure is send → eachRecord. Beside it, the physical twin at the same rate and with
 * the same pacing: `fs.writeSync` of each record's bytes to a file, then a reader in the
 * same process, woken by an in-process event, `fs.readSync`s them back.
 */
import fs from 'node:fs'
import path from 'node:path'
import { pathToFileURL } from 'node:url'
import { Notifier } from '../src/client/notifier.js'
import { openSpool } from '../src/client/spool.js'
import { type Logger, stderrLogger } from '../src/storage/logger.js'
import { recordBytes } from './lib/dataset.js'
import { formatInteger } from './lib/format.js'
import { paced } from './lib/pacer.js'
import { type LatencyResult, type LatencySample, latencyResult } from './lib/result.js'
import { quantile } from './lib/stats.js'
import { inFreshDir } from './lib/temp-dir.js'
import { pairedTrials, within } from './lib/timing.js'

export interface LatencyOptions {
  ratePerSec: number
  seconds: number
  keyBytes: number
  valueBytes: number
  seed: number
  runs: number
  logger: Logger
}

export interface LatencyRecord {
  /** key then value, as the raw side writes them. */
  bytes: Buffer
  key: Buffer
  value: Buffer
}

const TOPIC = 'latency'
/** The raw reader's buffer: many records a read when it falls behind. */
const READ_CHUNK_BYTES = 64 * 1024
/** How long past the last send a run may wait for its last delivery before it fails. */
export const DRAIN_TIMEOUT_MS = 30_000

/** Stamps the send time (performance.now(), float64 ms) into the value's first bytes. */
export function stamp(value: Buffer): void {
  value.writeDoubleLE(performance.now(), 0)
}

/** Deterministic records (views into one seeded arena) with room for the stamp. */
export function latencyRecords(options: Pick<LatencyOptions, 'keyBytes' | 'valueBytes' | 'ratePerSec' | 'seconds' | 'seed'>): LatencyRecord[] {
  const size = options.keyBytes + options.valueBytes
  const count = Math.round(options.ratePerSec * options.seconds)
  const arena = recordBytes(options.seed, count * size)
  return Array.from({ length: count }, (_, i) => {
    const bytes = arena.subarray(i * size, (i + 1) * size)
    return { bytes, key: bytes.subarray(0, options.keyBytes), value: bytes.subarray(options.keyBytes) }
  })
}

/** Send → delivery times of one run, in microseconds. */
export class Latencies {
  private readonly micros: Float64Array
  private count = 0
  private finish!: () => void
  private readonly all = new Promise<void>((resolve) => (this.finish = resolve))

  constructor(readonly expected: number) {
    this.micros = new Float64Array(expected)
  }

  get done(): boolean {
    return this.count >= this.expected
  }

  /** A stamped value has arrived. */
  add(value: Buffer): void {
    if (this.done) throw new Error(`more than the ${this.expected} records sent arrived`)
    this.micros[this.count++] = (performance.now() - value.readDoubleLE(0)) * 1000
    if (this.done) this.finish()
  }

  /** Resolves when every record has arrived; rejects after `timeoutMs`, or if `consumer` (what takes them) settles first. */
  async complete(consumer: Promise<unknown>, timeoutMs: number): Promise<void> {
    const stopped = consumer.then(() => {
      if (!this.done) throw new Error(`the consumer stopped after ${this.count} of ${this.expected} records`)
    })
    await within(Promise.race([this.all, stopped]), timeoutMs, () => `only ${this.count} of ${this.expected} records arrived within ${timeoutMs} ms`)
  }

  sample(ratePerSec: number): LatencySample {
    const sorted = this.micros.sort()
    return { p50: quantile(sorted, 0.5), p99: quantile(sorted, 0.99), p999: quantile(sorted, 0.999), max: sorted[sorted.length - 1]!, ratePerSec }
  }
}

async function spoolLatency(dir: string, records: readonly LatencyRecord[], options: LatencyOptions): Promise<LatencySample> {
  const spool = await openSpool({ dir, flush: 'never', logger: options.logger })
  try {
    await spool.createTopic(TOPIC, { partitions: 1 })
    const latencies = new Latencies(records.length)
    let assigned!: () => void
    const ready = new Promise<void>((resolve) => (assigned = resolve))
    const consumer = spool.consumer({ group: 'w3', topics: [TOPIC], onAssigned: () => assigned() })
    const running = consumer.run({ eachRecord: (record) => latencies.add(record.value!) })
    await ready
    const producer = spool.producer()
    let failure: unknown = null
    const seconds = await paced(records.length, options.ratePerSec, (i) => {
      const { key, value } = records[i]!
      stamp(value)
      producer.send({ topic: TOPIC, key, value, partition: 0 }).catch((error: unknown) => (failure ??= error))
    })
    await latencies.complete(running, DRAIN_TIMEOUT_MS)
    if (failure !== null) throw failure
    await consumer.close()
    await running
    return latencies.sample(records.length / seconds)
  } finally {
    await spool.close()
  }
}

async function rawLatency(dir: string, records: readonly LatencyRecord[], options: LatencyOptions): Promise<LatencySample> {
  const recordSize = records[0]!.bytes.length
  const fd = fs.openSync(path.join(dir, 'raw.log'), 'w+')
  try {
    const latencies = new Latencies(records.length)
    const appended = new Notifier()
    let written = 0
    const reader = (async () => {
      const buffer = Buffer.allocUnsafe(READ_CHUNK_BYTES - (READ_CHUNK_BYTES % recordSize))
      let position = 0
      while (!latencies.done) {
        if (position === written) {
          await appended.wait()
          continue
        }
        const read = fs.readSync(fd, buffer, 0, Math.min(buffer.length, written - position), position)
        for (let at = 0; at < read; at += recordSize) latencies.add(buffer.subarray(at + options.keyBytes, at + recordSize))
        position += read
      }
    })()
    const seconds = await paced(records.length, options.ratePerSec, (i) => {
      const { bytes, value } = records[i]!
      stamp(value)
      if (fs.writeSync(fd, bytes, 0, bytes.length, written) !== bytes.length) throw new Error('a short write')
      written += bytes.length
      appended.notify()
    })
    await latencies.complete(reader, DRAIN_TIMEOUT_MS)
    return latencies.sample(records.length / seconds)
  } finally {
    fs.closeSync(fd)
  }
}

const micros = (n: number): string => `${formatInteger(n)} µs`
const describe = (s: LatencySample): string => `p50 ${micros(s.p50)}, p99 ${micros(s.p99)}, p999 ${micros(s.p999)} at ${formatInteger(s.ratePerSec)}/s`

export async function latencyWorkload(options: LatencyOptions): Promise<LatencyResult> {
  const id = `W3.latency.${options.valueBytes}B`
  const records = latencyRecords(options)
  const samples = await pairedTrials({
    runs: options.runs,
    label: id,
    describe,
    spool: () => inFreshDir('w3-spool', (dir) => spoolLatency(dir, records, options)),
    raw: () => inFreshDir('w3-raw', (dir) => rawLatency(dir, records, options)),
  })
  const rate = formatInteger(options.ratePerSec)
  return latencyResult(
    {
      id,
      workload: 'W3',
      title: `W3 latency ${options.valueBytes} B at ${rate} records/s, flush 'never'`,
      valueBytes: options.valueBytes,
      records: records.length,
      ratePerSec: options.ratePerSec,
    },
    {
      spool: `producer.send (stamped just before) → consumer.run eachRecord, one partition, flush 'never', ${rate} records/s for ${options.seconds} s`,
      raw: `fs.writeSync of each record's ${options.keyBytes + options.valueBytes} bytes → fs.readSync by a reader woken by an in-process event, same pacing`,
    },
    samples,
    { text: 'p99 ≤ 250 µs, p999 ≤ 1 ms', met: (r) => r.spool.p99.median <= 250 && r.spool.p999.median <= 1_000 },
  )
}

// `node --cpu-prof --import tsx bench/latency.ts [seconds]`: W3 alone, for profiling.
if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const seconds = Number(process.argv[2] ?? 5)
  const result = await latencyWorkload({ ratePerSec: 10_000, seconds, keyBytes: 16, valueBytes: 100, seed: 0x5eed, runs: 3, logger: stderrLogger })
  process.stdout.write(`${JSON.stringify(result, null, 2)}\n`)
}
