import { ioError, isSpoolError } from '../errors.js'
import { SCAN_CHUNK_BYTES } from '../limits.js'
import { MalformedBatchError, batchCodec, decodeRecords, inCurrentFormat, lastOffsetOf } from '../record/batch-decoder.js'
import { type EncodedBatch, compressBatch, encodeBatchAt, stampLogAppendTime } from '../record/batch-encoder.js'
import { ATTRIBUTES_LOG_APPEND_TIME } from '../record/batch-format.js'
import type { StoredRecord } from '../record/types.js'
import { fsyncDirectory, writeFileDurable, writeFully } from './atomic-file.js'
import { isMissing } from './io.js'
import { CLEANED_SUFFIX, SWAP_SUFFIX, type SegmentPaths } from './paths.js'
import type { OffsetMap } from './cleaner-key-map.js'
import { type IndexedBatch, Segment, type SegmentContext } from './segment.js'
import { type BatchVisit, corruptBatchError, readSegmentBatches } from './segment-reader.js'

/**
 * Log compaction, segment by segment (Kafka's log cleaner, simplified). The run, pass by
 * pass, is in cleaner-run.ts; this file holds what one pass does to one segment:
 *
 * - A pass maps each key of the dirty part of the log (from the cleaner checkpoint up to
 *   the high watermark, active segment included) to its latest offset, in a map of
 *   bounded memory (cleaner-key-map.ts); when the map fills, the pass ends where it stopped.
 * - Each sealed segment from the start of the log up to there is judged, and rewritten,
 *   oldest first, if it has something to drop: a record goes when a later record of its
 *   key was mapped, or when it is a tombstone of a segment whose tombstones expired
 *   (`deleteRetentionMs` after the clean that first kept them). Records without a key
 *   stay. The active segment is read for the map but never rewritten.
 * - Offsets never change: a batch keeps its base offset and last offset delta and its kept
 *   records their offsets and timestamps (re-encoded by encodeBatchAt); a batch left whole
 *   is copied byte for byte; a batch with nothing kept disappears, leaving a gap. A
 *   segment may end up empty: its files stay, so that offsets below the next segment keep
 *   a home (the partition's start offset never moves by compaction).
 * - Oldest first makes every crash point safe: a record is dropped only when a later
 *   record of its key exists, and that later record (in this segment or a later one) is
 *   only ever dropped by a later step, so a value can never reappear. A tombstone expires
 *   only in a segment cleaned before, below which its key has no older record left.
 *
 * The files of one clean, and how a crash at any point is finished or undone (the policy
 * lives in recovery.ts); a repair (quarantine.ts) rewrites a segment through the same steps:
 *   1. write `<base>.log.cleaned`, `.index.cleaned`, `.timeindex.cleaned`; fsync each;
 *   2. rename the two index files to `.swap`, fsync the directory;
 *   3. rename `.log.cleaned` to `.log.swap`, fsync the directory: the commit point;
 *   4. rename `.index.swap`, `.timeindex.swap`, then `.log.swap` over the originals, fsync.
 */
export interface CompactionOptions {
  /** The cleaner's clock, in ms since the epoch. */
  now: number
  /** How long a tombstone stays after the clean that first kept it (cleaner clock). */
  deleteRetentionMs: number
  /**
   * Clean only when the sealed bytes after the cleaner checkpoint are at least this share
   * of all sealed bytes (Kafka's min.cleanable.dirty.ratio; DEFAULT_MIN_CLEANABLE_DIRTY_RATIO).
   * 0 cleans whenever anything is dirty. Tombstones due to expire are cleaned whatever it is.
   */
  minDirtyRatio?: number
  /** Memory of the key map (COMPACTION_KEY_MAP_BYTES); a dirty part with more keys is cleaned in passes. */
  keyMapBytes?: number
  /**
   * Called after each step of a clean (a step that changes files, once it is durable);
   * crash tests kill the process there. `baseOffset` names the segment, -1 for the map
   * and the checkpoint of a pass.
   */
  onPhase?: (phase: CompactionPhase, baseOffset: number) => void | Promise<void>
}

export type CompactionPhase =
  | 'map-built'
  | 'cleaned-log-written'
  | 'cleaned-written'
  | 'indexes-to-swap'
  | 'swap-committed'
  | 'swapped-in-memory'
  | 'index-installed'
  | 'timeindex-installed'
  | 'log-installed'
  | 'checkpoint-written'

