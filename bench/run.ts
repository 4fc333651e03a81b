/**
 * `npm run bench [-- --quick] [-- --out FILE] [-- --runs N] [-- --peers a,b|none]`: runs
 * W1 (append), P1/P2 (producer), W2 (replay), W3 (latency) and W4 (groups) beside raw fs
 * on the same bytes, then W5 (recovery after SIGKILL) and W6 (open of 10,000 segments),
 * which have no raw twin; the installed peers (bench/peers, scripts/install-peers.sh) run
 * W1/W2 on the same dataset and W3 at the same rate. Prints Markdown tables and writes
 * the figures to bench/results/latest.json (or --out, or $SPOOL_BENCH_OUT).
 */
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import type { Logger } from '../src/storage/logger.js'
import { appendWorkload } from './append.js'
import { fanoutWorkload, stabilizationWorkloads } from './groups.js'
import { latencyWorkload } from './latency.js'
import { type DatasetSize, makeDataset } from './lib/dataset.js'
import { formatBytes, formatInteger, formatMB, formatPercent, formatSummary } from './lib/format.js'
import { type MachineInfo, machineInfo } from './lib/machine.js'
import type { BenchResult, DurationResult, LatencyResult, WorkloadResult } from './lib/result.js'
import { markdownTable } from './lib/table.js'
import { removeDir } from './lib/temp-dir.js'
import { openWorkloads } from './open.js'
import { openCloseWorkloads } from './open-close.js'
import { groupCommitWorkloads, producerWorkload } from './producer.js'
import { recoveryWorkloads } from './recovery.js'
import { type PeerComparison, comparisonTable, peerComparisons, peerTable } from './peers/compare.js'
import { PeerRun } from './peers/index.js'
import type { PeerRunOptions } from './peers/peer.js'
import { replayWorkload } from './replay.js'

const DEFAULT_OUT = path.join(path.dirname(fileURLToPath(import.meta.url)), 'results', 'latest.json')
const MIN_RUNS = 3

interface BenchConfig {
  mode: 'full' | 'quick'
  records: number
  batchRecords: number
  keyBytes: number
  valueBytes: number[]
  runs: number
  warmupRuns: number
  readBytes: number
  seed: number
  /** P2: sends each concurrent sender awaits one by one. */
  sendsPerSender: number
  /** W3: the producer's steady rate, for this many seconds a run. */
  latency: { ratePerSec: number; seconds: number }
  /** W4: members joining one group, on a topic of this many partitions. */
  stabilization: { members: number; partitions: number }
  /** W4: groups × members consuming one topic of `records` at once. */
  fanout: { records: number; partitions: number; groups: number; membersPerGroup: number }
  /** W5: the two log sizes whose recovery times are compared, and the bytes past the recovery point at each kill. */
  recovery: { smallBytes: number; largeBytes: number; tailBytes: number }
  /** W6: segments of one topic, over this many partitions, one batch of `recordsPerSegment` each. */
  open: { segments: number; partitions: number; recordsPerSegment: number }
  /** W7: partition counts of the idle topic beside the one a short command writes. */
  openClose: { idlePartitions: number[] }
  /**
   * Peers (bench/peers): which to run (null: all installed), the seconds each may spend
   * on one value size's W1 and W2, and the value sizes they run at (quick: one, so the
   * suite's quick run stays within its minute).
   */
  peers: { only: string[] | null; budgetSeconds: number; valueBytes: number[] }
}

/** The producer workloads (P1, P2) use the 100-byte values, as the issue asks. */
const PRODUCER_VALUE_BYTES = 100
/** W5's writer appends 1 KiB records, as the issue asks. */
const RECOVERY_VALUE_BYTES = 1024
/** W6's segments hold small records: only how many segments there are matters. */
const OPEN_VALUE_BYTES = 100
const MiB = 1024 * 1024
const GiB = 1024 * MiB

