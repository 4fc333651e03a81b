/**
 * What the embedded peers (SQLite, LevelDB, Hypercore: libraries in this process, no
 * server) share: W1 for each config, a fresh store each run, then W2 over the store
 * that the first config's warm-up wrote — as spool's own W2 replays the partition of
 * W1's flush 'never' warm-up — all on as many batches as fit the time budget.
 */
import type { Dataset } from '../lib/dataset.js'
import { freshDir, removeDir } from '../lib/temp-dir.js'
import type { RecordInput } from '../../src/record/types.js'
import { batchesFitting, measureReplay, measureThroughput } from './measure.js'
import type { PeerConfig, PeerRunOptions, PeerThroughput } from './peer.js'

export interface EmbeddedStore<C extends PeerConfig> {
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
export async function embeddedThroughput<C extends PeerConfig>(
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
    results.push(await measureReplay(base, store.replayConfig, options.runs, () => store.replay(replayed)))
  } finally {
    if (kept !== null) removeDir(kept)
  }
  return results
}

/** The batches W1 and W2 get: each config's runs and W2's, each with its warm-up. */
function batchesFor(store: EmbeddedStore<PeerConfig>, data: Dataset, options: PeerRunOptions): number {
  const trials = options.runs + 1
  const rates = [...store.configs.map((c) => c.expectedPerSec(data.valueBytes)), store.replayPerSec(data.valueBytes)]
  return batchesFitting(data, rates.map((rate) => ({ passes: trials, rate })), options.budgetSeconds)
}
