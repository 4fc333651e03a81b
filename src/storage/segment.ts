import { ioError } from '../errors.js'
import { MAX_SEGMENT_OFFSET_SPAN, SYNC_TAIL_READ_MAX_BYTES } from '../limits.js'
import type { BatchHeader } from '../record/batch-decoder.js'
import { lastOffsetOf } from '../record/batch-decoder.js'
import { readInt64 } from '../record/int64.js'
import { writeFileAtomic, writeFully } from './atomic-file.js'
import type { StorageIO } from './io.js'
import { type ReadBuffers, type ScanResult, readAt, readAtSync, scanBatches } from './log-scanner.js'
import type { Logger } from './logger.js'
import { OFFSET_INDEX_ENTRY_BYTES, OffsetIndex } from './offset-index.js'
import { type ClosableSegment, openSealedSegments } from './open-segments.js'
import { type SegmentPaths, segmentPaths } from './paths.js'
import { TIME_INDEX_ENTRY_BYTES, TimeIndex } from './time-index.js'

export interface SegmentContext {
  io: StorageIO
  dir: string
  readOnly: boolean
  maxBatchBytes: number
  indexIntervalBytes: number
  logger: Logger
}

/** What the indexing rule needs to know of a batch. */
export interface IndexedBatch {
  baseOffset: number
  lastOffset: number
  maxTimestamp: number
  sizeBytes: number
}

export function indexedBatchOf(header: BatchHeader): IndexedBatch {
  return {
    baseOffset: header.baseOffset,
    lastOffset: lastOffsetOf(header),
    maxTimestamp: header.maxTimestamp,
    sizeBytes: header.sizeBytes,
  }
}

/** A read started for the reader's next call (readAheadFrom). */
interface ReadAhead {
  position: number
  length: number
  read: Promise<Buffer>
  /** Read into a buffer lent by the reader's pool. */
  lent: boolean
  /** Bytes from the start that its check vouched for, once read. */
  checkedBytes: number
}

/**
 * One `.log` with its `.index` and `.timeindex`. The active (last) segment is loaded at
 * open; a sealed one only on its first read (`ensureLoaded`), so opening a partition with
 * thousands of segments touches none of their files.
 *
 * A sealed segment whose files say all it holds (loaded from them, or its indexes
 * persisted) counts against the process's budget of open sealed segments
 * (open-segments.ts): when idle it may be closed, its indexes dropped, and its next read
 * loads it again. Descriptors and index memory stay bounded however many segments a
 * replay, a lookup or a compaction walks through.
 */
export class Segment implements ClosableSegment {
  readonly paths: SegmentPaths
  private fdValue = -1
  private sizeBytesValue = 0
  private visibleBytesValue = 0
  private offsetIndexValue: OffsetIndex
  private timeIndexValue: TimeIndex
  private maxTimestampValue = -1
  private nextOffsetValue: number
  private rollStartMsValue = -1
  private sealedValue = false
  /** The chunk a sequential reader is expected to ask for next, being read (readAheadFrom). */
  private readAhead: ReadAhead | null = null
  private bytesSinceIndexEntry = 0
  private persistedIndexEntries = 0
  private persistedTimeEntries = 0
  private loading: Promise<void> | null = null
  private loadedFlag = false
  private readers = 0
  private drained: (() => void) | null = null
  /** In the budget of open sealed segments (open-segments.ts). */
  private counted = false
  /** The last close of the descriptor, while or after it runs. */
  private closing: Promise<void> | null = null
  /**
   * A sealed segment's largest timestamp while it is not loaded (read from its time index,
   * or kept when the budget closed it), or null: lookups by time walk every segment, and
   * must not reopen a file for each.
   */
  private largestWhenUnloaded: number | null = null

  constructor(
    private readonly ctx: SegmentContext,
    readonly baseOffset: number,
  ) {
    this.paths = segmentPaths(ctx.dir, baseOffset)
    this.offsetIndexValue = new OffsetIndex(baseOffset)
    this.timeIndexValue = new TimeIndex(baseOffset)
    this.nextOffsetValue = baseOffset
  }

  /** The `.log`'s descriptor while open, else -1. */
  get fd(): number {
    return this.fdValue
  }

