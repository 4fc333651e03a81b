/**
 * `npm run bench [-- --quick] [-- --out FILE] [-- --runs N] [-- --peers a,b|none]`: runs
 * W1 (append), P1/P2 (producer), W2 (replay), W3 (latency) and W4 (groups) beside raw fs
 * on the same bytes, then W5 (recovery after SIGKILL) and W6 (open of 10,000 segments),
 * which have no raw twin; the installed peers (bench/peers, scripts/install-peers.sh) run
 * W1/W2 on the same dataset and W3 at the same rate. Format v2's costs: W1/W2 with each
 * compression codec beside none (bench/compression.ts), idempotence on and off
 * (bench/idempotence.ts), and CRC-32C beside CRC-32 (bench/crc.ts). W8: produce and fetch
 * through the Kafka listener, beside the in-process path and the loopback socket
 * (bench/listener.ts; issue 16's "W7", renamed: W7 is open-close). Prints Markdown
 * tables and writes the figures to bench/results/latest.json (or --out, or $SPOOL_BENCH_OUT).
 */
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import type { Logger } from '../src/storage/logger.js'
import { appendWorkload } from './append.js'
import { type CompressionReport, compressionWorkloads } from './compression.js'
import { type CrcReport, crcImplementations, crcMicro, crcShares, meanBatchBytes } from './crc.js'
import { fanoutWorkload, stabilizationWorkloads } from './groups.js'
import { latencyWorkload } from './latency.js'
import { type ListenerReport, listenerWorkloads } from './listener.js'
import { type DatasetSize, datasetPrefix, makeDataset } from './lib/dataset.js'
import { formatBytes, formatInteger, formatMB, formatPercent, formatSummary } from './lib/format.js'
import { type MachineInfo, machineInfo } from './lib/machine.js'
import type { BenchResult, DurationResult, LatencyResult, WorkloadResult } from './lib/result.js'
import { markdownTable } from './lib/table.js'
import { removeDir } from './lib/temp-dir.js'
import { openWorkloads } from './open.js'
import { openCloseWorkloads } from './open-close.js'
import { type IdempotenceResult, idempotenceWorkloads } from './idempotence.js'
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
  /** W1/W2 with each codec on JSON-like values: records for each value size (1 KiB takes a codec seconds a run). */
  compression: { sizes: { valueBytes: number; records: number }[] }
  /** Idempotence on/off: this many of W1's 100-byte records. */
  idempotence: { records: number }
  /** CRC micro-benchmark: input sizes (besides W1's batch sizes), and the seconds and number of samples per implementation. */
  crc: { sizes: number[]; sampleSeconds: number; samples: number }
  /** W8: Produce requests a run at each flush policy, and the records (1 KiB values) fetched a run. */
  listener: { produceRequests: number; fetchRecords: number }
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
    // Full: ~120 MiB and ~250 MiB of log; gzip and zstd compress it at 50-150 MB/s.
    compression: {
      sizes: values.quick
        ? [
            { valueBytes: 100, records: 2_000 },
            { valueBytes: 1024, records: 1_000 },
          ]
        : [
            { valueBytes: 100, records: 1_000_000 },
            { valueBytes: 1024, records: 250_000 },
          ],
    },
    idempotence: { records: values.quick ? 5_000 : 1_000_000 },
    crc: { sizes: [100, 1024, 16 * 1024, MiB], sampleSeconds: values.quick ? 0.004 : 0.05, samples: values.quick ? 3 : 7 },
    // Full: 3,000 requests give p99 30 samples above it; 250,000 records are ~260 MB fetched a run.
    listener: values.quick ? { produceRequests: 200, fetchRecords: 20_000 } : { produceRequests: 3_000, fetchRecords: 250_000 },
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
  /** At the producers' value size only. */
  idempotence: IdempotenceResult[]
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
    const idempotence: IdempotenceResult[] = []
    if (valueBytes === PRODUCER_VALUE_BYTES) {
      for (const flush of ['never', 'always'] as const) results.push(await producerWorkload(data, flush, config.runs, logger))
      results.push(...(await groupCommitWorkloads(data, config.sendsPerSender, config.runs, logger)))
      idempotence.push(...(await idempotenceWorkloads(datasetPrefix(data, config.idempotence.records), { runs: config.runs, logger })))
    }
    if (config.peers.valueBytes.includes(valueBytes)) await peers.throughput(data, peerRunOptions(config))
    return { results, idempotence, replayDir: never.dir!, size }
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

