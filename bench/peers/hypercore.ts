/**
 * Hypercore, the append-only log of the Holepunch stack: a dataset batch is one
 * `core.append()` of its records' blocks (each block a record's key then its value),
 * awaited, into a core with its default storage in a fresh directory.
 *
 * Not durable: Hypercore 11 keeps a core in RocksDB (hypercore-storage, rocksdb-native),
 * which writes each append with RocksDB's default WriteOptions, `sync` false, so an
 * append resolves once RocksDB's log reached the OS. (Checked with strace: 20 appends
 * and 100 made the same 12 fdatasync and 11 fsync calls, those of opening and closing.)
 */
import { timed } from '../lib/timing.js'
import { type EmbeddedStore, embeddedThroughput } from './embedded.js'
import { expectedRate } from './measure.js'
import { type Peer, type PeerConfig, keyThenValue, loadProbed, probePackage } from './peer.js'

/** The little of Hypercore's API used here. */
interface Core {
  ready(): Promise<void>
  readonly length: number
  append(blocks: Buffer[]): Promise<{ length: number }>
  /** With `wait: false`, a block this core does not hold is null instead of awaited from peers. */
  get(index: number, options: { wait: false }): Promise<Buffer | null>
  close(): Promise<void>
}

interface HypercorePackage {
  default: new (storage: string) => Core
}

const PACKAGE = 'hypercore'
const NAME = 'hypercore'
/**
 * Gets in flight at once in W2: a dataset batch's worth. One `get` at a time reads about
 * 30,000 blocks/s here, each a round trip to RocksDB on libuv's thread pool; gets issued
 * together overlap those trips and read about 3 times faster. Both are the plain public
 * `core.get`; the read stream is one `get` at a time (and was no faster).
 */
const READ_BLOCKS = 1_000

/** Rates (records/s) seen here at a full run's scale, rounded down: they only size the runs to the budget. */
const CONFIGS: readonly PeerConfig[] = [{ name: 'default storage', durable: false, expectedPerSec: expectedRate(100_000, 70_000) }]

async function openCore(hypercore: HypercorePackage, dir: string): Promise<Core> {
  const core = new hypercore.default(dir)
  try {
    await core.ready()
    return core
  } catch (error) {
    await core.close()
    throw error
  }
}

/** Reads blocks `from` … `to`-1, all in flight at once; returns how many it got. */
async function readBlocks(core: Core, from: number, to: number): Promise<number> {
  const gets: Promise<Buffer | null>[] = []
  for (let index = from; index < to; index++) gets.push(core.get(index, { wait: false }))
  const blocks = await Promise.all(gets)
  const missing = blocks.indexOf(null)
  if (missing >= 0) throw new Error(`hypercore has no block ${from + missing} of its ${core.length}`)
  return blocks.length
}

function store(hypercore: HypercorePackage): EmbeddedStore<PeerConfig> {
  return {
    peer: NAME,
    configs: CONFIGS,
    replayConfig: `get, ${READ_BLOCKS} in flight`,
    replayPerSec: expectedRate(80_000, 50_000),
    async append(dir, batches) {
      const core = await openCore(hypercore, dir)
      try {
        return await timed(async () => {
          for (const batch of batches) await core.append(batch.map(keyThenValue))
        })
      } finally {
        await core.close()
      }
    },
    async replay(dir) {
      const core = await openCore(hypercore, dir)
      try {
        let records = 0
        const seconds = await timed(async () => {
          for (let from = 0; from < core.length; from += READ_BLOCKS) records += await readBlocks(core, from, Math.min(core.length, from + READ_BLOCKS))
        })
        return { seconds, records }
      } finally {
        await core.close()
      }
    },
  }
}

export const hypercorePeer: Peer = {
  name: NAME,
  probe: () => probePackage(PACKAGE),
  async throughput(data, options) {
    return embeddedThroughput(store(await loadProbed<HypercorePackage>(PACKAGE)), data, options)
  },
}