  /** Bytes in the file (for the active segment: bytes written). */
  get sizeBytes(): number {
    return this.sizeBytesValue
  }

  /** Readers stop here: on the active segment, the end of what is durable under the policy. */
  get visibleBytes(): number {
    return this.visibleBytesValue
  }

  get offsetIndex(): OffsetIndex {
    return this.offsetIndexValue
  }

  get timeIndex(): TimeIndex {
    return this.timeIndexValue
  }

  /** The largest record timestamp indexed so far, or -1. */
  get maxTimestamp(): number {
    return this.maxTimestampValue
  }

  /** Offset after the last batch; known for the active segment and once a sealed one is scanned. */
  get nextOffset(): number {
    return this.nextOffsetValue
  }

  /** Clock time of the first append, which starts the `segmentMs` clock; -1 while empty. */
  get rollStartMs(): number {
    return this.rollStartMsValue
  }

  get sealed(): boolean {
    return this.sealedValue
  }

  /** Opens the `.log` (or, for a copy being written aside, `file`), by default for writing unless read-only, and learns its size. */
  async openFile(flags = this.ctx.readOnly ? 'r' : 'r+', file = this.paths.log): Promise<void> {
    try {
      this.fdValue = await this.ctx.io.open(file, flags)
      this.sizeBytesValue = await this.ctx.io.fstatSize(this.fdValue)
    } catch (error) {
      throw ioError('opening segment', file, error)
    }
  }

  /** Bytes were written up to `position` (appended by the writer, or copied aside). */
  grewTo(position: number): void {
    this.sizeBytesValue = position
  }

  /** Readers may now read up to `position`. */
  showUpTo(position: number): void {
    this.visibleBytesValue = position
  }

  /** The file was cut to `position` (a torn tail): nothing past it exists or is shown. */
  cutTo(position: number): void {
    this.sizeBytesValue = position
    this.visibleBytesValue = position
  }

  /** Starts the `segmentMs` clock (-1: not started), as recorded or at the first append. */
  startRollClock(ms: number): void {
    this.rollStartMsValue = ms
  }

  /** Recovery found the segment's records to end before `offset` (compaction may leave a gap). */
  endsBefore(offset: number): void {
    this.nextOffsetValue = offset
  }

  get loaded(): boolean {
    return this.loadedFlag
  }

  /** Called by recovery once it has opened and indexed the segment itself. */
  markLoaded(): void {
    this.loadedFlag = true
  }

  /**
   * Creates the `.log` of a new, empty active segment. Never over data: a file of that
   * name left empty (by a roll whose directory fsync failed, or by recovery) is taken
   * over; one holding bytes is an IO_ERROR, since truncating it could destroy records.
   */
  static async create(ctx: SegmentContext, baseOffset: number): Promise<Segment> {
    const segment = new Segment(ctx, baseOffset)
    const file = segment.paths.log
    try {
      segment.fdValue = await ctx.io.open(file, 'wx+')
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw ioError('creating segment', file, error)
      await segment.takeOverEmpty()
    }
    segment.loadedFlag = true
    return segment
  }

  private async takeOverEmpty(): Promise<void> {
    const file = this.paths.log
    await this.openFile('r+')
    const size = this.sizeBytes
    if (size === 0) return
    await this.close().catch(() => undefined)
    const exists = Object.assign(new Error(`a segment file holding ${size} bytes is already there`), { code: 'EEXIST' })
    throw ioError('creating segment', file, exists)
  }

  /** The indexing rule, shared by appends and rebuilds so both produce the same index. */
  indexBatch(position: number, batch: IndexedBatch): void {
    const addEntry = this.bytesSinceIndexEntry >= this.ctx.indexIntervalBytes
    if (addEntry) {
      this.offsetIndex.append(batch.baseOffset, position)
      this.bytesSinceIndexEntry = 0
    }
    this.bytesSinceIndexEntry += batch.sizeBytes
    if (batch.maxTimestamp > this.maxTimestamp) this.maxTimestampValue = batch.maxTimestamp
    if (addEntry) this.timeIndex.maybeAppend(this.maxTimestamp, batch.lastOffset)
    this.nextOffsetValue = batch.lastOffset + 1
  }

