/**
 * SQLite (better-sqlite3) as a log: one table keyed by offset, in WAL mode, appended one
 * transaction per batch, so that a batch costs one commit (and, with synchronous=FULL,
 * one WAL fsync) as a batch costs spool one append. W3: each record its own commit, and
 * a reader in the same process, woken by the writer, selects the rows after the last
 * offset it saw.
 */
import path from 'node:path'
import { Notifier } from '../../src/client/notifier.js'
import type { RecordInput } from '../../src/record/types.js'
import { DRAIN_TIMEOUT_MS, Latencies, type LatencyRecord, latencyRecords, stamp } from '../latency.js'
import { paced } from '../lib/pacer.js'
import type { LatencySample } from '../lib/result.js'
import { inFreshDir } from '../lib/temp-dir.js'
import { timed } from '../lib/timing.js'
import { type EmbeddedStore, embeddedThroughput } from './embedded.js'
import { expectedRate, measureLatency } from './measure.js'
import { type Peer, type PeerConfig, type PeerLatency, type PeerLatencyOptions, loadProbed, packageVersion, probePackage } from './peer.js'

/** The little of better-sqlite3's API used here. */
interface Statement {
  run(...params: unknown[]): unknown
  get(...params: unknown[]): unknown
  all(...params: unknown[]): unknown[]
  iterate(...params: unknown[]): IterableIterator<unknown>
  /** Rows as arrays rather than objects. */
  raw(toggle?: boolean): this
  /** The first column only. */
  pluck(toggle?: boolean): this
}

interface Database {
  pragma(source: string): unknown
  exec(source: string): unknown
  prepare(source: string): Statement
  transaction<A extends unknown[]>(fn: (...args: A) => void): (...args: A) => void
  close(): unknown
}

interface BetterSqlite3 {
  default: new (filename: string, options?: { readonly?: boolean }) => Database
}

const PACKAGE = 'better-sqlite3'
const NAME = 'sqlite'
const DB_FILE = 'log.sqlite'

const CREATE = 'CREATE TABLE log(offset INTEGER PRIMARY KEY, key BLOB, value BLOB)'
const INSERT = 'INSERT INTO log (offset, key, value) VALUES (?, ?, ?)'
/** `offset` is the rowid, so this is a scan of the table's b-tree in order, with no sort. */
const SELECT_ALL = 'SELECT key, value FROM log ORDER BY offset'
const SELECT_AFTER = 'SELECT offset, value FROM log WHERE offset > ? ORDER BY offset'

type Synchronous = 'OFF' | 'FULL'

interface SqliteConfig extends PeerConfig {
  synchronous: Synchronous
}

/** Rates (records/s) seen here at a full run's scale, rounded down: they only size the runs to the budget. */
const CONFIGS: readonly SqliteConfig[] = [
  { name: 'synchronous=OFF', durable: false, synchronous: 'OFF', expectedPerSec: expectedRate(800_000, 150_000) },
  { name: 'synchronous=FULL', durable: true, synchronous: 'FULL', expectedPerSec: expectedRate(250_000, 80_000) },
]

/** A new WAL-mode database in `dir` holding the empty log table. */
function createLog(sqlite: BetterSqlite3, dir: string, synchronous: Synchronous): Database {
  const db = new sqlite.default(path.join(dir, DB_FILE))
  try {
    db.pragma('journal_mode = WAL')
    db.pragma(`synchronous = ${synchronous}`)
    db.exec(CREATE)
    return db
  } catch (error) {
    db.close()
    throw error
  }
}

/** The SQLite library's own version, which better-sqlite3 builds in. */
function engineVersion(sqlite: BetterSqlite3): string {
  const db = new sqlite.default(':memory:')
  try {
    return String(db.prepare('SELECT sqlite_version()').pluck().get())
  } finally {
    db.close()
  }
}

function store(sqlite: BetterSqlite3): EmbeddedStore<SqliteConfig> {
  return {
    peer: NAME,
    configs: CONFIGS,
    replayConfig: 'iterate() ORDER BY offset',
    replayPerSec: expectedRate(450_000, 250_000),
    async append(dir, batches, config) {
      const db = createLog(sqlite, dir, config.synchronous)
      try {
        const insert = db.prepare(INSERT)
        let offset = 0
        const appendBatch = db.transaction((batch: readonly RecordInput[]) => {
          for (const record of batch) insert.run(offset++, record.key, record.value)
        })
        return await timed(() => {
          for (const batch of batches) appendBatch(batch)
        })
      } finally {
        db.close()
      }
    },
    async replay(dir) {
      const db = new sqlite.default(path.join(dir, DB_FILE), { readonly: true })
      try {
        const rows = db.prepare(SELECT_ALL).raw(true)
        let records = 0
        const seconds = await timed(() => {
          for (const _ of rows.iterate()) records++
        })
        return { seconds, records }
      } finally {
        db.close()
      }
    },
  }
}

/** One W3 run: paced single-row commits, each followed by a wake-up of the reader. */
async function latencyRun(sqlite: BetterSqlite3, dir: string, records: readonly LatencyRecord[], ratePerSec: number): Promise<LatencySample> {
  const writer = createLog(sqlite, dir, 'OFF')
  // A second connection, as a consumer would have: WAL mode lets it read while the writer commits.
  const reader = new sqlite.default(path.join(dir, DB_FILE), { readonly: true })
  try {
    const insert = writer.prepare(INSERT)
    const after = reader.prepare(SELECT_AFTER).raw(true)
    const latencies = new Latencies(records.length)
    const appended = new Notifier()
    const consumer = (async () => {
      let last = -1
      while (!latencies.done) {
        const rows = after.all(last) as [number, Buffer][]
        if (rows.length === 0) {
          await appended.wait()
          continue
        }
        for (const [offset, value] of rows) {
          latencies.add(value)
          last = offset
        }
      }
    })()
    const seconds = await paced(records.length, ratePerSec, (i) => {
      const { key, value } = records[i]!
      stamp(value)
      insert.run(i, key, value)
      appended.notify()
    })
    await latencies.complete(consumer, DRAIN_TIMEOUT_MS)
    return latencies.sample(records.length / seconds)
  } finally {
    reader.close()
    writer.close()
  }
}

async function latency(options: PeerLatencyOptions): Promise<PeerLatency[]> {
  const sqlite = await loadProbed<BetterSqlite3>(PACKAGE)
  const records = latencyRecords(options)
  const base = {
    peer: NAME,
    workload: 'W3' as const,
    config: 'synchronous=OFF, a commit a record',
    valueBytes: options.valueBytes,
    records: records.length,
    ratePerSec: options.ratePerSec,
  }
  const run = () => inFreshDir('peer-sqlite-w3', (dir) => latencyRun(sqlite, dir, records, options.ratePerSec))
  return [await measureLatency(base, options.runs, run)]
}

export const sqlitePeer: Peer = {
  name: NAME,
  probe: () => probePackage<BetterSqlite3>(PACKAGE, (sqlite) => `${PACKAGE} ${packageVersion(PACKAGE)}, SQLite ${engineVersion(sqlite)}`),
  async throughput(data, options) {
    return embeddedThroughput(store(await loadProbed<BetterSqlite3>(PACKAGE)), data, options)
  },
  latency,
}