function configFrom(argv: string[]): { config: BenchConfig; out: string } {
  const { values } = parseArgs({
    args: argv,
    options: { quick: { type: 'boolean', default: false }, out: { type: 'string' }, runs: { type: 'string' }, peers: { type: 'string' } },
    strict: true,
  })
  const runs = values.runs === undefined ? MIN_RUNS : Number(values.runs)
  if (!Number.isSafeInteger(runs) || runs < MIN_RUNS) throw new Error(`--runs must be an integer of at least ${MIN_RUNS}`)
  const config: BenchConfig = {
    mode: values.quick ? 'quick' : 'full',
    records: values.quick ? 50_000 : 1_000_000,
    batchRecords: 1_000,
    keyBytes: 16,
    valueBytes: [100, 1024],
    runs,
    warmupRuns: 1,
    readBytes: 1024 * 1024,
    seed: 0x5eed,
    sendsPerSender: values.quick ? 10 : 200,
    latency: { ratePerSec: 10_000, seconds: values.quick ? 1 : 5 },
    stabilization: { members: 50, partitions: 100 },
    fanout: { records: values.quick ? 100_000 : 1_000_000, partitions: 6, groups: 3, membersPerGroup: 3 },
    // Quick: logs a few recovery checkpoints long (64 MiB each), so that recovery still skips most of them.
    recovery: values.quick ? { smallBytes: 128 * MiB, largeBytes: 512 * MiB, tailBytes: 16 * MiB } : { smallBytes: 1 * GiB, largeBytes: 4 * GiB, tailBytes: 48 * MiB },
    // Building 10,000 segments takes ~10 s (every append rolls: an fsync and a checkpoint each); quick builds 1,000.
    open: { segments: values.quick ? 1_000 : 10_000, partitions: 10, recordsPerSegment: 10 },
    openClose: { idlePartitions: values.quick ? [10, 100] : [10, 1_000] },
    // Full: 5 peers × 2 sizes × 25 s, plus three peers' W3, keeps the whole run within 15 minutes.
    peers: { only: peerList(values.peers), budgetSeconds: values.quick ? 1.5 : 25, valueBytes: values.quick ? [PRODUCER_VALUE_BYTES] : [100, 1024] },
  }
  const out = path.resolve(values.out ?? process.env['SPOOL_BENCH_OUT'] ?? DEFAULT_OUT)
  return { config, out }
}

/** `--peers redis,sqlite` runs only those; `--peers none` runs none. */
function peerList(value: string | undefined): string[] | null {
  if (value === undefined) return null
  return value === 'none' ? [] : value.split(',').map((name) => name.trim())
}

interface AppendPhase {
  results: WorkloadResult[]
  /** W1's warm-up partition, for W2; the caller removes it. */
  replayDir: string
  size: DatasetSize
}

/**
 * W1 for one value size. The dataset lives only in here: W2 runs after it is dropped, so
 * that a million live record objects do not slow down the replay's garbage collections.
 */
async function appendPhase(config: BenchConfig, valueBytes: number, peers: PeerRun, logger: Logger): Promise<AppendPhase> {
  const data = makeDataset({ records: config.records, batchRecords: config.batchRecords, keyBytes: config.keyBytes, valueBytes, seed: config.seed })
  process.stderr.write(`${formatInteger(data.records)} records of ${valueBytes} B values: ${formatBytes(data.bytes)} of log\n`)
  const size: DatasetSize = { records: data.records, bytes: data.bytes, valueBytes: data.valueBytes }
  const never = await appendWorkload(data, 'never', { runs: config.runs, logger, keepWarmupDir: true })
  try {
    const always = await appendWorkload(data, 'always', { runs: config.runs, logger, keepWarmupDir: false })
    const results = [never.result, always.result]
    if (valueBytes === PRODUCER_VALUE_BYTES) {
      for (const flush of ['never', 'always'] as const) results.push(await producerWorkload(data, flush, config.runs, logger))
      results.push(...(await groupCommitWorkloads(data, config.sendsPerSender, config.runs, logger)))
    }
    if (config.peers.valueBytes.includes(valueBytes)) await peers.throughput(data, peerRunOptions(config))
    return { results, replayDir: never.dir!, size }
  } catch (error) {
    if (never.dir !== null) removeDir(never.dir)
    throw error
  }
}

const peerRunOptions = (config: BenchConfig): PeerRunOptions => ({ mode: config.mode, runs: config.runs, budgetSeconds: config.peers.budgetSeconds })

/** W3 (and the peers' W3 right after it) and W4, on the 100-byte values. */
async function latencyAndGroups(config: BenchConfig, peers: PeerRun, logger: Logger): Promise<BenchResult[]> {
  const { runs, keyBytes, batchRecords, seed, readBytes } = config
  const valueBytes = PRODUCER_VALUE_BYTES
  const latency = await latencyWorkload({ ...config.latency, keyBytes, valueBytes, seed, runs, logger })
  await peers.latency({ ...config.latency, keyBytes, valueBytes, seed, runs })
  return [
    latency,
    ...(await stabilizationWorkloads({ ...config.stabilization, runs, logger })),
    await fanoutWorkload({ ...config.fanout, batchRecords, keyBytes, valueBytes, seed, readBytes, runs, logger }),
  ]
}