export interface CompactionStats {
  /** Passes run: 0 when nothing was dirty enough, more than 1 when the keys did not fit the map at once. */
  passes: number
  /** Sealed segments rewritten. */
  segmentsCleaned: number
  /** Records dropped, tombstones included. */
  recordsRemoved: number
  /** Of those, tombstones dropped because they were older than the delete horizon. */
  tombstonesRemoved: number
  /** `.log` bytes of the rewritten segments, before and after. */
  bytesBefore: number
  bytesAfter: number
}

export type Verdict = 'keep' | 'superseded' | 'expired'

/**
 * Each key's latest offset in the part of the log a clean mapped (its dirty part, see
 * cleaner-run.ts), held in a map of bounded memory, and what that means for a record of
 * a segment being cleaned.
 */
export class KeyMap {
  constructor(private readonly offsets: OffsetMap) {}

  /** Maps a record; false when its key is new and the map is full: mapping stops before it. */
  add(record: StoredRecord): boolean {
    return record.key === null || this.offsets.put(record.key, record.offset)
  }

  /**
   * A record goes only when a later record of its key was mapped, or when it is a
   * tombstone of a segment whose tombstones have expired (`tombstonesExpire`: the segment
   * was wholly cleaned before, each of its keys has no older record left, and a clean
   * first kept them more than deleteRetentionMs ago). Everything else is kept: records
   * without a key, keys not mapped, records past the mapped range.
   */
  verdict(record: StoredRecord, tombstonesExpire: boolean): Verdict {
    if (record.key === null) return 'keep'
    if (this.offsets.get(record.key) > record.offset) return 'superseded'
    return tombstonesExpire && record.value === null ? 'expired' : 'keep'
  }
}

function decodeAll(segment: Segment, { buf, at, position, header }: BatchVisit): StoredRecord[] {
  const records: StoredRecord[] = []
  try {
    decodeRecords(buf, at, header, header.baseOffset, records)
  } catch (error) {
    if (error instanceof MalformedBatchError) throw corruptBatchError(segment, position, header.baseOffset, error.message)
    throw error
  }
  return records
}

/**
 * Visits every CRC-checked batch of a loaded segment below `limit` bytes whose base offset
 * is below `endOffset`, in order, a chunk of about SCAN_CHUNK_BYTES at a time (so memory
 * stays bounded); `visit` may be async, and the next chunk is read after it settles,
 * unless it returns 'stop'.
 */
export async function forEachBatchChunk(
  segment: Segment,
  limit: number,
  endOffset: number,
  maxBatchBytes: number,
  visit: (batches: BatchVisit[]) => Promise<'stop' | void> | 'stop' | void,
): Promise<void> {
  let position = 0
  let nextBase = segment.baseOffset
  let done = false
  while (!done && position < limit) {
    const from = position
    const chunk: BatchVisit[] = []
    await readSegmentBatches(segment, {
      fromPosition: from,
      limit,
      maxBytes: SCAN_CHUNK_BYTES,
      maxBatchBytes,
      minBaseOffset: nextBase,
      offsetLimit: Number.MAX_SAFE_INTEGER,
      visit: (batch) => {
        if (batch.header.baseOffset >= endOffset) {
          done = true
          return 'stop'
        }
        chunk.push(batch)
        position = batch.position + batch.header.sizeBytes
        nextBase = lastOffsetOf(batch.header) + 1
        return 'take'
      },
    })
    if (chunk.length > 0 && (await visit(chunk)) === 'stop') break
    if (position === from) break
  }
}

/**
 * Adds the records of one segment from `fromOffset` on to the map, until the map is full.
 * Returns the offset of the first record it could not take, or null when it took them all.
 */
export async function mapSegment(
  map: KeyMap,
  segment: Segment,
  fromOffset: number,
  limit: number,
  endOffset: number,
  maxBatchBytes: number,
): Promise<number | null> {
  let stoppedAt: number | null = null
  await forEachBatchChunk(segment, limit, endOffset, maxBatchBytes, (batches) => {
    for (const batch of batches) {
      if (lastOffsetOf(batch.header) < fromOffset) continue // cleaned by an earlier pass
      for (const record of decodeAll(segment, batch)) {
        if (record.offset < fromOffset || map.add(record)) continue
        stoppedAt = record.offset
        return 'stop'
      }
    }
  })
  return stoppedAt
}

/** One batch of a segment being cleaned: its records, those kept, and how many expired tombstones go. */
interface JudgedBatch {
  records: StoredRecord[]
  kept: StoredRecord[]
  expired: number
  keptTombstones: number
}

