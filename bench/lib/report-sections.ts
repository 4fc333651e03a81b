/**
 * The report's sections on format v2's costs (compression, idempotence, the checksum)
 * and on W8 (the Kafka listener): Markdown tables and the notes that say how each figure
 * was measured.
 */
import type { CompressionReport } from '../compression.js'
import type { CrcReport } from '../crc.js'
import type { IdempotenceResult } from '../idempotence.js'
import type { ListenerReport } from '../listener.js'
import { type BenchConfig, PRODUCER_VALUE_BYTES } from './config.js'
import { formatBytes, formatInteger, formatMB, formatPercent, formatSummary } from './format.js'
import type { MemoryPeak } from './memory.js'
import { markdownTable } from './table.js'

/** A section's figures with the peaks of the process that measured them. */
export type WithMemory<T> = T & { memory: MemoryPeak }

/** Format v2's costs, beside what they cost: compression, idempotence, the checksum. */
export interface FormatCosts {
  compression: WithMemory<CompressionReport>
  idempotence: WithMemory<IdempotenceResult>[]
  crc: WithMemory<CrcReport>
}

/** `12.0 MiB (5.8 MiB at start)`. */
const arrayBuffers = (memory: MemoryPeak): string => `${formatBytes(memory.peakArrayBuffersBytes)} (${formatBytes(memory.startArrayBuffersBytes)})`

/** `peak RSS 210.3 MiB, peak arrayBuffers 12.0 MiB (5.8 MiB at the first run's start)`. */
export function formatMemory(memory: MemoryPeak | null): string {
  if (memory === null) return 'memory not measured'
  return `peak RSS ${formatBytes(memory.maxRssBytes)}, peak arrayBuffers ${formatBytes(memory.peakArrayBuffersBytes)} (${formatBytes(memory.startArrayBuffersBytes)} as the first run started)`
}

/** The two memory cells of a table row. */
export function memoryCells(memory: MemoryPeak | null): [string, string] {
  return memory === null ? ['—', '—'] : [formatBytes(memory.maxRssBytes), arrayBuffers(memory)]
}

export const MEMORY_HEADERS = ['peak RSS', 'peak arrayBuffers (at start)'] as const

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

function idempotenceTable(results: readonly WithMemory<IdempotenceResult>[]): string {
  const rows = results.map((r) => [
    r.title,
    formatSummary(r.on.recordsPerSec, formatInteger),
    formatSummary(r.off.recordsPerSec, formatInteger),
    formatSummary(r.ratio, formatPercent),
    formatSummary(r.onVsRaw, formatPercent),
    formatSummary(r.offVsRaw, formatPercent),
    ...memoryCells(r.memory),
  ])
  return markdownTable(
    ['Workload', 'idempotent records/s', 'not idempotent records/s', 'on/off', 'on/raw', 'off/raw', ...MEMORY_HEADERS],
    rows,
    ['left', 'right', 'right', 'right', 'right', 'right', 'right', 'right'],
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

export function listenerTables(report: WithMemory<ListenerReport>): string {
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
    "loopback = the same stored bytes written by a plain net server in the bench process to a socket the client process reads (no framing, no round trips; read straight into one reused buffer, as the wire client reads): the socket's own limit;",
    'in-process = spool.read() of the same records (each record decoded). MB/s of stored batch bytes; ratios per round, the three sides\' order rotating.',
    `Client: ${report.client}. The listener's process (the bench's W8 process, with its in-process side): ${formatMemory(report.memory)}.`,
  ].join('\n')
}

export function formatCostsReport(config: BenchConfig, costs: FormatCosts): string {
  const { compression, idempotence, crc } = costs
  const sizes = config.compression.sizes.map((s) => `${formatInteger(s.records)} records of ${s.valueBytes} B`).join(', ')
  return [
    "### Compression: W1 (flush 'never') and W2 with each codec beside none",
    '',
    `Codecs here: ${Object.entries(compression.implementations).map(([codec, impl]) => `${codec} = ${impl}`).join('; ')}.`,
    '',
    compressionTable(compression),
    '',
    `All codecs and sizes in one process: ${formatMemory(compression.memory)}.`,
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
    'on, off and raw take turns in each round; the four cases share one process, so their memory columns are its peaks.',
    '',
    '### CRC-32C (format v2) beside CRC-32 (v1)',
    '',
    `crc32c = ${crc.implementations.crc32c}; crc32 = ${crc.implementations.crc32}.`,
    '',
    crcTables(crc),
    '',
    `The micro-benchmark's process: ${formatMemory(crc.memory)}.`,
    'GB = 10^9 bytes; views at varying offsets of a 4 MiB random buffer. Share of time = the workload\'s bytes/s ÷ the checksum\'s bytes/s at its batch size:',
    'each batch is checksummed once as W1 encodes it and once as W2 reads it (twice when compressed: the plain batch, then the compressed one).',
  ].join('\n')
}

