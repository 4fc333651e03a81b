/**
 * `npm run bench [-- --quick] [-- --out FILE] [-- --runs N] [-- --peers a,b|none]`: every
 * workload in a fresh Node process of its own (lib/fork.ts runs a job of jobs.ts in
 * workload-child.ts), one at a time, as JMH forks a JVM per benchmark: no workload pays
 * for an earlier one's heap, and each one's first pass is reported. The public API first
 * (public-api.ts): W1 through producer.sendBatch and concurrent sends (P1), W2 through
 * `for await … spool.read`, beside the storage layer's rows (PartitionLog.append/read),
 * raw fs on the same bytes, and the installed peers (bench/peers, each in processes of its
 * own, scripts/install-peers.sh). Then W3 (latency), W4 (groups), W5 (recovery after
 * SIGKILL), W6 (open of 10,000 segments), W7 (open-close), format v2's costs (compression,
 * idempotence, CRC-32C) and W8 (the Kafka listener). Every figure carries the peak RSS and
 * arrayBuffers of its process. Prints Markdown tables and writes the figures to
 * bench/results/latest.json (or --out, or $SPOOL_BENCH_OUT).
 */
import fs from 'node:fs'
import path from 'node:path'
import { crcImplementations, crcShares, meanBatchBytes } from './crc.js'
import type { JobInput, JobName, JobOutput } from './jobs.js'
import { type BenchConfig, OPEN_VALUE_BYTES, PRODUCER_VALUE_BYTES, RECOVERY_VALUE_BYTES, configFrom } from './lib/config.js'
import type { DatasetSpec } from './lib/dataset.js'
import { type Forked, forkJob } from './lib/fork.js'
import { formatInteger } from './lib/format.js'
import { machineInfo } from './lib/machine.js'
import { ForkedPeers } from './lib/peer-fork.js'
import { applyPublicTargets, publicRows } from './lib/public-api.js'
import { type RunMachine, report } from './lib/report.js'
import type { FormatCosts, WithMemory } from './lib/report-sections.js'
import type { BenchResult, WorkloadResult } from './lib/result.js'
import { removeDir } from './lib/temp-dir.js'
import type { IdempotenceResult } from './idempotence.js'
import type { ListenerReport } from './listener.js'
import { peerComparisons } from './peers/compare.js'
import type { PeerRunOptions } from './peers/peer.js'
import { SEND_BATCH_TOPIC } from './send-batch.js'

const warnings: string[] = []

/** A job in its own process; its warnings join the run's. */
async function job<N extends JobName>(name: N, input: JobInput<N>): Promise<Forked<JobOutput<N>>> {
  const forked = await forkJob(name, input)
  warnings.push(...forked.warnings)
  return forked
}

/** A job whose results are workload results: each gets the peaks of the process that measured it. */
async function measured<R extends BenchResult, N extends JobName>(name: N, input: JobInput<N>, pick: (value: JobOutput<N>) => R | R[]): Promise<R[]> {
  const { value, memory } = await job(name, input)
  const picked = pick(value)
  return (Array.isArray(picked) ? picked : [picked]).map((r) => ({ ...r, memory }))
}

const datasetSpec = (config: BenchConfig, valueBytes: number, records = config.records): DatasetSpec => ({
  records,
  batchRecords: config.batchRecords,
  keyBytes: config.keyBytes,
  valueBytes,
  seed: config.seed,
})

const peerRunOptions = (config: BenchConfig): PeerRunOptions => ({ mode: config.mode, runs: config.runs, budgetSeconds: config.peers.budgetSeconds })

interface SizePhase {
  appends: WorkloadResult[]
  replays: WorkloadResult[]
  /** At the producers' value size only. */
  idempotence: WithMemory<IdempotenceResult>[]
}

/** A W1 process whose warm-up run's directory is kept for W2's processes; the caller removes it. */
async function keptWrite<N extends 'W1.sendBatch' | 'W1.append'>(name: N, input: JobInput<N>): Promise<{ result: WorkloadResult; dir: string }> {
  const { value, memory } = await job(name, input)
  if (value.dir === null) throw new Error(`${name} kept no partition for W2`)
  return { result: { ...value.result, memory }, dir: value.dir }
}

/**
 * W1 (public, then storage layer), the producers' workloads and the peers at one value
 * size, then W2: spool.read of the partition sendBatch's warm-up wrote, PartitionLog.read
 * of the one PartitionLog.append's warm-up wrote (as before the public rows existed).
 */
async function sizePhase(config: BenchConfig, valueBytes: number, peers: ForkedPeers): Promise<SizePhase> {
  const spec = datasetSpec(config, valueBytes)
  const { runs } = config
  process.stderr.write(`${formatInteger(spec.records)} records of ${valueBytes} B values, ${formatInteger(spec.batchRecords)} a batch\n`)
  const kept: string[] = []
  try {
    const sent = await keptWrite('W1.sendBatch', { spec, flush: 'never', runs, keepWarmupDir: true })
    kept.push(sent.dir)
    const appends: WorkloadResult[] = [sent.result]
    appends.push(...(await measured('W1.sendBatch', { spec, flush: 'always', runs, keepWarmupDir: false }, (v) => v.result)))
    const appended = await keptWrite('W1.append', { spec, flush: 'never', runs, keepWarmupDir: true })
    kept.push(appended.dir)
    appends.push(appended.result)
    appends.push(...(await measured('W1.append', { spec, flush: 'always', runs, keepWarmupDir: false }, (v) => v.result)))
    const idempotence: WithMemory<IdempotenceResult>[] = []
    if (valueBytes === PRODUCER_VALUE_BYTES) {
      for (const flush of ['never', 'always'] as const) appends.push(...(await measured('P1', { spec, flush, runs }, (v) => v)))
      appends.push(...(await measured('P2', { spec, sendsPerSender: config.sendsPerSender, runs }, (v) => v)))
      const i1 = await job('I1', { spec: datasetSpec(config, valueBytes, Math.min(config.records, config.idempotence.records)), runs })
      idempotence.push(...i1.value.map((r) => ({ ...r, memory: i1.memory })))
    }
    if (config.peers.valueBytes.includes(valueBytes)) await peers.throughput(spec, peerRunOptions(config))
    const read = { records: spec.records, valueBytes, runs, readBytes: config.readBytes }
    const replays = [
      ...(await measured('W2.read', { ...read, dir: sent.dir, topic: SEND_BATCH_TOPIC }, (v) => v)),
      ...(await measured('W2.replay', { ...read, dir: appended.dir }, (v) => v)),
    ]
    return { appends, replays, idempotence }
  } finally {
    for (const dir of kept) removeDir(dir)
  }
}