  /** Marks the segment read-only and records its largest timestamp in the time index. */
  seal(): void {
    this.sealedValue = true
    if (this.nextOffset > this.baseOffset) this.timeIndex.maybeAppend(this.maxTimestamp, this.nextOffset - 1)
  }

  async ensureLoaded(): Promise<void> {
    if (this.loadedFlag) {
      if (this.counted) openSealedSegments.touch(this)
      return
    }
    this.loading ??= this.load().finally(() => {
      this.loading = null
    })
    await this.loading
  }

  private async load(): Promise<void> {
    await this.openFile('r')
    this.visibleBytesValue = this.sizeBytes
    let problem = await this.loadIndexFiles()
    if (this.sizeBytes === 0 && this.timeIndex.entries.length > 0) {
      // Its time index says it held records (compaction empties a segment's indexes too):
      // they were lost outside spool.
      this.ctx.logger.warn(`${this.paths.log} is empty but its index says it held records from offset ${this.baseOffset}; restore the file from a backup`)
    }
    if (problem !== null) {
      if (!this.ctx.readOnly) this.ctx.logger.warn(`rebuilding the indexes of ${this.paths.log}: ${problem}`)
      await this.rebuildIndexes()
    } else if (this.sizeBytes > 0 && this.timeIndex.entries.length === 0) {
      // A sealed segment's time index ends with its largest timestamp, unless every record
      // has none (Kafka's -1): an empty one is rebuilt to tell, without a warning, as it may be right.
      await this.rebuildIndexes()
    }
    this.sealedValue = true
    this.loadedFlag = true
    this.joinBudget()
  }

  /**
   * Its files now say all it holds (loaded from them, indexes persisted, or a rewritten
   * copy installed under its own name): from now on it may be closed while idle.
   */
  filesInstalled(): void {
    this.joinBudget()
  }

  private joinBudget(): void {
    if (this.fdValue < 0 || !this.sealedValue || !this.loadedFlag) return
    this.counted = true
    openSealedSegments.touch(this)
  }

  /** Whether the budget may close it now: nobody reads it and it is not being loaded. */
  idle(): boolean {
    return this.readers === 0 && this.loading === null && this.fdValue >= 0
  }

  /** Closes it for the budget, dropping its indexes too (they are reloaded from its files). */
  evict(): void {
    this.largestWhenUnloaded = this.maxTimestamp
    this.offsetIndexValue = new OffsetIndex(this.baseOffset)
    this.timeIndexValue = new TimeIndex(this.baseOffset)
    this.close().catch((error: unknown) => this.ctx.logger.warn(`closing ${this.paths.log}: ${(error as Error).message}`))
  }

  /** Reads both index files; returns why they cannot be used, or null. */
  async loadIndexFiles(): Promise<string | null> {
    const { io } = this.ctx
    let indexBytes: Buffer | null
    let timeBytes: Buffer | null
    try {
      indexBytes = await io.readFileIfExists(this.paths.index)
      timeBytes = await io.readFileIfExists(this.paths.timeIndex)
    } catch (error) {
      return `its index files cannot be read (${(error as Error).message})`
    }
    if (indexBytes === null || timeBytes === null) return 'an index file is missing'
    const offsetIndex = OffsetIndex.decode(this.baseOffset, indexBytes, Math.max(this.sizeBytes, 1))
    if (typeof offsetIndex === 'string') return `${this.paths.index}: ${offsetIndex}`
    const timeIndex = TimeIndex.decode(this.baseOffset, timeBytes, 2 ** 32 - 1)
    if (typeof timeIndex === 'string') return `${this.paths.timeIndex}: ${timeIndex}`
    this.offsetIndexValue = offsetIndex
    this.timeIndexValue = timeIndex
    this.maxTimestampValue = timeIndex.maxTimestamp
    this.persistedIndexEntries = offsetIndex.entries.length
    this.persistedTimeEntries = timeIndex.entries.length
    return null
  }

