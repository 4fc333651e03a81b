/**
 * The report's workload tables: the public-API summary first, then every workload by
 * kind (throughput, latency, duration), and the peers' processes' memory. Every row
 * carries the peaks of the process that measured it.
 */
import type { PeerReport } from '../peers/peer.js'
import { formatInteger, formatMB, formatPercent, formatSummary } from './format.js'
import type { PeerResultWithMemory } from './peer-fork.js'
import type { PublicFigure, PublicRow } from './public-api.js'
import { MEMORY_HEADERS, memoryCells } from './report-sections.js'
import type { BenchResult, DurationResult, LatencyResult, WorkloadResult } from './result.js'
import { type Align, markdownTable } from './table.js'

const met = (value: boolean | null | undefined): string => (value === null || value === undefined ? '' : value ? 'yes' : 'NO')
const targetCells = (r: BenchResult): [string, string] => [r.target?.text ?? '—', met(r.target?.met)]
const formatRatio = (n: number): string => `${n.toFixed(1)}×`
const right = (n: number): Align[] => Array.from({ length: n }, (): Align => 'right')

/** records/s of the untimed first run (the warm-up): the first in its fresh process. */
const firstPass = (r: WorkloadResult): number => r.records / r.spool.warmupSeconds

export function throughputTable(results: readonly WorkloadResult[]): string {
  const rows = results.map((r) => [
    r.title,
    formatSummary(r.spool.recordsPerSec, formatInteger),
    formatInteger(firstPass(r)),
    formatSummary(r.spool.mbPerSec, formatMB),
    formatSummary(r.raw.recordsPerSec, formatInteger),
    formatSummary(r.raw.mbPerSec, formatMB),
    formatSummary(r.ratio, formatPercent),
    ...memoryCells(r.memory),
    ...targetCells(r),
  ])
  return markdownTable(
    ['Workload', 'spool records/s', 'first pass records/s', 'spool MB/s', 'raw records/s', 'raw MB/s', 'spool/raw', ...MEMORY_HEADERS, 'target', 'met'],
    rows,
    ['left', ...right(8), 'left', 'left'],
  )
}

export function latencyTable(results: readonly LatencyResult[]): string {
  const rows = results.map((r) => [
    r.title,
    ...(['p50', 'p99', 'p999'] as const).map((p) => formatSummary(r.spool[p], formatInteger)),
    ...(['p50', 'p99', 'p999'] as const).map((p) => formatSummary(r.raw[p], formatInteger)),
    formatSummary(r.ratio.p99, formatRatio),
    ...memoryCells(r.memory),
    ...targetCells(r),
  ])
  return markdownTable(
    ['Workload', 'spool p50 µs', 'spool p99 µs', 'spool p999 µs', 'raw p50 µs', 'raw p99 µs', 'raw p999 µs', 'p99 spool/raw', ...MEMORY_HEADERS, 'target', 'met'],
    rows,
    ['left', ...right(9), 'left', 'left'],
  )
}

export function durationTable(results: readonly DurationResult[]): string {
  const rows = results.map((r) => [r.title, formatSummary(r.spool.seconds, (s) => formatMB(s * 1000)), ...memoryCells(r.memory), ...targetCells(r)])
  return markdownTable(['Workload', 'time ms', ...MEMORY_HEADERS, 'target', 'met'], rows, ['left', ...right(3), 'left', 'left'])
}

function figure(row: PublicRow, f: PublicFigure | null): string {
  if (f === null) return '—'
  return row.unit === 'µs' ? `${formatInteger(f.value)} µs` : formatInteger(f.value)
}

/** The public-API rows: spool as an application calls it, beside the storage layer, raw fs and the fastest peer. */
export function publicTable(rows: readonly PublicRow[]): string {
  const cells = rows.map((r) => [
    r.title,
    r.unit === 'µs' ? r.spool.label : formatInteger(r.spool.value),
    figure(r, r.storage),
    figure(r, r.raw),
    r.fastestPeer === null ? '—' : `${figure(r, r.fastestPeer)} (${r.fastestPeer.label})`,
    ...memoryCells(r.memory),
    r.checks.map((c) => c.text).join('; ') || '—',
    met(r.met),
  ])
  return markdownTable(
    ['Workload (records/s; W3: µs)', 'spool, public API', 'storage layer', 'raw fs', 'fastest peer, same run', ...MEMORY_HEADERS, 'targets (issue 17)', 'met'],
    cells,
    ['left', ...right(6), 'left', 'left'],
  )
}

/** Each peer process's peaks (a server peer's server is another process, not counted). */
export function peerMemoryTable(reports: readonly PeerReport[]): string {
  const rows = reports.flatMap((report) => {
    const seen = new Set<string>()
    return (report.results as PeerResultWithMemory[]).flatMap((r) => {
      const key = `${r.workload === 'W3' ? 'W3' : 'W1/W2'} ${r.valueBytes} B`
      if (seen.has(key) || r.memory === undefined) return []
      seen.add(key)
      return [[report.peer, key, ...memoryCells(r.memory)]]
    })
  })
  return markdownTable(['Peer', 'process', ...MEMORY_HEADERS], rows, ['left', 'left', 'right', 'right'])
}