function judge(segment: Segment, batch: BatchVisit, verdict: (record: StoredRecord) => Verdict): JudgedBatch {
  const judged: JudgedBatch = { records: decodeAll(segment, batch), kept: [], expired: 0, keptTombstones: 0 }
  for (const record of judged.records) {
    const said = verdict(record)
    if (said === 'expired') judged.expired++
    if (said !== 'keep') continue
    judged.kept.push(record)
    if (record.value === null) judged.keptTombstones++
  }
  return judged
}

export interface SegmentVerdicts {
  /** Records a clean of the segment would drop. */
  drops: number
  /** Tombstones it would keep. */
  keptTombstones: number
}

/** What a clean of a loaded, sealed segment would drop and keep, without writing anything. */
export async function judgeSegment(segment: Segment, verdict: (record: StoredRecord) => Verdict, maxBatchBytes: number): Promise<SegmentVerdicts> {
  const found: SegmentVerdicts = { drops: 0, keptTombstones: 0 }
  await forEachBatchChunk(segment, segment.sizeBytes, Number.MAX_SAFE_INTEGER, maxBatchBytes, (batches) => {
    for (const batch of batches) {
      const { records, kept, keptTombstones } = judge(segment, batch, verdict)
      found.drops += records.length - kept.length
      found.keptTombstones += keptTombstones
    }
  })
  return found
}

export function cleanedPaths(paths: SegmentPaths): SegmentPaths {
  return { log: paths.log + CLEANED_SUFFIX, index: paths.index + CLEANED_SUFFIX, timeIndex: paths.timeIndex + CLEANED_SUFFIX }
}

export function swapPaths(paths: SegmentPaths): SegmentPaths {
  return { log: paths.log + SWAP_SUFFIX, index: paths.index + SWAP_SUFFIX, timeIndex: paths.timeIndex + SWAP_SUFFIX }
}

export interface CleanedSegment {
  /** The new segment, sealed and loaded, reading through its own fd (of the `.cleaned` file, then the `.log`). */
  segment: Segment
  recordsRemoved: number
  tombstonesRemoved: number
}

/** Hands one whole batch to the copy being written, with what the index needs to know of it. */
export type PlaceBatch = (bytes: Buffer, batch: IndexedBatch) => Promise<void>

/**
 * Step 1 of any rewrite of a segment (a clean here, a repair in quarantine.ts): writes
 * `<base>.log.cleaned` from the batches `fill` places, in order, indexed by the same rule
 * as appends, fsyncs it, then writes and fsyncs `.index.cleaned` and `.timeindex.cleaned`.
 * The copy is sealed. On failure nothing is left behind. Steps 2–4 (commitCleaned,
 * installSwap) are the same for every rewrite.
 */
export async function writeSegmentAside(
  ctx: SegmentContext,
  baseOffset: number,
  fill: (place: PlaceBatch) => Promise<void>,
  onPhase: (phase: CompactionPhase) => Promise<void>,
): Promise<Segment> {
  const segment = new Segment(ctx, baseOffset)
  const aside = cleanedPaths(segment.paths)
  await segment.openFile('w+', aside.log)
  try {
    let pending: Buffer[] = []
    let pendingBytes = 0
    let written = 0
    const flush = async (): Promise<void> => {
      if (pendingBytes === 0) return
      try {
        await writeFully(ctx.io, segment.fd, pending, written)
      } catch (error) {
        throw ioError('writing', aside.log, error)
      }
      written += pendingBytes
      pending = []
      pendingBytes = 0
    }
    await fill(async (bytes, batch) => {
      segment.indexBatch(written + pendingBytes, batch)
      pending.push(bytes)
      pendingBytes += bytes.length
      if (pendingBytes >= SCAN_CHUNK_BYTES) await flush()
    })
    await flush()
    try {
      await ctx.io.fdatasync(segment.fd)
    } catch (error) {
      throw ioError('fsync of', aside.log, error)
    }
    await onPhase('cleaned-log-written')
    segment.grewTo(written)
    segment.showUpTo(written)
    segment.seal()
    segment.markLoaded()
    await writeFileDurable(ctx.io, aside.index, segment.offsetIndex.encode(0, segment.offsetIndex.entries.length))
    await writeFileDurable(ctx.io, aside.timeIndex, segment.timeIndex.encode(0, segment.timeIndex.entries.length))
    await onPhase('cleaned-written')
    return segment
  } catch (error) {
    await segment.close().catch(() => undefined)
    await removeFiles(ctx, [aside.log, aside.index, aside.timeIndex])
    throw error
  }
}

