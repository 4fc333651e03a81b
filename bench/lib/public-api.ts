/**
 * What an application gets, as issue 17 asks it to be reported: each public-API row
 * (producer.sendBatch and concurrent sends for W1, `for await … spool.read` for W2, its
 * first pass and warm, consumer push for W3, groups for W4) beside its storage-layer row,
 * raw fs on the same bytes, and the fastest peer of the same run, with the issue's
 * targets as pass/miss. Rows from different processes are compared by their medians;
 * a row's own raw twin was measured in its process, paired run by run.
 */
import type { PeerLatency, PeerReport, PeerThroughput } from '../peers/peer.js'
import type { MemoryPeak } from './memory.js'
import type { BenchResult, LatencyResult, WorkloadResult } from './result.js'

export interface PublicFigure {
  /** What was measured, e.g. `PartitionLog.append` or `sqlite synchronous=OFF`. */
  label: string
  /** records/s, or µs for W3 (p99). */
  value: number
}

export interface PublicCheck {
  /** The target and the figure it was judged on, e.g. `≥ 3× fastest peer (2.1×)`. */
  text: string
  /** null: nothing to judge it by in this run (no peer ran at this size). */
  met: boolean | null
}

export interface PublicRow {
  /** The result's id, with `.first-pass` for W2's cold row. */
  id: string
  /** The id of the workload result the figures come from. */
  result: string
  title: string
  unit: 'records/s' | 'µs'
  spool: PublicFigure
  storage: PublicFigure | null
  raw: PublicFigure | null
  fastestPeer: (PublicFigure & { peer: string }) | null
  memory: MemoryPeak | null
  checks: PublicCheck[]
  met: boolean | null
}

/** Issue 17's targets. */
const W1_PEER_FACTOR = 3
const W1_OF_STORAGE = 0.8
const W1_ALWAYS_OF_RAW = 0.8
const W2_PEER_FACTOR = 10
const W3_P99_MAX_MICROS = 250
const W3_P999_MAX_MICROS = 1_000
const W4_PER_GROUP_MIN = 2_000_000

const pct = (n: number): string => `${Math.round(n * 100)}%`
const times = (n: number): string => `${n.toFixed(1)}×`

function check(text: string, value: number | null, met: (value: number) => boolean, show: (value: number) => string): PublicCheck {
  return value === null || !Number.isFinite(value) ? { text: `${text}: not measured in this run`, met: null } : { text: `${text} (${show(value)})`, met: met(value) }
}

function allMet(checks: readonly PublicCheck[]): boolean | null {
  const judged = checks.filter((c) => c.met !== null)
  return judged.length === 0 ? null : judged.every((c) => c.met === true)
}

class Figures {
  constructor(
    private readonly results: readonly BenchResult[],
    private readonly peers: readonly PeerReport[],
  ) {}

  throughput(id: string): WorkloadResult | undefined {
    return this.results.find((r): r is WorkloadResult => r.kind === 'throughput' && r.id === id)
  }

  fanout(): WorkloadResult | undefined {
    return this.results.find((r): r is WorkloadResult => r.kind === 'throughput' && r.workload === 'W4')
  }

  latency(): LatencyResult | undefined {
    return this.results.find((r): r is LatencyResult => r.kind === 'latency')
  }

  /** The fastest peer figure of a workload at a value size (durable settings only, if asked). */
  fastestPeer(workload: 'W1' | 'W2', valueBytes: number, durableOnly: boolean): (PublicFigure & { peer: string }) | null {
    const all = this.peers
      .flatMap((r) => r.results)
      .filter((x): x is PeerThroughput => x.kind === 'peer-throughput' && x.workload === workload && x.valueBytes === valueBytes && (!durableOnly || x.durable))
    const best = all.reduce<PeerThroughput | null>((a, b) => (a === null || b.recordsPerSec.median > a.recordsPerSec.median ? b : a), null)
    return best === null ? null : { peer: best.peer, label: `${best.peer} ${best.config}`, value: best.recordsPerSec.median }
  }

  /** The peer with the lowest W3 p99. */
  lowestPeerP99(): (PublicFigure & { peer: string }) | null {
    const all = this.peers.flatMap((r) => r.results).filter((x): x is PeerLatency => x.kind === 'peer-latency')
    const best = all.reduce<PeerLatency | null>((a, b) => (a === null || b.p99.median < a.p99.median ? b : a), null)
    return best === null ? null : { peer: best.peer, label: `${best.peer} ${best.config}`, value: best.p99.median }
  }
}

const median = (r: WorkloadResult): number => r.spool.recordsPerSec.median
const firstPass = (r: WorkloadResult, side: 'spool' | 'raw'): number => r.records / r[side].warmupSeconds

function row(base: Omit<PublicRow, 'met' | 'memory'>, result: BenchResult): PublicRow {
  return { ...base, memory: result.memory, met: allMet(base.checks) }
}

