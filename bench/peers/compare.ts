/**
 * spool beside its peers: the peers' own table, and the issue's targets that compare
 * spool with every peer (W1 100 B 'never' ≥ 3× each peer's best setting, W2 ≥ 10× each
 * peer, W3 p99 below each peer's).
 */
import { formatInteger, formatSummary } from '../lib/format.js'
import type { BenchResult, LatencyResult, WorkloadResult } from '../lib/result.js'
import { markdownTable } from '../lib/table.js'
import type { PeerLatency, PeerReport, PeerThroughput } from './peer.js'

export interface PeerComparison {
  /** e.g. `W1 100 B 'never' ≥ 3× every peer's best setting` */
  target: string
  spool: number
  /** The peer figure spool must beat, by peer (its best setting). */
  peers: { peer: string; config: string; value: number }[]
  /** spool ÷ the strongest peer (for W3: the strongest peer's p99 ÷ spool's). */
  margin: number | null
  met: boolean | null
}

const throughputsOf = (reports: readonly PeerReport[], workload: 'W1' | 'W2', valueBytes: number): PeerThroughput[] =>
  reports.flatMap((r) => r.results).filter((x): x is PeerThroughput => x.kind === 'peer-throughput' && x.workload === workload && x.valueBytes === valueBytes)

const latenciesOf = (reports: readonly PeerReport[]): PeerLatency[] => reports.flatMap((r) => r.results).filter((x): x is PeerLatency => x.kind === 'peer-latency')

/** Each peer's best figure among its settings (`better` says which of two is better). */
function bestPerPeer<T extends { peer: string; config: string }>(results: readonly T[], value: (r: T) => number, better: (a: number, b: number) => boolean) {
  const best = new Map<string, { peer: string; config: string; value: number }>()
  for (const r of results) {
    const current = best.get(r.peer)
    if (current === undefined || better(value(r), current.value)) best.set(r.peer, { peer: r.peer, config: r.config, value: value(r) })
  }
  return [...best.values()]
}

function throughputComparison(target: string, spool: WorkloadResult | undefined, peers: readonly PeerThroughput[], factor: number): PeerComparison | null {
  if (spool === undefined) return null
  const best = bestPerPeer(peers, (p) => p.recordsPerSec.median, (a, b) => a > b)
  const strongest = Math.max(...best.map((b) => b.value))
  const value = spool.spool.recordsPerSec.median
  return { target, spool: value, peers: best, margin: best.length === 0 ? null : value / strongest, met: best.length === 0 ? null : value >= factor * strongest }
}

export function peerComparisons(results: readonly BenchResult[], reports: readonly PeerReport[]): PeerComparison[] {
  const throughput = (id: string) => results.find((r): r is WorkloadResult => r.kind === 'throughput' && r.id === id)
  const latency = results.find((r): r is LatencyResult => r.kind === 'latency')
  const comparisons = [
    throughputComparison("W1 100 B 'never' ≥ 3× every peer's best setting", throughput('W1.append.100B.never'), throughputsOf(reports, 'W1', 100), 3),
    throughputComparison('W2 100 B ≥ 10× every peer', throughput('W2.replay.100B'), throughputsOf(reports, 'W2', 100), 10),
  ]
  if (latency !== undefined) {
    const best = bestPerPeer(latenciesOf(reports), (p) => p.p99.median, (a, b) => a < b)
    const strongest = Math.min(...best.map((b) => b.value))
    const value = latency.spool.p99.median
    comparisons.push({
      target: "W3 p99 below every peer's p99",
      spool: value,
      peers: best,
      margin: best.length === 0 ? null : strongest / value,
      met: best.length === 0 ? null : value < strongest,
    })
  }
  return comparisons.filter((c): c is PeerComparison => c !== null)
}

const metText = (met: boolean | null): string => (met === null ? 'no peer ran' : met ? 'yes' : 'NO')

export function comparisonTable(comparisons: readonly PeerComparison[]): string {
  const rows = comparisons.map((c) => [
    c.target,
    formatInteger(c.spool),
    c.peers.map((p) => `${p.peer} ${formatInteger(p.value)}`).join(', ') || '—',
    c.margin === null ? '—' : `${c.margin.toFixed(1)}×`,
    metText(c.met),
  ])
  return markdownTable(['Target', 'spool', 'each peer at its best', 'margin over the strongest', 'met'], rows, ['left', 'right', 'left', 'right', 'left'])
}

/** Every peer figure, one row each; skipped peers as one row that says why. */
export function peerTable(reports: readonly PeerReport[]): string {
  const rows: string[][] = []
  for (const report of reports) {
    const version = report.version ?? '—'
    if (report.results.length === 0 && report.skipped !== null) rows.push([report.peer, version, '—', '—', '—', `skipped: ${report.skipped}`])
    for (const r of report.results) {
      const figure =
        r.kind === 'peer-throughput'
          ? `${formatSummary(r.recordsPerSec, formatInteger)} records/s`
          : `p50 ${formatInteger(r.p50.median)} / p99 ${formatSummary(r.p99, formatInteger)} / p999 ${formatInteger(r.p999.median)} µs`
      const size = `${r.valueBytes} B`
      rows.push([report.peer, version, `${r.workload} ${size}`, r.config, formatInteger(r.records), figure])
    }
    if (report.results.length > 0 && report.skipped !== null) rows.push([report.peer, version, '—', '—', '—', `stopped: ${report.skipped}`])
  }
  return markdownTable(['Peer', 'version', 'workload', 'setting', 'records', 'median (min–max)'], rows, ['left', 'left', 'left', 'left', 'right', 'left'])
}
