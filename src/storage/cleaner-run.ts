import { COMPACTION_KEY_MAP_BYTES, DEFAULT_MIN_CLEANABLE_DIRTY_RATIO } from '../limits.js'
import type { StoredRecord } from '../record/types.js'
import { type CleanerCheckpoint, loadCleanerCheckpoint, saveCleanerCheckpoint, uncleaned } from './cleaner-checkpoint.js'
import { OffsetMap } from './cleaner-key-map.js'
import {
  type CompactionOptions,
  type CompactionPhase,
  type CompactionStats,
  KeyMap,
  type Verdict,
  commitCleaned,
  installSwap,
  judgeSegment,
  mapSegment,
  writeCleanedSegment,
} from './cleaner.js'
import type { Segment, SegmentContext } from './segment.js'
import type { SegmentList } from './segment-list.js'

/**
 * One compaction of a partition, as Kafka's cleaner does it: only the log after the
 * cleaner checkpoint is dirty, and it is cleaned only once it is a large enough share of
 * the sealed log (or when tombstones are due to go), so an unchanged partition costs no
 * read at all. A clean runs in passes: each maps as much of the dirty part as its key map
 * holds, cleans the sealed log up to there, and moves the checkpoint there.
 */

/** What a compaction needs of the partition. */
export interface CleanerView {
  readonly ctx: SegmentContext
  readonly segments: SegmentList
  readonly maxBatchBytes: number
  highWatermark(): number
  /** Whether the partition is closing: a compaction stops at its next segment. */
  closing(): boolean
}

/**
 * The smallest record (length, attributes, timestamp delta, offset delta, key length,
 * value length and header count, one byte each): n bytes of log hold at most n / this
 * keys, which sizes a small partition's key map below the memory limit.
 */
const MIN_RECORD_BYTES = 7

type Phase = (name: CompactionPhase, baseOffset: number) => Promise<void>

/** Compacts `cleanable`, the sealed segments at the start of the log that may be rewritten. */
export async function runCompaction(view: CleanerView, cleanable: readonly Segment[], options: CompactionOptions): Promise<CompactionStats> {
  const stats: CompactionStats = { passes: 0, segmentsCleaned: 0, recordsRemoved: 0, tombstonesRemoved: 0, bytesBefore: 0, bytesAfter: 0 }
  const last = cleanable.at(-1)
  if (last === undefined) return stats
  const { ctx, segments } = view
  const cleanableEnd = segments.after(last.baseOffset)!.baseOffset
  const checkpoint = usable(await loadCleanerCheckpoint(ctx.io, ctx.dir), segments.first.baseOffset, cleanableEnd)
  if (!(await worthCleaning(view, cleanableEnd, checkpoint, options))) return stats
  const phase: Phase = async (name, baseOffset) => {
    await options.onPhase?.(name, baseOffset)
  }
  do {
    if (!(await cleanPass(view, cleanableEnd, checkpoint, options, stats, phase))) break
  } while (checkpoint.cleanedTo < cleanableEnd)
  return stats
}

/**
 * A checkpoint past the cleanable end describes a log that is not there any more (a lost
 * tail, a directory restored from a copy): start over, which only cleans more. One below
 * the start offset (retention deleted segments) starts at the start.
 */
function usable(checkpoint: CleanerCheckpoint, startOffset: number, cleanableEnd: number): CleanerCheckpoint {
  const base = checkpoint.cleanedTo > cleanableEnd ? uncleaned() : checkpoint
  return { cleanedTo: Math.max(base.cleanedTo, startOffset), tombstones: base.tombstones }
}

function sealedBelow(segments: SegmentList, end: number): Segment[] {
  return segments.all.filter((segment) => segment.baseOffset < end)
}

/** Offsets of a sealed segment lie below this. */
function endOf(segments: SegmentList, segment: Segment): number {
  return segments.after(segment.baseOffset)!.baseOffset
}

function tombstonesExpire(checkpoint: CleanerCheckpoint, segment: Segment, options: CompactionOptions): boolean {
  return (checkpoint.tombstones.get(segment.baseOffset) ?? Infinity) < options.now - options.deleteRetentionMs
}

/** Whether the dirty share of the sealed log reaches the ratio, or some cleaned segment's tombstones are due. */
async function worthCleaning(view: CleanerView, cleanableEnd: number, checkpoint: CleanerCheckpoint, options: CompactionOptions): Promise<boolean> {
  const sealed = sealedBelow(view.segments, cleanableEnd)
  if (sealed.some((segment) => tombstonesExpire(checkpoint, segment, options))) return true
  let dirty = 0
  let total = 0
  for (const segment of sealed) {
    const bytes = await segment.logSizeBytes() // a stat: nothing is read
    total += bytes
    if (endOf(view.segments, segment) > checkpoint.cleanedTo) dirty += bytes
  }
  return dirty > 0 && dirty >= (options.minDirtyRatio ?? DEFAULT_MIN_CLEANABLE_DIRTY_RATIO) * total
}