/** Step 1 of a clean: the cleaned copy of the loaded, sealed segment `old`, beside it. */
export async function writeCleanedSegment(
  ctx: SegmentContext,
  old: Segment,
  verdict: (record: StoredRecord) => Verdict,
  onPhase: (phase: CompactionPhase) => Promise<void>,
): Promise<CleanedSegment> {
  let recordsRemoved = 0
  let tombstonesRemoved = 0
  const fill = (place: PlaceBatch): Promise<void> =>
    forEachBatchChunk(old, old.sizeBytes, Number.MAX_SAFE_INTEGER, ctx.maxBatchBytes, async (batches) => {
      for (const batch of batches) {
        const judged = judge(old, batch, verdict)
        const { records, kept } = judged
        let { expired } = judged
        const { buf, at, header } = batch
        const lastOffset = lastOffsetOf(header)
        let reencoded: EncodedBatch | null = null
        if (kept.length > 0 && kept.length < records.length) {
          try {
            // The batch keeps its producer (so idempotence still recognises it), its codec and its timestamp type, as Kafka's cleaner does.
            const plain = encodeBatchAt(header.baseOffset, lastOffset, kept, ctx.maxBatchBytes, header)
            if ((header.attributes & ATTRIBUTES_LOG_APPEND_TIME) !== 0) stampLogAppendTime(plain.bytes, header.maxTimestamp)
            reencoded = compressBatch(plain, batchCodec(header))
          } catch (error) {
            // Re-encoding can in theory grow a batch (a new base timestamp, longer deltas):
            // keeping it whole is always correct, it only keeps more.
            if (!isSpoolError(error, 'RECORD_TOO_LARGE')) throw error
            kept.length = 0
            kept.push(...records)
            expired = 0
          }
        }
        recordsRemoved += records.length - kept.length
        tombstonesRemoved += expired
        if (kept.length === 0) continue // the batch disappears: a gap
        // A cleaned segment is a new file, so it is written in the current format: a v1 batch kept whole gets its CRC-32C.
        const bytes = reencoded === null ? inCurrentFormat(buf.subarray(at, at + header.sizeBytes)) : reencoded.bytes
        const maxTimestamp = reencoded === null ? header.maxTimestamp : reencoded.maxTimestamp
        await place(bytes, { baseOffset: header.baseOffset, lastOffset, maxTimestamp, sizeBytes: bytes.length })
      }
    })
  const segment = await writeSegmentAside(ctx, old.baseOffset, fill, onPhase)
  return { segment, recordsRemoved, tombstonesRemoved }
}

async function removeFiles(ctx: SegmentContext, files: string[]): Promise<void> {
  for (const file of files) await ctx.io.unlink(file).catch(() => undefined)
}

async function rename(ctx: SegmentContext, from: string, to: string): Promise<void> {
  try {
    await ctx.io.rename(from, to)
  } catch (error) {
    throw ioError(`renaming ${from} to`, to, error)
  }
}

/** Steps 2 and 3: after this the clean survives a crash (recovery completes it). */
export async function commitCleaned(
  ctx: SegmentContext,
  paths: SegmentPaths,
  onPhase: (phase: CompactionPhase) => Promise<void>,
): Promise<void> {
  const aside = cleanedPaths(paths)
  const swap = swapPaths(paths)
  try {
    await rename(ctx, aside.index, swap.index)
    await rename(ctx, aside.timeIndex, swap.timeIndex)
    await fsyncDirectory(ctx.io, ctx.dir)
    await onPhase('indexes-to-swap')
    await rename(ctx, aside.log, swap.log)
  } catch (error) {
    // Not committed: the original is whole; drop the copy.
    await removeFiles(ctx, [aside.log, aside.index, aside.timeIndex, swap.index, swap.timeIndex])
    throw error
  }
  await fsyncDirectory(ctx.io, ctx.dir)
  await onPhase('swap-committed')
}

/**
 * Step 4, and recovery's completion of a committed clean: the `.swap` files replace the
 * originals, `.log.swap` last (it marks the clean as committed until then). An index
 * whose `.swap` is gone was already renamed into place.
 */
export async function installSwap(
  ctx: SegmentContext,
  paths: SegmentPaths,
  onPhase: (phase: CompactionPhase) => Promise<void> = async () => undefined,
): Promise<void> {
  const swap = swapPaths(paths)
  for (const [from, to, phase] of [
    [swap.index, paths.index, 'index-installed'],
    [swap.timeIndex, paths.timeIndex, 'timeindex-installed'],
  ] as const) {
    try {
      await ctx.io.rename(from, to)
    } catch (error) {
      if (!isMissing(error)) throw ioError(`renaming ${from} to`, to, error)
    }
    await onPhase(phase)
  }
  await rename(ctx, swap.log, paths.log)
  await fsyncDirectory(ctx.io, ctx.dir)
  await onPhase('log-installed')
}