  /**
   * Rebuilds both indexes from the log (header checks only; reads check CRCs). The active
   * segment is rebuilt up to `sizeBytes` and stays unsealed; its files are rewritten by
   * the next checkpoint.
   */
  async rebuildIndexes(offsetLimit = Infinity): Promise<void> {
    const sealed = this.sealed || !this.loadedFlag
    this.resetIndexes()
    const result = await this.scanHeaders((position, header) => this.indexBatch(position, indexedBatchOf(header)), offsetLimit)
    if (result.problem !== null) {
      this.ctx.logger.warn(`${this.paths.log}: indexed up to byte ${result.validEndPosition}: ${result.problem}`)
    }
    if (!sealed) return
    this.seal()
    if (!this.ctx.readOnly) await this.rewriteIndexFiles()
  }

  /** Walks the loaded segment's batch headers from its start (header checks only; reads check CRCs). */
  private scanHeaders(onBatch: (position: number, header: BatchHeader) => void, offsetLimit = Infinity): Promise<ScanResult> {
    return scanBatches(this.ctx.io, this.fd, {
      fromPosition: 0,
      sizeBytes: this.sizeBytes,
      minBaseOffset: this.baseOffset,
      // Relative offsets are uint32 in the index: a damaged base offset must stop the scan.
      maxOffsetExclusive: Math.min(offsetLimit, this.baseOffset + MAX_SEGMENT_OFFSET_SPAN),
      maxBatchBytes: this.ctx.maxBatchBytes,
      checkCrc: false,
      onBatch,
    })
  }

  /**
   * The largest record timestamp of a sealed segment as its `.log` says (every batch
   * header read), or null when the log cannot vouch for it (a damaged header). For a
   * decision that destroys data: the time index is rebuildable metadata, and metadata
   * alone never authorizes a deletion. A time index that disagrees is rebuilt from the log.
   */
  async largestTimestampFromLog(): Promise<number | null> {
    return this.whileHeld(async () => {
      await this.ensureLoaded()
      let largest = -1
      const scan = await this.scanHeaders((_, header) => {
        if (header.maxTimestamp > largest) largest = header.maxTimestamp
      })
      if (scan.problem !== null) {
        this.ctx.logger.warn(`${this.paths.log}: cannot tell its largest timestamp past byte ${scan.validEndPosition}: ${scan.problem}`)
        return null
      }
      if (largest !== this.maxTimestamp) {
        this.ctx.logger.warn(`${this.paths.timeIndex} says the largest timestamp is ${this.maxTimestamp}, the log says ${largest}; rebuilding`)
        await this.rebuildIndexes()
      }
      return largest
    })
  }

  resetIndexes(): void {
    this.largestWhenUnloaded = null
    this.offsetIndexValue = new OffsetIndex(this.baseOffset)
    this.timeIndexValue = new TimeIndex(this.baseOffset)
    this.maxTimestampValue = -1
    this.bytesSinceIndexEntry = 0
    this.nextOffsetValue = this.baseOffset
    this.persistedIndexEntries = 0
    this.persistedTimeEntries = 0
  }

  /**
   * Keeps only what lies before `position` (a batch boundary known to be valid) so that a
   * scan from there can continue indexing. `nextOffset` and `maxTimestamp` describe the
   * log up to `position`.
   */
  trimIndexesTo(position: number, nextOffset: number, maxTimestamp: number): void {
    this.offsetIndex.entries.truncateFromValue(position)
    const times = this.timeIndex.entries
    let keep = times.length
    while (keep > 0 && this.baseOffset + times.valueAt(keep - 1) >= nextOffset) keep--
    times.truncate(keep)
    const lastEntryPosition = this.offsetIndex.entries.length > 0 ? this.offsetIndex.entries.lastValue() : 0
    this.bytesSinceIndexEntry = position - lastEntryPosition
    this.nextOffsetValue = nextOffset
    this.maxTimestampValue = Math.max(maxTimestamp, this.timeIndex.maxTimestamp)
    this.persistedIndexEntries = Math.min(this.persistedIndexEntries, this.offsetIndex.entries.length)
    this.persistedTimeEntries = Math.min(this.persistedTimeEntries, times.length)
  }

  /** Writes both index files whole, atomically (after a rebuild or a recovery). */
  async rewriteIndexFiles(): Promise<void> {
    const indexCount = this.offsetIndex.entries.length
    const timeCount = this.timeIndex.entries.length
    await writeFileAtomic(this.ctx.io, this.paths.index, this.offsetIndex.encode(0, indexCount))
    await writeFileAtomic(this.ctx.io, this.paths.timeIndex, this.timeIndex.encode(0, timeCount))
    this.persistedIndexEntries = indexCount
    this.persistedTimeEntries = timeCount
    this.joinBudget()
  }