/** W1 'never' and 'always', through sendBatch or concurrent sends (P1). */
function appendRow(f: Figures, id: string, valueBytes: number, flush: 'never' | 'always'): PublicRow | null {
  const r = f.throughput(id)
  if (r === undefined) return null
  const storage = f.throughput(`W1.append.${valueBytes}B.${flush}`)
  const isP1 = r.workload === 'P1'
  // P1's twin in its own process is PartitionLog.append; its raw fs figure is the storage row's.
  const raw = isP1 ? storage?.raw : r.raw
  const rawValue = raw === undefined ? null : raw.recordsPerSec.median
  const peer = f.fastestPeer('W1', valueBytes, flush === 'always')
  const checks =
    flush === 'never'
      ? [
          check(`≥ ${W1_PEER_FACTOR}× fastest peer`, peer === null ? null : median(r) / peer.value, (v) => v >= W1_PEER_FACTOR, times),
          check(
            `≥ ${pct(W1_OF_STORAGE)} of PartitionLog.append`,
            // P1 ran PartitionLog.append as its paired twin in its own process: that ratio is the closer one.
            isP1 ? r.ratio.median : storage === undefined ? null : median(r) / median(storage),
            (v) => v >= W1_OF_STORAGE,
            pct,
          ),
        ]
      : [check(`≥ ${pct(W1_ALWAYS_OF_RAW)} of raw write+fdatasync`, isP1 ? (rawValue === null ? null : median(r) / rawValue) : r.ratio.median, (v) => v >= W1_ALWAYS_OF_RAW, pct)]
  return row(
    {
      id,
      result: id,
      title: r.title,
      unit: 'records/s',
      spool: { label: r.spool.label, value: median(r) },
      storage: storage === undefined ? null : { label: storage.spool.label, value: median(storage) },
      raw: raw === undefined || rawValue === null ? null : { label: raw.label, value: rawValue },
      fastestPeer: peer,
      checks,
    },
    r,
  )
}

/** W2 warm (median) and its first pass in the fresh process (cold). */
function readRows(f: Figures, valueBytes: number): PublicRow[] {
  const r = f.throughput(`W2.read.${valueBytes}B`)
  if (r === undefined) return []
  const storage = f.throughput(`W2.replay.${valueBytes}B`)
  const peer = f.fastestPeer('W2', valueBytes, false)
  const make = (cold: boolean): PublicRow => {
    const spool = cold ? firstPass(r, 'spool') : median(r)
    return row(
      {
        id: cold ? `${r.id}.first-pass` : r.id,
        result: r.id,
        title: `${r.title}, ${cold ? 'first pass in a fresh process' : 'warm (median)'}`,
        unit: 'records/s',
        spool: { label: r.spool.label, value: spool },
        storage: storage === undefined ? null : { label: storage.spool.label, value: cold ? firstPass(storage, 'spool') : median(storage) },
        raw: { label: r.raw.label, value: cold ? firstPass(r, 'raw') : r.raw.recordsPerSec.median },
        fastestPeer: peer,
        checks: [check(`≥ ${W2_PEER_FACTOR}× fastest peer`, peer === null ? null : spool / peer.value, (v) => v >= W2_PEER_FACTOR, times)],
      },
      r,
    )
  }
  return [make(true), make(false)]
}

function latencyRow(f: Figures): PublicRow | null {
  const r = f.latency()
  if (r === undefined) return null
  const peer = f.lowestPeerP99()
  const p99 = r.spool.p99.median
  const micros = (v: number): string => `${Math.round(v)} µs`
  return row(
    {
      id: r.id,
      result: r.id,
      title: r.title,
      unit: 'µs',
      spool: { label: `p50 ${micros(r.spool.p50.median)} / p99 ${micros(p99)} / p999 ${micros(r.spool.p999.median)}`, value: p99 },
      storage: null,
      raw: { label: `p99 of ${r.raw.label}`, value: r.raw.p99.median },
      fastestPeer: peer,
      checks: [
        check(`p99 ≤ ${W3_P99_MAX_MICROS} µs`, p99, (v) => v <= W3_P99_MAX_MICROS, micros),
        check(`p999 ≤ ${W3_P999_MAX_MICROS} µs`, r.spool.p999.median, (v) => v <= W3_P999_MAX_MICROS, micros),
        check("p99 below every peer's", peer === null ? null : p99 / peer.value, (v) => v < 1, (v) => `${times(v)} the lowest peer's`),
      ],
    },
    r,
  )
}

function fanoutRow(f: Figures): PublicRow | null {
  const r = f.fanout()
  if (r === undefined) return null
  return row(
    {
      id: r.id,
      result: r.id,
      title: r.title,
      unit: 'records/s',
      spool: { label: r.spool.label, value: median(r) },
      storage: null,
      raw: { label: r.raw.label, value: r.raw.recordsPerSec.median },
      fastestPeer: null,
      checks: [check(`≥ ${(W4_PER_GROUP_MIN / 1e6).toFixed(0)} M records/s per group`, median(r), (v) => v >= W4_PER_GROUP_MIN, (v) => `${(v / 1e6).toFixed(2)} M`)],
    },
    r,
  )
}

/** The public-API rows, in report order, for the value sizes run. */
export function publicRows(results: readonly BenchResult[], peers: readonly PeerReport[], valueBytes: readonly number[]): PublicRow[] {
  const f = new Figures(results, peers)
  const rows: (PublicRow | null)[] = []
  for (const v of valueBytes) {
    for (const flush of ['never', 'always'] as const) rows.push(appendRow(f, `W1.sendBatch.${v}B.${flush}`, v, flush), appendRow(f, `P1.producer.${v}B.${flush}`, v, flush))
  }
  for (const v of valueBytes) rows.push(...readRows(f, v))
  rows.push(latencyRow(f), fanoutRow(f))
  return rows.filter((r): r is PublicRow => r !== null)
}

/**
 * Puts each public row's checks on its workload result as its target (W2's two rows on
 * one result), so the workload tables show the issue's targets too.
 */
export function applyPublicTargets(results: readonly BenchResult[], rows: readonly PublicRow[]): void {
  for (const result of results) {
    const mine = rows.filter((r) => r.result === result.id)
    const checks = mine.flatMap((r) => r.checks.map((c) => (mine.length > 1 && r.id !== r.result ? { ...c, text: `first pass ${c.text}` } : c)))
    const met = allMet(checks)
    if (mine.length > 0 && met !== null) result.target = { text: checks.map((c) => c.text).join('; '), met }
  }
}
