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
import { type FoundBatch, findValidBatch, readAt } from './log-scanner.js'
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

export function inspectLog(io: StorageIO, file: string, options: InspectOptions): Promise<LogReport> {
  return withFile(io, file, async (fd, size) => {
    const report: LogReport = { sizeBytes: size, batches: [], skipped: [], unreadable: null }
    const fileBase = parseSegmentFileName(path.basename(file))?.baseOffset ?? 0
    const resync = new Resync(io, fd, size, options)
    let nextOffset = fileBase // after the last batch whose CRC holds
    let position = 0
    while (position < size) {
      if (size - position < BATCH_HEADER_BYTES) {
        report.unreadable = { position, why: `${size - position} trailing bytes are shorter than a batch header` }
        break
      }
      const head = await readAt(io, fd, position, Math.min(BATCH_HEADER_BYTES, size - position))
      const header = readBatchHeader(head, 0)
      // Only a broken frame (magic, length) stops the walk: a damaged field inside a batch
      // whose length still holds is that batch's damage (its CRC covers the field). Past a
      // broken frame the walk picks up at the next valid batch, if there is one.
      const remaining = size - position
      const framing =
        frameProblem(header, options.maxBatchBytes) ??
        (header.sizeBytes > remaining ? `the batch needs ${header.sizeBytes} bytes but the file ends after ${remaining}` : null)
      if (framing !== null) {
        const found = await resync.after(position, nextOffset)
        if (found === null) {
          report.unreadable = { position, why: framing }
          break
        }
        report.skipped.push({ position, end: found.position, why: framing })
        position = found.position
        continue
      }
      const bytes = await readAt(io, fd, position, header.sizeBytes)
      const format = batchChecksumFormat(bytes, 0, header)
      const intact = headerProblem(header, options.maxBatchBytes) === null && format !== null
      const batch: BatchReport = { position, header, lastOffset: lastOffsetOf(header), crcOk: intact, format, ok: intact }
      if (!intact) batch.problem = 'CRC mismatch'
      if ((options.records === true || options.checkRecords === true) && batch.crcOk) checkRecords(bytes, header, batch, options.records === true)
      report.batches.push(batch)
      options.onBatch?.(batch)
      let next = position + header.sizeBytes
      if (intact) {
        nextOffset = batch.lastOffset + 1
      } else {
        // A damaged length may still frame a batch: when a valid batch starts inside the
        // extent it claims, that is where the next batch really is.
        const found = await resync.after(position, nextOffset)
        if (found !== null && found.position < next) next = found.position
      }
      position = next
    }
    checkOffsetOrder(report.batches, fileBase, options.offsetLimit ?? Infinity)
    return report
  })
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

/** Marks the batches whose base offsets are out of order (the field lies outside the CRC). */
function checkOffsetOrder(batches: BatchReport[], fileBase: number, limit: number): void {
  // The base offset of the next intact batch after each one, found in one backward pass
  // (the loop below only changes batches before the one it looks ahead from).
  const nextBase: Array<number | null> = new Array(batches.length)
  let following: number | null = null
  for (let i = batches.length - 1; i >= 0; i--) {
    nextBase[i] = following
    if (batches[i]!.ok) following = batches[i]!.header.baseOffset
  }
  let previousLast = fileBase - 1
  for (const [i, batch] of batches.entries()) {
    if (!batch.ok) continue
    const problem = offsetOrderProblem(batch.header.baseOffset, batch.lastOffset, previousLast, limit, nextBase[i]!)
    if (problem === null) {
      previousLast = batch.lastOffset
    } else {
      batch.ok = false
      batch.problem = problem
    }
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

