/**
 * What the embedded peers (SQLite, LevelDB, Hypercore: libraries in this process, no
 * server) share: W1 for each config, a fresh store each run, then W2 over the store
 * that the first config's warm-up wrote — as spool's own W2 replays the partition of
 * W1's flush 'never' warm-up — all on as many batches as fit the time budget. Below
 * that, small helpers the server peers use too.
 */
import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import type { Dataset } from '../lib/dataset.js'
import { freshDir, removeDir } from '../lib/temp-dir.js'
import type { RecordInput } from '../../src/record/types.js'
import { batchesWithin, measureThroughput } from './measure.js'
import { type PeerRunOptions, type PeerThroughput, loadPeerPackage } from './peer.js'

export interface StoreConfig {
  /** The setting as the library spells it, e.g. `synchronous=FULL`. */
  name: string
  durable: boolean
  /** Records/s W1 is expected to reach with this config at a value size, for the budget. */
  expectedPerSec(valueBytes: number): number
}

export interface EmbeddedStore<C extends StoreConfig> {
  peer: string
  /** W1's configs; W2 reads what the first one wrote, so it is the one that does not sync. */
  configs: readonly C[]
  /** How W2 reads, as its `config`, e.g. `iterate() ORDER BY offset`. */
  replayConfig: string
  replayPerSec(valueBytes: number): number
  /** Appends `batches` to a new store in the empty `dir` and closes it; returns the seconds the appends took. */
  append(dir: string, batches: readonly RecordInput[][], config: C): Promise<number>
  /** Reads every record of the store in `dir` in log order; returns the seconds that took and the count. */
  replay(dir: string): Promise<{ seconds: number; records: number }>
}

/** W1 for every config and W2, on the prefix of `data` that fits `options.budgetSeconds`. */
export async function embeddedThroughput<C extends StoreConfig>(
  store: EmbeddedStore<C>,
  data: Dataset,
  options: PeerRunOptions,
): Promise<PeerThroughput[]> {
  const batches = data.batches.slice(0, batchesFor(store, data, options))
  const records = batches.reduce((sum, batch) => sum + batch.length, 0)
  const base = { peer: store.peer, valueBytes: data.valueBytes, records }
  const results: PeerThroughput[] = []
  // Set inside the run callbacks, which the type checker does not follow.
  let kept = null as string | null
  try {
    for (const config of store.configs) {
      const keep = config === store.configs[0]
      const w1 = await measureThroughput({ ...base, workload: 'W1', config: config.name, durable: config.durable }, options.runs, async ({ warmup }) => {
        const dir = freshDir(`peer-${store.peer}-${data.valueBytes}`)
        try {
          return await store.append(dir, batches, config)
        } finally {
          // Measured runs leave nothing behind, so the next run reuses the same page-cache pages.
          if (warmup && keep) kept = dir
          else removeDir(dir)
        }
      })
      results.push(w1)
    }
    const replayed = kept
    if (replayed === null) throw new Error(`${store.peer}: W1 kept no store for W2`)
    const w2 = await measureThroughput({ ...base, workload: 'W2', config: store.replayConfig, durable: false }, options.runs, async () => {
      const { seconds, records: read } = await store.replay(replayed)
      if (read !== records) throw new Error(`${store.peer} read back ${read} records, expected ${records}`)
      return seconds
    })
    results.push(w2)
  } finally {
    if (kept !== null) removeDir(kept)
  }
  return results
}

/**
 * The batches W1 and W2 get: every pass (each config's and W2's runs, each with its
 * warm-up) reads or writes the same records, so the budget buys records at the passes'
 * mean rate.
 */
function batchesFor(store: EmbeddedStore<StoreConfig>, data: Dataset, options: PeerRunOptions): number {
  const trials = options.runs + 1
  const rates = [...store.configs.map((c) => c.expectedPerSec(data.valueBytes)), store.replayPerSec(data.valueBytes)]
  const passes = rates.length * trials
  const secondsPerRecord = rates.reduce((sum, rate) => sum + trials / rate, 0)
  return batchesWithin(data.batches.length, data.batchRecords, passes / secondsPerRecord, options.budgetSeconds, passes)
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

/**
 * A store's expected rate (records/s) at a value size, from its rates at 100 B and at
 * 1 KiB: the 100 B figure up to 100 B, else the 1 KiB figure, scaled down by size above
 * 1 KiB — an estimate that errs on the slow side, so the budget is not overrun.
 */
export function expectedRate(at100B: number, at1KiB: number): (valueBytes: number) => number {
  return (valueBytes) => (valueBytes <= 100 ? at100B : (at1KiB * 1024) / Math.max(1024, valueBytes))
}
