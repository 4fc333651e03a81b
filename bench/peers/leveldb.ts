/**
 * LevelDB (classic-level) as a log. A log entry is the record at an offset, so the
 * LevelDB key is the offset, 8 bytes big-endian (LevelDB orders keys bytewise, so its
 * iterator's order is the log's order), and the LevelDB value is the record: its key,
 * then its value (a 16-byte key, as every record in the dataset has). A dataset batch is
 * one `db.batch()` of puts, which LevelDB writes to its log as one atomic write.
 */
import type { RecordInput } from '../../src/record/types.js'
import { timed } from '../lib/timing.js'
import { type EmbeddedStore, embeddedThroughput } from './embedded.js'
import { expectedRate } from './measure.js'
import { type Peer, type PeerConfig, keyThenValue, loadProbed, probePackage } from './peer.js'

/** The little of classic-level's API used here, with buffer keys and values. */
interface Put {
  type: 'put'
  key: Buffer
  value: Buffer
}

interface Iterator {
  /** Up to `size` entries; an empty array at the end. */
  nextv(size: number): Promise<[Buffer, Buffer][]>
  close(): Promise<void>
}

interface Level {
  open(): Promise<void>
  /** `sync` defaults to false: the write reaches the OS, not the disk, before it resolves. */
  batch(operations: Put[], options: { sync: boolean }): Promise<void>
  iterator(): Iterator
  close(): Promise<void>
}

interface ClassicLevelPackage {
  ClassicLevel: new (location: string, options: { keyEncoding: 'buffer'; valueEncoding: 'buffer' }) => Level
}

const PACKAGE = 'classic-level'
const NAME = 'leveldb'
/** The key: an offset, unsigned 64-bit big-endian. */
const OFFSET_BYTES = 8
/** Entries a `nextv` call returns: a dataset batch's worth. */
const READ_ENTRIES = 1_000

interface LevelConfig extends PeerConfig {
  sync: boolean
}

/** Rates (records/s) seen here at a full run's scale, rounded down: they only size the runs to the budget. */
const CONFIGS: readonly LevelConfig[] = [
  { name: 'sync: false', durable: false, sync: false, expectedPerSec: expectedRate(120_000, 80_000) },
  { name: 'sync: true', durable: true, sync: true, expectedPerSec: expectedRate(80_000, 60_000) },
]

async function openLevel(level: ClassicLevelPackage, dir: string): Promise<Level> {
  const db = new level.ClassicLevel(dir, { keyEncoding: 'buffer', valueEncoding: 'buffer' })
  await db.open()
  return db
}

/** A batch's puts, the offsets from `first` on; the offset keys share one allocation. */
function puts(batch: readonly RecordInput[], first: number): Put[] {
  const keys = Buffer.allocUnsafe(batch.length * OFFSET_BYTES)
  return batch.map((record, i) => {
    const at = i * OFFSET_BYTES
    const offset = first + i
    keys.writeUInt32BE(Math.floor(offset / 2 ** 32), at)
    keys.writeUInt32BE(offset >>> 0, at + 4)
    return { type: 'put', key: keys.subarray(at, at + OFFSET_BYTES), value: keyThenValue(record) }
  })
}

function store(level: ClassicLevelPackage): EmbeddedStore<LevelConfig> {
  return {
    peer: NAME,
    configs: CONFIGS,
    replayConfig: `iterator nextv(${READ_ENTRIES})`,
    replayPerSec: expectedRate(300_000, 130_000),
    async append(dir, batches, config) {
      const db = await openLevel(level, dir)
      try {
        return await timed(async () => {
          let offset = 0
          for (const batch of batches) {
            await db.batch(puts(batch, offset), { sync: config.sync })
            offset += batch.length
          }
        })
      } finally {
        await db.close()
      }
    },
    async replay(dir) {
      const db = await openLevel(level, dir)
      try {
        let records = 0
        const seconds = await timed(async () => {
          const entries = db.iterator()
          try {
            for (let got = await entries.nextv(READ_ENTRIES); got.length > 0; got = await entries.nextv(READ_ENTRIES)) records += got.length
          } finally {
            await entries.close()
          }
        })
        return { seconds, records }
      } finally {
        await db.close()
      }
    },
  }
}

export const leveldbPeer: Peer = {
  name: NAME,
  probe: () => probePackage(PACKAGE),
  async throughput(data, options) {
    return embeddedThroughput(store(await loadProbed<ClassicLevelPackage>(PACKAGE)), data, options)
  },
}
