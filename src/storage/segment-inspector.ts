import {
  type BatchHeader,
  MalformedBatchError,
  batchChecksumFormat,
  decodeRecords,
  frameProblem,
  headerProblem,
  lastOffsetOf,
  readBatchHeader,
} from '../record/batch-decoder.js'
import { BATCH_HEADER_BYTES, type BatchFormat } from '../record/batch-format.js'
import type { StoredRecord } from '../record/types.js'
import path from 'node:path'
import type { StorageIO } from './io.js'
import { SCAN_CHUNK_BYTES } from '../limits.js'
import { FileWindow, type FoundBatch, findValidBatch, readAt } from './log-scanner.js'
import { offsetOrderProblem } from './segment-reader.js'
import { OffsetIndex } from './offset-index.js'
import { parseSegmentFileName } from './paths.js'
import { TimeIndex } from './time-index.js'

/**
 * Read-only inspection of segment files, for `spool segments dump|index|verify`: it
 * reports every batch, good or bad, where the engine would stop at the first bad one.
 * It opens files for reading only and never writes.
 */
export interface BatchReport {
  position: number
  header: BatchHeader
  lastOffset: number
  crcOk: boolean
  /** Which checksum matched: 2 (CRC-32C, Kafka's), 1 (CRC-32, written before format v2), or null. */
  format: BatchFormat | null
  /** Intact: CRC, header and offsets in order. */
  ok: boolean
  /** Why it is not intact, when it is not. */
  problem?: string
  /** The records, when asked for and the batch is intact. */
  records?: StoredRecord[]
}

export interface LogReport {
  sizeBytes: number
  batches: BatchReport[]
  /**
   * Stretches that frame no batch (a broken magic byte or length) but have a valid batch
   * after them in the file, where the walk picked up again: damage, never a torn tail.
   */
  skipped: Array<{ position: number; end: number; why: string }>
  /** Where and why the file stops being a sequence of batches with nothing valid after, if it does. */
  unreadable: { position: number; why: string } | null
}

export interface InspectOptions {
  records?: boolean
  /** Decode the records of every intact batch to check them, without keeping them. */
  checkRecords?: boolean
  maxBatchBytes: number
  /** The next segment's base offset: every batch of this file must end below it. */
  offsetLimit?: number
  /** Called per batch as it is read (for progress). */
  onBatch?: (report: BatchReport) => void
}

async function withFile<T>(io: StorageIO, file: string, use: (fd: number, size: number) => Promise<T>): Promise<T> {
  const fd = await io.open(file, 'r')
  try {
    return await use(fd, await io.fstatSize(fd))
  } finally {
    await io.close(fd)
  }
}

/**
 * Where the walk picks up after damage at `position`: the first valid batch after it
 * (findValidBatch), remembered so that a run of damaged batches searches the file once.
 */
class Resync {
  private last: { from: number; found: FoundBatch | null } | null = null

  constructor(
    private readonly io: StorageIO,
    private readonly fd: number,
    private readonly size: number,
    private readonly options: InspectOptions,
  ) {}

  async after(position: number, minBaseOffset: number): Promise<FoundBatch | null> {
    const from = position + 1
    const last = this.last
    if (last !== null && from >= last.from && (last.found === null || last.found.position >= from)) return last.found
    const found = await findValidBatch(this.io, this.fd, {
      fromPosition: from,
      sizeBytes: this.size,
      minBaseOffset,
      ...(this.options.offsetLimit === undefined ? {} : { maxOffsetExclusive: this.options.offsetLimit }),
      maxBatchBytes: this.options.maxBatchBytes,
    })
    this.last = { from, found }
    return found
  }
}

/** One thing a walk of a `.log` meets, in file order. */
export type LogItem =
  | { kind: 'batch'; batch: BatchReport }
  /** A stretch that frames no batch, with a valid batch after it (LogReport.skipped). */
  | { kind: 'skipped'; position: number; end: number; why: string }
  /** Where the file stops being batches, with nothing valid after it (LogReport.unreadable); always the last item. */
  | { kind: 'unreadable'; position: number; why: string }