/** One pass; false when the partition started closing before it finished (the checkpoint then stays). */
async function cleanPass(
  view: CleanerView,
  cleanableEnd: number,
  checkpoint: CleanerCheckpoint,
  options: CompactionOptions,
  stats: CompactionStats,
  phase: Phase,
): Promise<boolean> {
  const { segments } = view
  const map = new KeyMap(new OffsetMap(await mostKeysFrom(view, checkpoint.cleanedTo), options.keyMapBytes ?? COMPACTION_KEY_MAP_BYTES))
  const cleanEnd = Math.min(await mapDirty(view, map, checkpoint.cleanedTo), cleanableEnd)
  await phase('map-built', -1)
  // Oldest first (the order that keeps every crash point safe).
  for (const old of sealedBelow(segments, cleanEnd)) {
    if (view.closing()) return false
    const expire = tombstonesExpire(checkpoint, old, options)
    const verdict = (record: StoredRecord): Verdict => map.verdict(record, expire)
    const judged = await old.whileHeld(async () => {
      await old.ensureLoaded()
      return judgeSegment(old, verdict, view.maxBatchBytes)
    })
    if (judged.drops > 0) await replaceSegment(view, old, verdict, stats, phase)
    // A segment wholly cleaned starts its tombstones' clock at the first clean that kept them.
    if (endOf(segments, old) > cleanEnd) continue
    if (judged.keptTombstones > 0) checkpoint.tombstones.set(old.baseOffset, checkpoint.tombstones.get(old.baseOffset) ?? options.now)
    else checkpoint.tombstones.delete(old.baseOffset)
  }
  checkpoint.cleanedTo = cleanEnd
  const present = new Set(segments.all.map((segment) => segment.baseOffset))
  for (const base of checkpoint.tombstones.keys()) if (!present.has(base)) checkpoint.tombstones.delete(base)
  await saveCleanerCheckpoint(view.ctx.io, view.ctx.dir, checkpoint)
  await phase('checkpoint-written', -1)
  stats.passes++
  return true
}

/** An upper bound on the distinct keys from `from` to the end of the log. */
async function mostKeysFrom(view: CleanerView, from: number): Promise<number> {
  const { segments } = view
  let bytes = 0
  for (let segment: Segment | undefined = segments.holding(from); segment !== undefined; segment = segments.after(segment.baseOffset)) {
    bytes += await segment.logSizeBytes()
  }
  return Math.ceil(bytes / MIN_RECORD_BYTES)
}

/**
 * Maps each key from `from` to the high watermark (the active segment too: a record that
 * a later one replaces goes even when the later one is not yet sealed) until the map is
 * full. Returns where it stopped: offsets below it are mapped.
 */
async function mapDirty(view: CleanerView, map: KeyMap, from: number): Promise<number> {
  const { segments } = view
  const end = view.highWatermark()
  for (let segment: Segment | undefined = segments.holding(from); segment !== undefined && segment.baseOffset < end; segment = segments.after(segment.baseOffset)) {
    const held = segment
    const stoppedAt = await held.whileHeld(async () => {
      await held.ensureLoaded()
      return mapSegment(map, held, from, segments.visibleLimit(held), end, view.maxBatchBytes)
    })
    if (stoppedAt !== null) return stoppedAt
  }
  return end
}

/** Rewrites the loaded, sealed segment `old` without the records `verdict` drops (steps 1–4 of cleaner.ts). */
async function replaceSegment(
  view: CleanerView,
  old: Segment,
  verdict: (record: StoredRecord) => Verdict,
  stats: CompactionStats,
  phase: Phase,
): Promise<void> {
  const { ctx, segments } = view
  const on = (name: CompactionPhase): Promise<void> => phase(name, old.baseOffset)
  const cleaned = await old.whileHeld(async () => {
    await old.ensureLoaded()
    return writeCleanedSegment(ctx, old, verdict, on)
  })
  try {
    await commitCleaned(ctx, old.paths, on)
  } catch (error) {
    await cleaned.segment.close().catch(() => undefined)
    throw error
  }
  // The only synchronous step: new reads find the cleaned segment, which reads
  // through its own fd whatever the files are named.
  segments.replace(old, cleaned.segment)
  stats.segmentsCleaned++
  stats.recordsRemoved += cleaned.recordsRemoved
  stats.tombstonesRemoved += cleaned.tombstonesRemoved
  stats.bytesBefore += old.sizeBytes
  stats.bytesAfter += cleaned.segment.sizeBytes
  await on('swapped-in-memory')
  // Reads in flight finish on the old fd before the old files are replaced.
  await old.retire()
  await installSwap(ctx, old.paths, on)
  // Only now do the files under its name hold what it holds: it may be closed while idle.
  cleaned.segment.filesInstalled()
}