  /** Appends the index entries not yet on disk, and fsyncs them. */
  async persistIndexes(): Promise<void> {
    const indexCount = this.offsetIndex.entries.length
    const timeCount = this.timeIndex.entries.length
    await this.appendEntries(
      this.paths.index,
      this.persistedIndexEntries,
      this.offsetIndex.encode(this.persistedIndexEntries, indexCount),
      OFFSET_INDEX_ENTRY_BYTES,
    )
    this.persistedIndexEntries = indexCount
    await this.appendEntries(
      this.paths.timeIndex,
      this.persistedTimeEntries,
      this.timeIndex.encode(this.persistedTimeEntries, timeCount),
      TIME_INDEX_ENTRY_BYTES,
    )
    this.persistedTimeEntries = timeCount
    this.joinBudget() // a segment sealed by a roll, once its last entries are on disk
  }

  private async appendEntries(file: string, persisted: number, bytes: Buffer, entryBytes: number): Promise<void> {
    const { io } = this.ctx
    let fd: number
    try {
      fd = await io.open(file, persisted === 0 ? 'w' : 'r+')
    } catch (error) {
      throw ioError('opening index', file, error)
    }
    try {
      await writeFully(io, fd, [bytes], persisted * entryBytes)
      await io.ftruncate(fd, persisted * entryBytes + bytes.length)
      await io.fsync(fd)
    } catch (error) {
      throw ioError('writing index', file, error)
    } finally {
      await io.close(fd).catch(() => undefined)
    }
  }

  /** The `.log` size, without loading the segment. */
  async logSizeBytes(): Promise<number> {
    if (this.loadedFlag) return this.sizeBytes
    try {
      return await this.ctx.io.statSize(this.paths.log)
    } catch (error) {
      throw ioError('reading the size of', this.paths.log, error)
    }
  }

  /**
   * A reader holds the segment from before its first await on it until it is done, so
   * that a segment taken out of the partition's list (by retention or compaction) keeps
   * its fd until the last read in flight has finished with it.
   */
  acquire(): void {
    this.readers++
  }

  /** Runs `work` holding the segment (see acquire): from before its first await until it settles. */
  async whileHeld<T>(work: () => Promise<T>): Promise<T> {
    this.acquire()
    try {
      return await work()
    } finally {
      this.release()
    }
  }

  release(): void {
    this.readers--
    if (this.readers > 0) return
    if (this.drained !== null) {
      const done = this.drained
      this.drained = null
      done()
    }
    // The budget may have been exceeded while this segment was held.
    if (this.counted) openSealedSegments.trim()
  }

  /**
   * For a segment no longer in the partition's list: waits for the readers still holding
   * it, then closes its fd. Its files may then be deleted or replaced.
   */
  async retire(): Promise<void> {
    await this.readersGone()
    await this.close()
  }

  /** Settles once no reader holds the segment. */
  async readersGone(): Promise<void> {
    while (this.readers > 0) await new Promise<void>((resolve) => (this.drained = resolve))
  }

  /**
   * The largest record timestamp of a sealed segment (-1 when it holds no record), without
   * loading it: a sealed segment's `.timeindex` ends with that timestamp, so only its last
   * entry is read. When the time index cannot tell, the segment is loaded (which rebuilds it).
   */
  async largestTimestamp(): Promise<number> {
    if (this.loadedFlag) return this.maxTimestamp
    if (this.largestWhenUnloaded !== null) return this.largestWhenUnloaded
    const { io } = this.ctx
    let last: number | null = null
    let fd = -1
    try {
      fd = await io.open(this.paths.timeIndex, 'r')
      const size = await io.fstatSize(fd)
      if (size > 0 && size % TIME_INDEX_ENTRY_BYTES === 0) {
        const entry = await readAt(io, fd, size - TIME_INDEX_ENTRY_BYTES, TIME_INDEX_ENTRY_BYTES)
        if (entry.length === TIME_INDEX_ENTRY_BYTES) last = readInt64(entry, 0)
      }
    } catch {
      // A missing or unreadable time index: fall through to loading the segment.
    } finally {
      if (fd >= 0) await io.close(fd).catch(() => undefined)
    }
    if (last !== null) return (this.largestWhenUnloaded = last)
    if ((await this.logSizeBytes()) === 0) return -1
    await this.ensureLoaded()
    return this.maxTimestamp
  }