/**
 * A window like log-scanner.ts's FileWindow that reads into a few buffers in turn instead
 * of a new one per read: a streamed walk of a 1 GiB file would otherwise leave 1 GiB of
 * dead buffers to the garbage collector, which lets tens of MB of them pile up before it
 * runs. A buffer grows to the largest read made into it (a batch larger than a chunk),
 * so together they hold at most RECYCLED_CHUNKS times the largest batch, or chunk.
 *
 * What `at` returned is overwritten RECYCLED_CHUNKS reads later. That is enough for
 * walkLog: the batch it holds back (pending, with its records) lies in the buffer of the
 * last read made for it, and before handing it over the walk reads only the next batch:
 * its header (one read at most), then the rest of it (one more at most).
 */
const RECYCLED_CHUNKS = 3

class RecycledWindow extends FileWindow {
  private readonly buffers: Buffer[] = []
  private next = 0

  protected override async load(position: number, want: number): Promise<Buffer> {
    const slot = this.next
    this.next = (slot + 1) % RECYCLED_CHUNKS
    const reusable = this.buffers[slot]
    const buffer = reusable !== undefined && reusable.length >= want ? reusable : Buffer.allocUnsafe(Math.max(SCAN_CHUNK_BYTES, want))
    this.buffers[slot] = buffer
    let filled = 0
    while (filled < want) {
      const n = await this.io.read(this.fd, buffer, filled, want - filled, position + filled)
      if (n === 0) break
      filled += n
    }
    return buffer.subarray(0, filled)
  }
}

/**
 * The batches of a file one at a time, each checked on its own (frame, header, CRC, and
 * its records when asked), but not yet for offset order: that needs the next intact batch.
 */
class RawWalk {
  private readonly window: FileWindow
  private readonly resync: Resync
  private done = false

  constructor(
    private readonly io: StorageIO,
    private readonly fd: number,
    private readonly size: number,
    private readonly options: InspectOptions,
    /** Decode each intact batch's records and keep them, decode them only to check them, or neither. */
    private readonly records: 'keep' | 'check' | 'none',
    /** Where the next item starts. */
    public position: number,
    /** The offset after the last batch whose CRC holds. */
    private nextOffset: number,
    /** Read into recycled buffers (RecycledWindow): what it returns is valid only until the walk goes on. */
    recycle: boolean,
  ) {
    this.window = recycle ? new RecycledWindow(io, fd, size) : new FileWindow(io, fd, size)
    this.resync = new Resync(io, fd, size, options)
  }

  /** Another walk from here, which meets and judges what this one meets next (without keeping records). */
  fork(): RawWalk {
    return new RawWalk(this.io, this.fd, this.size, this.options, this.records === 'none' ? 'none' : 'check', this.position, this.nextOffset, true)
  }

  async next(): Promise<LogItem | null> {
    const { size, position, options } = this
    if (this.done || position >= size) return null
    if (size - position < BATCH_HEADER_BYTES) {
      this.done = true
      return { kind: 'unreadable', position, why: `${size - position} trailing bytes are shorter than a batch header` }
    }
    const head = await this.window.at(position, BATCH_HEADER_BYTES)
    const header = readBatchHeader(head.buf, head.at)
    // Only a broken frame (magic, length) stops the walk: a damaged field inside a batch
    // whose length still holds is that batch's damage (its CRC covers the field). Past a
    // broken frame the walk picks up at the next valid batch, if there is one.
    const remaining = size - position
    const framing =
      frameProblem(header, options.maxBatchBytes) ??
      (header.sizeBytes > remaining ? `the batch needs ${header.sizeBytes} bytes but the file ends after ${remaining}` : null)
    if (framing !== null) {
      const found = await this.resync.after(position, this.nextOffset)
      if (found === null) {
        this.done = true
        return { kind: 'unreadable', position, why: framing }
      }
      this.position = found.position
      return { kind: 'skipped', position, end: found.position, why: framing }
    }
    const whole = await this.window.at(position, header.sizeBytes)
    // A view of exactly the batch: record parsing must not see the bytes after it.
    const bytes = whole.buf.subarray(whole.at, whole.at + header.sizeBytes)
    const format = batchChecksumFormat(bytes, 0, header)
    const intact = headerProblem(header, options.maxBatchBytes) === null && format !== null
    const batch: BatchReport = { position, header, lastOffset: lastOffsetOf(header), crcOk: intact, format, ok: intact }
    if (!intact) batch.problem = 'CRC mismatch'
    if (this.records !== 'none' && batch.crcOk) checkRecords(bytes, header, batch, this.records === 'keep')
    let next = position + header.sizeBytes
    if (intact) {
      this.nextOffset = batch.lastOffset + 1
    } else {
      // A damaged length may still frame a batch: when a valid batch starts inside the
      // extent it claims, that is where the next batch really is.
      const found = await this.resync.after(position, this.nextOffset)
      if (found !== null && found.position < next) next = found.position
    }
    this.position = next
    return { kind: 'batch', batch }
  }
}