/** W5 and W6: how long a restart takes, after a crash and with many segments. */
async function restarts(config: BenchConfig, logger: Logger): Promise<BenchResult[]> {
  const { runs, keyBytes, batchRecords, seed } = config
  return [
    ...(await recoveryWorkloads({ ...config.recovery, keyBytes, valueBytes: RECOVERY_VALUE_BYTES, batchRecords, seed, runs, logger })),
    ...(await openWorkloads({ ...config.open, keyBytes, valueBytes: OPEN_VALUE_BYTES, seed, runs, logger })),
    ...(await openCloseWorkloads({ ...config.openClose, runs, logger })),
  ]
}

async function runAll(config: BenchConfig, peers: PeerRun, logger: Logger): Promise<BenchResult[]> {
  const appends: WorkloadResult[] = []
  const replays: WorkloadResult[] = []
  for (const valueBytes of config.valueBytes) {
    const phase = await appendPhase(config, valueBytes, peers, logger)
    appends.push(...phase.results)
    try {
      replays.push(await replayWorkload(phase.replayDir, phase.size, { runs: config.runs, readBytes: config.readBytes, logger }))
    } finally {
      removeDir(phase.replayDir)
    }
  }
  return [...appends, ...replays, ...(await latencyAndGroups(config, peers, logger)), ...(await restarts(config, logger))]
}

const met = (r: BenchResult): string => (r.target === null ? '' : r.target.met ? 'yes' : 'NO')

function throughputTable(results: readonly WorkloadResult[]): string {
  const rows = results.map((r) => [
    r.title,
    formatSummary(r.spool.recordsPerSec, formatInteger),
    formatSummary(r.spool.mbPerSec, formatMB),
    formatSummary(r.raw.recordsPerSec, formatInteger),
    formatSummary(r.raw.mbPerSec, formatMB),
    formatSummary(r.ratio, formatPercent),
    r.target?.text ?? '—',
    met(r),
  ])
  return markdownTable(
    ['Workload', 'spool records/s', 'spool MB/s', 'raw records/s', 'raw MB/s', 'spool/raw', 'target', 'met'],
    rows,
    ['left', 'right', 'right', 'right', 'right', 'right', 'left', 'left'],
  )
}

const formatRatio = (n: number): string => `${n.toFixed(1)}×`

function latencyTable(results: readonly LatencyResult[]): string {
  const rows = results.map((r) => [
    r.title,
    ...(['p50', 'p99', 'p999'] as const).map((p) => formatSummary(r.spool[p], formatInteger)),
    ...(['p50', 'p99', 'p999'] as const).map((p) => formatSummary(r.raw[p], formatInteger)),
    formatSummary(r.ratio.p99, formatRatio),
    r.target?.text ?? '—',
    met(r),
  ])
  return markdownTable(
    ['Workload', 'spool p50 µs', 'spool p99 µs', 'spool p999 µs', 'raw p50 µs', 'raw p99 µs', 'raw p999 µs', 'p99 spool/raw', 'target', 'met'],
    rows,
    ['left', 'right', 'right', 'right', 'right', 'right', 'right', 'right', 'left', 'left'],
  )
}

function durationTable(results: readonly DurationResult[]): string {
  const rows = results.map((r) => [r.title, formatSummary(r.spool.seconds, (s) => formatMB(s * 1000)), r.target?.text ?? '—', met(r)])
  return markdownTable(['Workload', 'time ms', 'target', 'met'], rows, ['left', 'right', 'left', 'left'])
}

type RunMachine = MachineInfo & { loadAverageAtStart: number[] }