/** Format v2's costs, beside what they cost: compression, idempotence, the checksum. */
interface FormatCosts {
  compression: CompressionReport
  idempotence: IdempotenceResult[]
  crc: CrcReport
}

interface AllResults extends FormatCosts {
  results: BenchResult[]
  listener: ListenerReport
}

/** CRC-32C beside CRC-32, and their share of W1 'never' and of W2 at each value size. */
function crcReport(config: BenchConfig, appends: readonly WorkloadResult[], replays: readonly WorkloadResult[]): CrcReport {
  const shareOf = [...appends.filter((r) => r.workload === 'W1' && r.id.endsWith('.never')), ...replays]
  const batchSizes = shareOf.map((r) => ({ bytes: meanBatchBytes(r.bytes, r.records, config.batchRecords), note: `${r.valueBytes} B values' batch` }))
  const sizes = crcMicro(config.crc, batchSizes)
  return { implementations: crcImplementations(), sizes, shares: crcShares(sizes, shareOf, config.batchRecords) }
}

async function runAll(config: BenchConfig, peers: PeerRun, logger: Logger): Promise<AllResults> {
  const appends: WorkloadResult[] = []
  const replays: WorkloadResult[] = []
  const idempotence: IdempotenceResult[] = []
  for (const valueBytes of config.valueBytes) {
    const phase = await appendPhase(config, valueBytes, peers, logger)
    appends.push(...phase.results)
    idempotence.push(...phase.idempotence)
    try {
      replays.push(await replayWorkload(phase.replayDir, phase.size, { runs: config.runs, readBytes: config.readBytes, logger }))
    } finally {
      removeDir(phase.replayDir)
    }
  }
  const { runs, batchRecords, keyBytes, seed, readBytes } = config
  const compression = await compressionWorkloads({ ...config.compression, runs, batchRecords, keyBytes, seed, readBytes, logger })
  const crc = crcReport(config, appends, replays)
  const results = [...appends, ...replays, ...(await latencyAndGroups(config, peers, logger)), ...(await restarts(config, logger))]
  const listener = await listenerWorkloads({ ...config.listener, keyBytes, seed, runs, logger })
  return { results, compression, idempotence, crc, listener }
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
const formatFactor = (n: number): string => `${n.toFixed(2)}×`
const formatGB = (n: number): string => n.toFixed(2)

function compressionTable(report: CompressionReport): string {
  const rows = report.results.map((r) => [
    `${r.valueBytes} B`,
    r.codec,
    formatSummary(r.append.spool.recordsPerSec, formatInteger),
    formatSummary(r.appendVsNone, formatPercent),
    formatSummary(r.append.ratio, formatPercent),
    formatSummary(r.replay.spool.recordsPerSec, formatInteger),
    formatSummary(r.replayVsNone, formatPercent),
    formatSummary(r.replay.ratio, formatPercent),
    formatBytes(r.diskBytes),
    formatFactor(r.compressionRatio),
  ])
  return markdownTable(
    ['Values', 'Codec', 'W1 records/s', 'W1 vs none', 'W1 spool/raw', 'W2 records/s', 'W2 vs none', 'W2 spool/raw', 'on disk', 'ratio'],
    rows,
    ['left', 'left', 'right', 'right', 'right', 'right', 'right', 'right', 'right', 'right'],
  )
}

function idempotenceTable(results: readonly IdempotenceResult[]): string {
  const rows = results.map((r) => [
    r.title,
    formatSummary(r.on.recordsPerSec, formatInteger),
    formatSummary(r.off.recordsPerSec, formatInteger),
    formatSummary(r.ratio, formatPercent),
    formatSummary(r.onVsRaw, formatPercent),
    formatSummary(r.offVsRaw, formatPercent),
  ])
  return markdownTable(
    ['Workload', 'idempotent records/s', 'not idempotent records/s', 'on/off', 'on/raw', 'off/raw'],
    rows,
    ['left', 'right', 'right', 'right', 'right', 'right'],
  )
}

function crcTables(report: CrcReport): string {
  const names = Object.keys(report.sizes[0]?.gbPerSec ?? {})
  const speed = markdownTable(
    ['Input', ...names.map((n) => `${n} GB/s`), 'crc32c/crc32'],
    report.sizes.map((s) => [
      `${formatBytes(s.bytes)}${s.note === '' ? '' : ` (${s.note})`}`,
      ...names.map((n) => formatSummary(s.gbPerSec[n]!, formatGB)),
      formatSummary(s.crc32cVsCrc32, formatPercent),
    ]),
    ['left', ...names.map((): 'right' => 'right'), 'right'],
  )
  const share = markdownTable(
    ['Workload', 'MB/s', 'batch', 'crc32c GB/s', 'crc32c share of time', 'crc32 GB/s', 'crc32 share of time (v1)'],
    report.shares.map((s) => [
      s.workload,
      formatMB(s.mbPerSec),
      formatBytes(s.batchBytes),
      formatGB(s.crc32cGBPerSec),
      formatPercent(s.crc32cShare),
      formatGB(s.crc32GBPerSec),
      formatPercent(s.crc32Share),
    ]),
    ['left', 'right', 'right', 'right', 'right', 'right', 'right'],
  )
  return `${speed}\n\n${share}`
}

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

function listenerTables(report: ListenerReport): string {
  const micros = (side: 'listener' | 'inProcess', p: 'p50' | 'p99') => (r: ListenerReport['produce'][number]) => formatSummary(r[side][p], formatInteger)
  const produce = markdownTable(
    ['Produce, acks -1', 'listener p50 µs', 'listener p99 µs', 'in-process p50 µs', 'in-process p99 µs', 'p99 listener/in-process', 'listener records/s', 'in-process records/s', 'target', 'met'],
    report.produce.map((r) => [
      `flush '${r.flush}'`,
      micros('listener', 'p50')(r),
      micros('listener', 'p99')(r),
      micros('inProcess', 'p50')(r),
      micros('inProcess', 'p99')(r),
      formatSummary(r.latencyRatio.p99, formatFactor),
      formatSummary(r.listener.ratePerSec, formatInteger),
      formatSummary(r.inProcess.ratePerSec, formatInteger),
      r.target.text,
      r.target.met ? 'yes' : 'NO',
    ]),
    ['left', 'right', 'right', 'right', 'right', 'right', 'right', 'right', 'left', 'left'],
  )
  const f = report.fetch
  const fetch = markdownTable(
    ['Fetch', 'listener records/s', 'listener MB/s', 'loopback MB/s', 'listener/loopback', 'in-process MB/s', 'listener/in-process', 'target', 'met'],
    [
      [
        `${formatInteger(f.records)} records of ${f.valueBytes} B values`,
        formatSummary(f.listener.recordsPerSec, formatInteger),
        formatSummary(f.listener.mbPerSec, formatMB),
        formatSummary(f.loopback.mbPerSec, formatMB),
        formatSummary(f.ratio, formatPercent),
        formatSummary(f.inProcess.mbPerSec, formatMB),
        formatSummary(f.inProcessRatio, formatPercent),
        f.target.text,
        f.target.met ? 'yes' : 'NO',
      ],
    ],
    ['left', 'right', 'right', 'right', 'right', 'right', 'right', 'left', 'left'],
  )
  const p = report.produce[0]
  return [
    produce,
    '',
    p === undefined
      ? ''
      : `${formatInteger(p.requests)} Produce requests (v8) a run, ${formatInteger(p.records)} records of ${p.valueBytes} B values in batches of 1-16, one request in flight, to a one-partition topic; ` +
        'latency = request sent → response decoded, in the client process; in-process = producer.send of the same records in the listener\'s process (a request\'s sends awaited together), ' +
        'not idempotent on either side. records/s with one request in flight. Each side in a fresh data directory, sides taking turns.',
    report.roundTrip === null
      ? ''
      : `The loopback round trip alone (the same frames, one at a time, to a plain net server answering each with a Produce response's bytes): p50 ${formatSummary(report.roundTrip.p50, formatInteger)} µs, ` +
        `p99 ${formatSummary(report.roundTrip.p99, formatInteger)} µs.`,
    '',
    fetch,
    '',
    `Fetch v11 from offset 0 to the end, one request in flight, Kafka consumers' default limits (max.partition.fetch.bytes 1 MiB, fetch.max.bytes 50 MiB), of a one-partition topic filled through the listener (1,000 records a batch, ${formatBytes(f.bytes)});`,
    "loopback = the same stored bytes written by a plain net server in the bench process to a socket the client process reads (no framing, no round trips): the socket's own limit;",
    'in-process = spool.read() of the same records (each record decoded). MB/s of stored batch bytes; ratios per round, the three sides\' order rotating.',
    `Client: ${report.client}.`,
  ].join('\n')
}

type RunMachine = MachineInfo & { loadAverageAtStart: number[] }

function formatCostsReport(config: BenchConfig, costs: FormatCosts): string {
  const { compression, idempotence, crc } = costs
  const sizes = config.compression.sizes.map((s) => `${formatInteger(s.records)} records of ${s.valueBytes} B`).join(', ')
  return [
    "### Compression: W1 (flush 'never') and W2 with each codec beside none",
    '',
    `Codecs here: ${Object.entries(compression.implementations).map(([codec, impl]) => `${codec} = ${impl}`).join('; ')}.`,
    '',
    compressionTable(compression),
    '',
    `JSON-like event values from a seeded generator (${sizes}; ${config.keyBytes} B keys, ${formatInteger(config.batchRecords)} a batch). W1 = PartitionLog.append(batch, { compression }),`,
    'W2 = PartitionLog.read from offset 0, as W1 and W2 above. vs none = records/s ÷ none\'s, per round; spool/raw = beside fs.writeSync / fs.readSync of the very bytes that codec',
    'puts on disk; on disk = sum of the .log files; ratio = uncompressed ÷ on disk. Every codec and its raw twin run in each round, their order rotating.',
    '',
    '### Idempotence: on beside off',
    '',
    idempotenceTable(idempotence),
    '',
    `${formatInteger(idempotence[0]?.records ?? 0)} of W1's ${PRODUCER_VALUE_BYTES} B records. producer.send = P1's loop, spool.producer({ idempotent }); PartitionLog.append = W1's loop, with a producer identity`,
    '(id, epoch, base sequence) or without. on/off = records/s ratio per round (100% = free); raw = fs.writeSync (+ fdatasync under \'always\') of the same bytes;',
    'on, off and raw take turns in each round.',
    '',
    '### CRC-32C (format v2) beside CRC-32 (v1)',
    '',
    `crc32c = ${crc.implementations.crc32c}; crc32 = ${crc.implementations.crc32}.`,
    '',
    crcTables(crc),
    '',
    'GB = 10^9 bytes; views at varying offsets of a 4 MiB random buffer. Share of time = the workload\'s bytes/s ÷ the checksum\'s bytes/s at its batch size:',
    'each batch is checksummed once as W1 encodes it and once as W2 reads it (twice when compressed: the plain batch, then the compressed one).',
  ].join('\n')
}

function report(config: BenchConfig, machine: RunMachine, results: readonly BenchResult[], costs: FormatCosts, listener: ListenerReport, peers: PeerRun, comparisons: readonly PeerComparison[], date: string, out: string): string {
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
    formatCostsReport(config, costs),
    '',
    '### W8: the Kafka listener (spool.listen), beside the in-process path and the loopback socket',
    '',
    listenerTables(listener),
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
  const { results, listener, ...costs } = await runAll(config, peers, logger)
  const machine: RunMachine = { ...machineInfo(), loadAverageAtStart }
  const comparisons = peerComparisons(results, peers.reports)
  writeJson(out, { schema: 1, date, mode: config.mode, machine, config, workloads: results, ...costs, listener, peers: peers.reports, peerComparisons: comparisons, warnings })
  process.stdout.write(`${report(config, machine, results, costs, listener, peers, comparisons, date, out)}\n`)
}

main().catch((error: unknown) => {
  process.stderr.write(`bench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`)
  process.exitCode = 1
})