export interface LogVisitor {
  /** Called first, with the size of the file as opened (what the walk reads up to). */
  start?(sizeBytes: number): void | Promise<void>
  /** Each batch, skipped stretch and the unreadable end, in file order; the walk awaits it before reading on. */
  item(item: LogItem): void | Promise<void>
}

/**
 * Walks a `.log` from its start and hands the visitor each batch, skipped stretch and the
 * unreadable end, in file order, awaiting it before reading on: memory stays that of a
 * few chunks and one batch (with its records, when asked for) whatever the size of the
 * file, and a slow consumer (a dump piped into a slow reader) slows the walk down instead
 * of making it queue. A batch's records are views of a read buffer that the walk reuses:
 * they are valid until `item` has settled (copy what must outlive it; inspectLog keeps
 * everything, and does not reuse buffers).
 *
 * Each batch is judged as inspectLog judges it, offset order included: whether a batch's
 * offsets are in order depends on the next intact batch (offsetOrderProblem), so an
 * intact batch is handed over once that one is read. When damage follows it, a second
 * walk looks ahead past the damage for that batch (reading the damaged stretch twice,
 * rather than holding what lies between).
 */
export function walkLog(io: StorageIO, file: string, options: InspectOptions, visitor: LogVisitor): Promise<{ sizeBytes: number }> {
  return walk(io, file, options, visitor, true)
}

function walk(io: StorageIO, file: string, options: InspectOptions, visitor: LogVisitor, recycle: boolean): Promise<{ sizeBytes: number }> {
  return withFile(io, file, async (fd, size) => {
    await visitor.start?.(size)
    const fileBase = parseSegmentFileName(path.basename(file))?.baseOffset ?? 0
    const limit = options.offsetLimit ?? Infinity
    const records = options.records === true ? 'keep' : options.checkRecords === true ? 'check' : 'none'
    const raw = new RawWalk(io, fd, size, options, records, 0, fileBase, recycle)
    let previousLast = fileBase - 1
    let pending: BatchReport | null = null // intact, waiting for the next intact batch's base offset
    const settle = async (batch: BatchReport, nextBase: number | null): Promise<void> => {
      const problem = offsetOrderProblem(batch.header.baseOffset, batch.lastOffset, previousLast, limit, nextBase)
      if (problem === null) {
        previousLast = batch.lastOffset
      } else {
        batch.ok = false
        batch.problem = problem
      }
      await visitor.item({ kind: 'batch', batch })
    }
    for (let item = await raw.next(); item !== null; item = await raw.next()) {
      if (item.kind === 'batch') options.onBatch?.(item.batch)
      if (item.kind === 'batch' && item.batch.ok) {
        if (pending !== null) await settle(pending, item.batch.header.baseOffset)
        pending = item.batch
        continue
      }
      if (pending !== null) {
        await settle(pending, await nextIntactBase(raw.fork()))
        pending = null
      }
      await visitor.item(item)
    }
    if (pending !== null) await settle(pending, null)
    return { sizeBytes: size }
  })
}

/** The base offset of the next batch a walk meets that is intact (before offset order), or null. */
async function nextIntactBase(ahead: RawWalk): Promise<number | null> {
  for (let item = await ahead.next(); item !== null; item = await ahead.next()) {
    if (item.kind === 'batch' && item.batch.ok) return item.batch.header.baseOffset
  }
  return null
}