/** CRC-32C beside CRC-32, and their share of W1 'never' and of W2 (storage layer) at each value size. */
async function crcReport(config: BenchConfig, appends: readonly WorkloadResult[], replays: readonly WorkloadResult[]): Promise<FormatCosts['crc']> {
  const shareOf = [...appends.filter((r) => r.id.startsWith('W1.append.') && r.id.endsWith('.never')), ...replays.filter((r) => r.id.startsWith('W2.replay.'))]
  const batchSizes = shareOf.map((r) => ({ bytes: meanBatchBytes(r.bytes, r.records, config.batchRecords), note: `${r.valueBytes} B values' batch` }))
  const { value: sizes, memory } = await job('crc', { config: config.crc, batchSizes })
  return { implementations: crcImplementations(), sizes, shares: crcShares(sizes, shareOf, config.batchRecords), memory }
}

/** W3 (and the peers' W3 right after it), W4, W5, W6 and W7. */
async function consumersAndRestarts(config: BenchConfig, peers: ForkedPeers): Promise<BenchResult[]> {
  const { runs, keyBytes, batchRecords, seed, readBytes } = config
  const valueBytes = PRODUCER_VALUE_BYTES
  const results: BenchResult[] = [...(await measured('W3', { ...config.latency, keyBytes, valueBytes, seed, runs }, (v) => v))]
  await peers.latency({ ...config.latency, keyBytes, valueBytes, seed, runs })
  results.push(...(await measured('W4.stabilize', { ...config.stabilization, runs }, (v) => v)))
  results.push(...(await measured('W4.fanout', { ...config.fanout, batchRecords, keyBytes, valueBytes, seed, readBytes, runs }, (v) => v)))
  results.push(...(await measured('W5', { ...config.recovery, keyBytes, valueBytes: RECOVERY_VALUE_BYTES, batchRecords, seed, runs }, (v) => v)))
  results.push(...(await measured('W6', { ...config.open, keyBytes, valueBytes: OPEN_VALUE_BYTES, seed, runs }, (v) => v)))
  results.push(...(await measured('W7', { ...config.openClose, runs }, (v) => v)))
  return results
}

interface AllResults {
  results: BenchResult[]
  costs: FormatCosts
  listener: WithMemory<ListenerReport>
}

async function runAll(config: BenchConfig, peers: ForkedPeers): Promise<AllResults> {
  const appends: WorkloadResult[] = []
  const replays: WorkloadResult[] = []
  const idempotence: WithMemory<IdempotenceResult>[] = []
  for (const valueBytes of config.valueBytes) {
    const phase = await sizePhase(config, valueBytes, peers)
    appends.push(...phase.appends)
    replays.push(...phase.replays)
    idempotence.push(...phase.idempotence)
  }
  const { runs, batchRecords, keyBytes, seed, readBytes } = config
  const compression = await job('compression', { ...config.compression, runs, batchRecords, keyBytes, seed, readBytes })
  const crc = await crcReport(config, appends, replays)
  const results = [...appends, ...replays, ...(await consumersAndRestarts(config, peers))]
  const listener = await job('W8', { ...config.listener, keyBytes, seed, runs })
  return {
    results,
    costs: { compression: { ...compression.value, memory: compression.memory }, idempotence, crc },
    listener: { ...listener.value, memory: listener.memory },
  }
}

function writeJson(file: string, value: unknown): void {
  fs.mkdirSync(path.dirname(file), { recursive: true })
  const temp = `${file}.tmp`
  fs.writeFileSync(temp, `${JSON.stringify(value, null, 2)}\n`)
  fs.renameSync(temp, file)
}

async function main(): Promise<void> {
  const { config, out } = configFrom(process.argv.slice(2))
  const date = new Date().toISOString()
  const loadAverageAtStart = machineInfo().loadAverage
  const peers = await ForkedPeers.probe(config.peers.only)
  const { memory: idle } = await job('idle', undefined)
  const { results, costs, listener } = await runAll(config, peers)
  const machine: RunMachine = { ...machineInfo(), loadAverageAtStart }
  const publicApi = publicRows(results, peers.reports, config.valueBytes)
  applyPublicTargets(results, publicApi)
  const comparisons = peerComparisons(results, peers.reports)
  writeJson(out, { schema: 2, date, mode: config.mode, machine, config, publicApi, workloads: results, ...costs, listener, peers: peers.reports, peerComparisons: comparisons, idleProcess: idle, warnings })
  process.stdout.write(`${report({ config, machine, date, results, publicApi, costs, listener, peers: peers.reports, idle, comparisons, out })}\n`)
}

main().catch((error: unknown) => {
  process.stderr.write(`bench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`)
  process.exitCode = 1
})
