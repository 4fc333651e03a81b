/**
 * What every peer (a system a user would run instead of spool) implements, and the shape
 * of what it reports. A peer measures the same workloads as spool (W1 append and W2
 * replay on the same dataset; W3 latency where the peer can push) on its own terms,
 * named in `config`; `PeerRun` (index.ts) puts the figures beside spool's.
 *
 * Peers' packages live in bench/peers/node_modules, installed by
 * scripts/install-peers.sh and never by the main install, so a peer module loads its
 * package with `loadPeerPackage` (or probes it with `probePackage`) and describes the
 * little of its API it uses itself.
 */
import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import type { LatencyOptions } from '../latency.js'
import type { RecordInput } from '../../src/record/types.js'
import type { Dataset } from '../lib/dataset.js'
import type { LatencySample } from '../lib/result.js'
import type { Summary } from '../lib/stats.js'

export interface PeerThroughput {
  kind: 'peer-throughput'
  /** e.g. `peer.sqlite.W1.100B.synchronous-FULL` */
  id: string
  peer: string
  workload: 'W1' | 'W2'
  /** The durability or client setting this figure was measured with, e.g. `appendfsync always`. */
  config: string
  /** True for the setting that syncs to disk before it acknowledges (W1's 'always' twin). */
  durable: boolean
  valueBytes: number
  records: number
  runs: number
  recordsPerSec: Summary
  samplesSeconds: number[]
}

export interface PeerLatency {
  kind: 'peer-latency'
  id: string
  peer: string
  workload: 'W3'
  config: string
  valueBytes: number
  records: number
  ratePerSec: number
  runs: number
  p50: Summary
  p99: Summary
  p999: Summary
  samples: LatencySample[]
}

export type PeerResult = PeerThroughput | PeerLatency

export interface PeerReport {
  peer: string
  /** The peer's version as it reports it (server or library), or null when skipped. */
  version: string | null
  /** One line saying why the peer was not measured (not installed, failed to start), or null. */
  skipped: string | null
  results: PeerResult[]
}

/** W3's own options, less spool's logger. */
export type PeerLatencyOptions = Omit<LatencyOptions, 'logger'>

/** One setting a peer is measured with (W1 runs once per setting). */
export interface PeerConfig {
  /** The setting as the peer spells it, e.g. `synchronous=FULL` or `appendfsync always`. */
  name: string
  durable: boolean
  /** Records/s W1 is expected to reach with this setting at a value size, for the budget. */
  expectedPerSec(valueBytes: number): number
}

export interface PeerRunOptions {
  mode: 'full' | 'quick'
  runs: number
  /** Seconds a peer may spend on one value size's W1 and W2, all configs and runs together. */
  budgetSeconds: number
}

export interface Peer {
  name: string
  /** The version if the peer can run here, else `{ missing }`: one line saying what to install. */
  probe(): Promise<{ version: string } | { missing: string }>
  /**
   * W1 (append every batch of `data`, a fresh store each run, for each config) and W2
   * (read every record back from the first, in order). The peer may use a prefix of the
   * batches (`records` says how many) to stay within `options.budgetSeconds`.
   */
  throughput(data: Dataset, options: PeerRunOptions): Promise<PeerThroughput[]>
  /** W3, for peers that deliver to a waiting reader. */
  latency?(options: PeerLatencyOptions): Promise<PeerLatency[]>
}

/**
 * Loads a peer's package, or returns null when scripts/install-peers.sh has not installed
 * it. A bare import from this directory resolves bench/peers/node_modules first; the
 * name is a variable so that the type checker does not look for packages CI never installs.
 */
export async function loadPeerPackage<T>(name: string): Promise<T | null> {
  try {
    return (await import(name)) as T
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    if (code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') return null
    throw error
  }
}

const require = createRequire(import.meta.url)

/**
 * The probe of a peer that is one package: its version (`describe`, by default the
 * package's own), or what to install when it is missing or fails to load (a native
 * module built for another Node, say), so that the peer is skipped with one line.
 */
export async function probePackage<T>(
  name: string,
  describe: (pkg: T) => string = () => `${name} ${packageVersion(name)}`,
): Promise<{ version: string } | { missing: string }> {
  try {
    const pkg = await loadPeerPackage<T>(name)
    return pkg === null ? { missing: name } : { version: describe(pkg) }
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error)
    return { missing: `${name}, which failed to load: ${message.split('\n')[0]}` }
  }
}

/** A peer package that the probe found. */
export async function loadProbed<T>(name: string): Promise<T> {
  const pkg = await loadPeerPackage<T>(name)
  if (pkg === null) throw new Error(`${name} is not installed`)
  return pkg
}

/** The version of a peer package, from its package.json as resolved from this directory (as loadPeerPackage imports it). */
export function packageVersion(name: string): string {
  const json = JSON.parse(readFileSync(require.resolve(`${name}/package.json`), 'utf8')) as { version?: unknown }
  return typeof json.version === 'string' ? json.version : 'unknown'
}

const EMPTY = Buffer.alloc(0)

/**
 * A record as one buffer, its key then its value, for a store that keeps one value per
 * entry: a view when the two lie side by side (as the dataset lays them out, so the hot
 * loop copies nothing), else a copy.
 */
export function keyThenValue(record: RecordInput): Buffer {
  const { key, value } = record
  if (key === null || value === null) return Buffer.concat([key ?? EMPTY, value ?? EMPTY])
  if (key.buffer === value.buffer && key.byteOffset + key.length === value.byteOffset) {
    return Buffer.from(key.buffer, key.byteOffset, key.length + value.length)
  }
  return Buffer.concat([key, value])
}