/** Every batch of a `.log`, good or bad, held in memory (walkLog streams them). */
export async function inspectLog(io: StorageIO, file: string, options: InspectOptions): Promise<LogReport> {
  const report: LogReport = { sizeBytes: 0, batches: [], skipped: [], unreadable: null }
  const visitor: LogVisitor = {
    item: (item) => {
      if (item.kind === 'batch') report.batches.push(item.batch)
      else if (item.kind === 'skipped') report.skipped.push({ position: item.position, end: item.end, why: item.why })
      else report.unreadable = { position: item.position, why: item.why }
    },
  }
  const { sizeBytes } = await walk(io, file, options, visitor, false)
  report.sizeBytes = sizeBytes
  return report
}

function checkRecords(bytes: Buffer, header: BatchHeader, batch: BatchReport, keep: boolean): void {
  const records: StoredRecord[] = []
  try {
    decodeRecords(bytes, 0, header, 0, records)
    if (keep) batch.records = records
  } catch (error) {
    if (!(error instanceof MalformedBatchError)) throw error
    batch.ok = false
    batch.problem = `its records do not parse: ${error.message}`
  }
}

export interface IndexEntryReport {
  /** Offset index: the batch base offset; time index: the offset the timestamp covers. */
  offset: number
  /** Offset index: the byte position; time index: the timestamp. */
  value: number
  ok: boolean
  why?: string
}

export interface IndexReport {
  kind: 'offset' | 'time'
  entries: IndexEntryReport[]
  /** Why the file as a whole cannot be used (bad size, out of order), if so. */
  problem: string | null
}

/**
 * Checks each entry of a `.index` or `.timeindex` against the log beside it: an offset
 * entry must point at the batch that starts at its offset; a time entry's offset must be
 * in the log and no record up to it may be newer than its timestamp.
 */
export async function inspectIndex(io: StorageIO, indexFile: string, log: LogReport, baseOffset: number): Promise<IndexReport> {
  const bytes = await withFile(io, indexFile, (fd, size) => readAt(io, fd, 0, size))
  const kind = indexFile.endsWith('.timeindex') ? 'time' : 'offset'
  const decoded = kind === 'offset' ? OffsetIndex.decode(baseOffset, bytes, Math.max(log.sizeBytes, 1)) : TimeIndex.decode(baseOffset, bytes, 2 ** 32 - 1)
  if (typeof decoded === 'string') return { kind, entries: [], problem: decoded }
  const byPosition = new Map(log.batches.map((b) => [b.position, b]))
  const entries: IndexEntryReport[] = []
  let maxTimestamp = -1
  let batchIndex = 0
  for (let i = 0; i < decoded.entries.length; i++) {
    const offset = baseOffset + (kind === 'offset' ? decoded.entries.keyAt(i) : decoded.entries.valueAt(i))
    const value = kind === 'offset' ? decoded.entries.valueAt(i) : decoded.entries.keyAt(i)
    if (kind === 'offset') {
      const batch = byPosition.get(value)
      const ok = batch !== undefined && batch.header.baseOffset === offset
      entries.push(ok ? { offset, value, ok } : { offset, value, ok, why: `no batch of base offset ${offset} starts at byte ${value}` })
      continue
    }
    while (batchIndex < log.batches.length && log.batches[batchIndex]!.header.baseOffset <= offset) {
      maxTimestamp = Math.max(maxTimestamp, log.batches[batchIndex]!.header.maxTimestamp)
      batchIndex++
    }
    const covered = batchIndex > 0 && log.batches[batchIndex - 1]!.lastOffset >= offset
    if (!covered) entries.push({ offset, value, ok: false, why: `offset ${offset} is not in the log` })
    else if (maxTimestamp > value) entries.push({ offset, value, ok: false, why: `a record up to offset ${offset} is stamped ${maxTimestamp}, later than the entry` })
    else entries.push({ offset, value, ok: true })
  }
  return { kind, entries, problem: null }
}

