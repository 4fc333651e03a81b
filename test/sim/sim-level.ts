import { MemoryLevel } from 'memory-level'
import type { GroupDatabase, GroupDatabaseOptions, OpenGroupDatabase } from '../../src/groups/offset-store.js'
import type { SimDisk } from './sim-disk.js'

/** A write as memory-level's internals receive it (key and value already encoded). */
type StoredOp = { type: 'put'; key: unknown; value: unknown } | { type: 'del'; key: unknown }

interface WriteOptions {
  sync?: boolean
}

/** The internal methods of memory-level that the subclass below wraps (abstract-level leaves them untyped). */
interface MemoryInternals {
  _open(options: object): Promise<void>
  _close(): Promise<void>
  _put(key: unknown, value: unknown, options: WriteOptions): Promise<void>
  _del(key: unknown, options: WriteOptions): Promise<void>
  _batch(operations: StoredOp[], options: WriteOptions): Promise<void>
  _get(key: unknown, options: object): Promise<unknown>
  _getMany(keys: unknown[], options: object): Promise<unknown[]>
  _has(key: unknown, options: object): Promise<boolean>
  _hasMany(keys: unknown[], options: object): Promise<boolean[]>
  _iterator(options: object): unknown
  _keys(options: object): unknown
  _values(options: object): unknown
}

const memory = MemoryLevel.prototype as unknown as MemoryInternals

/**
 * What LevelDB has written to its log for one database directory, in order. LevelDB
 * appends every write to its log; one with `{ sync: true }` fsyncs the log, which makes it
 * and every earlier write durable. At a power cut the log is cut back to the last synced
 * write. (LevelDB also makes writes durable when it flushes its memtable to a table, at
 * 4 MiB by default; a simulation never gets there, and relying on it would be wrong.)
 */
class LevelWriteLog {
  readonly writes: StoredOp[][] = []
  private durableCount = 0
  /** The boot that has the database open (LevelDB's LOCK file); null when closed. */
  openInBoot: number | null = null

  append(ops: StoredOp[], sync: boolean): void {
    this.writes.push(ops)
    if (sync) this.durableCount = this.writes.length
  }

  get durableWrites(): number {
    return this.durableCount
  }

  powerCut(): void {
    this.writes.length = this.durableCount
    this.openInBoot = null
  }
}

function lockedError(dir: string): Error {
  return Object.assign(new Error(`IO error: lock ${dir}/LOCK: already held by process`), { code: 'LEVEL_LOCKED' })
}

/**
 * The simulated LevelDBs of one simulated machine: one write log per directory, cut back
 * to its last synced write whenever the disk's power is cut. `open` is what a spool gets as
 * its `openGroupDatabase`. Every call is charged to the disk's budget, so the power can go
 * out between a commit's write and its acknowledgement; a database of an old boot fails
 * every call with EIO.
 */
export class SimLevels {
  private readonly logs = new Map<string, LevelWriteLog>()

  constructor(readonly disk: SimDisk) {
    disk.onPowerCut(() => {
      for (const log of this.logs.values()) log.powerCut()
    })
  }

  /**
   * The `openGroupDatabase` of a spool opened in this boot. Like the disk's io(), it is
   * bound to the boot: a database it makes after a power cut fails to open, so an
   * abandoned spool can never take the new boot's LevelDB lock.
   */
  opener(): OpenGroupDatabase {
    const boot = this.disk.boot
    return (dir, options) => new SimLevel(this, boot, dir, options) as unknown as GroupDatabase
  }

  /**
   * A database holding what `dir` holds now (durable or not), outside the simulation: no
   * lock, no budget, no boot. The workload reads acknowledged commits through it without
   * spending the disk's budget, and the checks read what survived a power cut.
   */
  readonly view: OpenGroupDatabase = (dir, options) => new ViewLevel(this.logOf(dir).writes.flat(), options) as unknown as GroupDatabase

  logOf(dir: string): LevelWriteLog {
    let log = this.logs.get(dir)
    if (log === undefined) this.logs.set(dir, (log = new LevelWriteLog()))
    return log
  }

  /** Writes logged in `dir` (durable or not), and how many of them are durable. */
  writeCounts(dir: string): { written: number; durable: number } {
    const log = this.logOf(dir)
    return { written: log.writes.length, durable: log.durableWrites }
  }
}

/** memory-level holding the database's contents, with every write logged as LevelDB would. */
class SimLevel extends MemoryLevel<string, unknown> {
  constructor(
    private readonly levels: SimLevels,
    private readonly boot: number,
    private readonly dir: string,
    options: GroupDatabaseOptions,
  ) {
    super(options)
  }

  private get log(): LevelWriteLog {
    return this.levels.logOf(this.dir)
  }

  /** Charges a call to the disk's budget; EIO for a database of an old boot or a dead disk. */
  private guard(call: string): void {
    this.levels.disk.charge(this.boot, `leveldb ${call}`, this.dir)
  }

  async _open(options: object): Promise<void> {
    this.guard('open')
    if (this.log.openInBoot === this.boot) throw lockedError(this.dir)
    await memory._open.call(this, options)
    // Replays what survived, as LevelDB replays its log at open.
    await memory._batch.call(this, this.log.writes.flat(), {})
    this.log.openInBoot = this.boot
  }

  async _close(): Promise<void> {
    if (this.log.openInBoot === this.boot) this.log.openInBoot = null
    await memory._close.call(this)
  }

  async _put(key: unknown, value: unknown, options: WriteOptions): Promise<void> {
    await this._batch([{ type: 'put', key, value }], options)
  }

  async _del(key: unknown, options: WriteOptions): Promise<void> {
    await this._batch([{ type: 'del', key }], options)
  }

  async _batch(operations: StoredOp[], options: WriteOptions): Promise<void> {
    this.guard('write')
    this.log.append(operations, options.sync === true)
    await memory._batch.call(this, operations, options)
  }

  async _get(key: unknown, options: object): Promise<unknown> {
    this.guard('get')
    return memory._get.call(this, key, options)
  }

  async _getMany(keys: unknown[], options: object): Promise<unknown[]> {
    this.guard('get')
    return memory._getMany.call(this, keys, options)
  }

  async _has(key: unknown, options: object): Promise<boolean> {
    this.guard('get')
    return memory._has.call(this, key, options)
  }

  async _hasMany(keys: unknown[], options: object): Promise<boolean[]> {
    this.guard('get')
    return memory._hasMany.call(this, keys, options)
  }

  _iterator(options: object): unknown {
    this.guard('iterator')
    return memory._iterator.call(this, options)
  }

  _keys(options: object): unknown {
    this.guard('iterator')
    return memory._keys.call(this, options)
  }

  _values(options: object): unknown {
    this.guard('iterator')
    return memory._values.call(this, options)
  }
}

/** A plain in-memory copy of some logged writes (see SimLevels.view). */
class ViewLevel extends MemoryLevel<string, unknown> {
  constructor(
    private readonly writes: StoredOp[],
    options: GroupDatabaseOptions,
  ) {
    super(options)
  }

  async _open(options: object): Promise<void> {
    await memory._open.call(this, options)
    await memory._batch.call(this, this.writes, {})
  }
}