function report(config: BenchConfig, machine: RunMachine, results: readonly BenchResult[], peers: PeerRun, comparisons: readonly PeerComparison[], date: string, out: string): string {
  const of = <K extends BenchResult['kind']>(kind: K) => results.filter((r): r is Extract<BenchResult, { kind: K }> => r.kind === kind)
  const { latency, stabilization, fanout, recovery, open } = config
  return [
    `## spool benchmark (${config.mode}), ${date}`,
    '',
    `${machine.cpu} × ${machine.cpuCount}, ${machine.os}, Node ${machine.node}, temp dir ${machine.tmpdir} (${machine.tmpdirFileSystem ?? 'file system unknown'}); ` +
      `load average ${machine.loadAverageAtStart.join(' ')} at the start, ${machine.loadAverage.join(' ')} at the end`,
    `${formatInteger(config.records)} records a workload (W4 fan-out: ${formatInteger(fanout.records)}), ${formatInteger(config.batchRecords)} a batch, ${config.keyBytes} B keys; ` +
      `${config.runs} runs each after ${config.warmupRuns} untimed warm-up, fresh temp dir each run; figures are median (min–max); MB = 10^6 bytes.`,
    '',
    throughputTable(of('throughput')),
    '',
    "raw: W1 'never' = fs.writeSync of the same encoded batches, one chunk per batch; W1 'always' = the same plus fs.fdatasyncSync after each chunk;",
    `W2, W4 = fs.readSync of the same .log files in ${formatBytes(config.readBytes)} chunks (page cache warmed for both sides). spool/raw = raw time / spool time, per paired run.`,
    `W4 fan-out: ${fanout.groups} groups × ${fanout.membersPerGroup} members on one ${fanout.partitions}-partition topic at once; records/s per group (all groups together: ${fanout.groups}×).`,
    '',
    latencyTable(of('latency')),
    '',
    `W3: send → eachRecord at ${formatInteger(latency.ratePerSec)} records/s for ${latency.seconds} s a run (sends on a ~1 ms timer, each stamped just before send());`,
    'raw = fs.writeSync of each record, then fs.readSync by a reader woken by an in-process event, same pacing. p99 spool/raw per paired run.',
    '',
    durationTable(of('duration')),
    '',
    `W4 stabilization: ${stabilization.members} consumers of one group in this process, one topic of ${stabilization.partitions} partitions, cooperative-sticky;`,
    "until every member's assignment() equals the latest rebalance's and the coordinator reports the group stable.",
    `W5, W6 time what a restart takes: openSpool + describeTopic (end offsets) + a read of each partition's newest record. W5: after SIGKILL of a writer of ${RECOVERY_VALUE_BYTES} B values (flush 'never')`,
    `killed once ≥ ${formatBytes(recovery.tailBytes)} lay past the recovery point on disk; each log is built by the warm-up, then a new writer appends and is killed before each run (sizes take turns).`,
    `W6: one topic of ${formatInteger(open.segments)} segments over ${open.partitions} partitions, after a clean close, and with the clean-shutdown markers removed (recovery from the recovery point).`,
    `W7: openSpool + one send to a 2-partition topic + close, beside an idle topic of ${config.openClose.idlePartitions.map(formatInteger).join(' and of ')} partitions (closed cleanly).`,
    '',
    '### Peers, same dataset, same run',
    '',
    peerTable(peers.reports),
    '',
    `Each peer runs on its own terms (its setting is named) on a prefix of the same dataset, sized to ${config.peers.budgetSeconds} s of W1+W2 per value size; servers on 127.0.0.1, fresh data dir each run.`,
    '',
    comparisonTable(comparisons),
    '',
    `Results: ${displayPath(out)}`,
  ].join('\n')
}

function displayPath(file: string): string {
  const relative = path.relative(process.cwd(), file)
  return relative.startsWith('..') || path.isAbsolute(relative) ? file : relative
}

function writeJson(file: string, value: unknown): void {
  fs.mkdirSync(path.dirname(file), { recursive: true })
  const temp = `${file}.tmp`
  fs.writeFileSync(temp, `${JSON.stringify(value, null, 2)}\n`)
  fs.renameSync(temp, file)
}

async function main(): Promise<void> {
  const { config, out } = configFrom(process.argv.slice(2))
  const warnings: string[] = []
  const logger: Logger = {
    warn: (message) => {
      warnings.push(message)
      process.stderr.write(`spool: warning: ${message}\n`)
    },
  }
  const date = new Date().toISOString()
  const loadAverageAtStart = machineInfo().loadAverage
  const peers = await PeerRun.probe(config.peers.only)
  const results = await runAll(config, peers, logger)
  const machine: RunMachine = { ...machineInfo(), loadAverageAtStart }
  const comparisons = peerComparisons(results, peers.reports)
  writeJson(out, { schema: 1, date, mode: config.mode, machine, config, workloads: results, peers: peers.reports, peerComparisons: comparisons, warnings })
  process.stdout.write(`${report(config, machine, results, peers, comparisons, date, out)}\n`)
}

main().catch((error: unknown) => {
  process.stderr.write(`bench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`)
  process.exitCode = 1
})