  /**
   * `length` bytes at `position`. With `buffers`, into a buffer of the caller's (a pool's
   * that it takes back after use); one read ahead into a lent buffer becomes the caller's,
   * or, for a reader that gives nothing back, stays its own (the pool never sees it again).
   */
  async read(position: number, length: number, buffers?: ReadBuffers): Promise<Buffer> {
    return (await this.readChunk(position, length, buffers)).buf
  }

  /**
   * `read`, and how many of the bytes from the start are whole batches the read ahead
   * already checked (its `check`, run as the bytes arrived: in the time the reader was
   * busy elsewhere, not on its way).
   */
  async readChunk(position: number, length: number, buffers?: ReadBuffers): Promise<{ buf: Buffer; checkedBytes: number }> {
    try {
      if (this.readsOnCallingThread(length)) return { buf: readAtSync(this.ctx.io, this.fd, position, length, buffers?.allocate), checkedBytes: 0 }
      const ahead = this.readAhead
      this.readAhead = null
      if (ahead !== null && ahead.position === position && ahead.length >= length) {
        const buf = await ahead.read.catch(() => null)
        // A failed read-ahead is not an error yet: the read below reports it if it fails again.
        if (buf !== null) {
          if (ahead.lent) buffers?.adopt(buf)
          return { buf: buf.length > length ? buf.subarray(0, length) : buf, checkedBytes: Math.min(ahead.checkedBytes, length) }
        }
      }
      return { buf: await readAt(this.ctx.io, this.fd, position, length, buffers?.allocate), checkedBytes: 0 }
    } catch (error) {
      throw ioError('reading', this.paths.log, error)
    }
  }

  /**
   * Starts reading `length` bytes at `position` in the background, for the `read` that a
   * sequential reader will ask for next (the caller knows those bytes are there and
   * whole). Replay decodes one chunk while the thread pool reads the next, instead of
   * leaving the main thread idle for each read (15% of a replay's time, profiled). One
   * chunk is held at most; a read elsewhere drops it. `check` runs on the bytes as they
   * arrive and says how many from the start it vouches for (readChunk's checkedBytes).
   */
  readAheadFrom(position: number, length: number, buffers?: ReadBuffers, check?: (buf: Buffer) => number): void {
    if (this.fd < 0 || this.readsOnCallingThread(length)) return
    const ahead: ReadAhead = { position, length, read: readAt(this.ctx.io, this.fd, position, length, buffers?.lend), lent: buffers !== undefined, checkedBytes: 0 }
    if (check !== undefined) {
      ahead.read = ahead.read.then((buf) => {
        ahead.checkedBytes = check(buf)
        return buf
      })
    }
    ahead.read.catch(() => undefined) // taken, or dropped, by the next read
    this.readAhead = ahead
  }

  /** How many bytes the read ahead at `position` reads, or 0 when none is there. */
  readAheadLengthAt(position: number): number {
    const ahead = this.readAhead
    return ahead !== null && ahead.position === position ? ahead.length : 0
  }

  /** The just-written tail is in the page cache: a small read of it costs less than a thread-pool trip. */
  private readsOnCallingThread(length: number): boolean {
    return !this.sealed && length <= SYNC_TAIL_READ_MAX_BYTES
  }

  async close(): Promise<void> {
    // Closed already, maybe by the budget a moment ago: a caller that goes on to delete or
    // replace the files (retire) waits until that descriptor is really closed.
    if (this.fd < 0) return this.closing?.catch(() => undefined)
    const fd = this.fd
    this.fdValue = -1
    this.loadedFlag = false
    if (this.counted) openSealedSegments.forget(this)
    this.counted = false
    // A read still in flight must not land on the number of a file opened after this one.
    const ahead = this.readAhead
    this.readAhead = null
    this.closing = (async () => {
      await ahead?.read.catch(() => undefined)
      await this.ctx.io.close(fd)
    })()
    await this.closing
  }
}
