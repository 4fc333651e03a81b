import path from 'node:path'
import { ioError } from '../errors.js'
import { SCAN_CHUNK_BYTES } from '../limits.js'
import { fsyncDirectory, writeFileAtomic, writeFully } from './atomic-file.js'
import { commitCleaned, installSwap, writeSegmentAside } from './cleaner.js'
import { isMissing } from './io.js'
import { encodeLogPosition, readLogPosition } from './log-files.js'
import { FileWindow, readAt } from './log-scanner.js'
import { CLEAN_SHUTDOWN_FILE, RECOVERY_CHECKPOINT_FILE, segmentPaths, tempPathOf } from './paths.js'
import { type QuarantinedRange, quarantineFileName, recordQuarantined } from './quarantine-record.js'
import { listSegments } from './recovery.js'
import { type SegmentContext, indexedBatchOf } from './segment.js'
import { type BatchReport, type LogReport, inspectLog } from './segment-inspector.js'

/**
 * `spool segments repair`: moves damaged bytes out of a partition's segments, so that a
 * partition that recovery refuses to open (recovery.ts: damage with valid data after it is
 * never taken for a torn tail) opens again with every valid batch at its own offset. It is
 * the explicit step a person takes; nothing calls it on its own.
 *
 * Plan (what a dry run prints; it changes nothing): every segment is inspected whole
 * (segment-inspector.ts: header, CRC, offsets in order, records that parse; past a broken
 * frame it picks up at the next valid batch). Each run of bytes that is not a valid batch
 * is a damaged range. Its offsets are those between the valid batches around it, up to
 * the next segment's base when it ends a sealed segment. A range that ends the last
 * segment with nothing valid after it is a tail: it is cut, as recovery cuts a torn tail,
 * but its bytes are kept too.
 *
 * Execute, per damaged segment, each step durable before the next:
 *   1. the state files stop vouching for the old layout of the segment: a clean-shutdown
 *      marker naming it is deleted, a recovery point inside it moves to its start;
 *   2. each range is copied to `<base>.log.quarantine-<position>` beside it (written
 *      aside, fsynced, renamed, directory fsynced);
 *   3. the ranges are added to quarantine.json (quarantine-record.ts), before any offset
 *      goes missing, so that a gap never exists without its entry;
 *   4. the segment is rewritten without them through compaction's swap (cleaner.ts: the
 *      `.cleaned` copy with rebuilt indexes is fsynced, the rename to `.log.swap` is the
 *      commit point, renames install it). A crash before the commit leaves the original,
 *      which a second run repairs the same way (its record entries are replaced, not
 *      doubled); after it, the next open completes the swap.
 * It must run alone: the caller holds the directory's writer lock, taken as an open takes it.
 */
export interface DamagedRange {
  /** Bytes [position, end) of the segment's `.log`. */
  position: number
  end: number
  firstOffset: number
  /** The offset of the first record after the range, or null for a tail of the log. */
  endOffset: number | null
  why: string
}

export interface SegmentRepair {
  log: string
  baseOffset: number
  sizeBytes: number
  ranges: DamagedRange[]
  /** The valid batches, in order: what the rewritten segment holds. */
  kept: BatchReport[]
}

export interface RepairPlan {
  dir: string
  /** The segments with damage, oldest first. */
  segments: SegmentRepair[]
}

/** One piece of a `.log` as the inspector walked it: a valid batch, or damaged bytes. */
interface Piece {
  position: number
  batch: BatchReport | null
  why: string
}

function piecesOf(report: LogReport): Piece[] {
  const pieces: Piece[] = [
    ...report.batches.map((batch) => ({ position: batch.position, batch: batch.ok ? batch : null, why: batch.problem ?? 'damaged' })),
    ...report.skipped.map((stretch) => ({ position: stretch.position, batch: null, why: stretch.why })),
    ...(report.unreadable === null ? [] : [{ position: report.unreadable.position, batch: null, why: report.unreadable.why }]),
  ]
  return pieces.sort((a, b) => a.position - b.position)
}

/** The damaged ranges of one inspected segment and the batches kept around them. */
export function planSegment(log: string, baseOffset: number, report: LogReport, nextBase: number | null): SegmentRepair {
  const pieces = piecesOf(report)
  const ranges: DamagedRange[] = []
  const kept: BatchReport[] = []
  let nextOffset = baseOffset // after the last valid batch
  for (let i = 0; i < pieces.length; i++) {
    const piece = pieces[i]!
    if (piece.batch !== null) {
      kept.push(piece.batch)
      nextOffset = piece.batch.lastOffset + 1
      continue
    }
    // Merge the run of damaged pieces that starts here; it ends at the next valid batch.
    let j = i + 1
    while (j < pieces.length && pieces[j]!.batch === null) j++
    const whys = pieces.slice(i, j).map((damaged) => `at byte ${damaged.position}: ${damaged.why}`)
    const next = pieces[j]?.batch ?? null
    ranges.push({
      position: piece.position,
      end: next?.position ?? report.sizeBytes,
      firstOffset: nextOffset,
      endOffset: next?.header.baseOffset ?? nextBase,
      why: whys.join('; '),
    })
    i = j - 1
  }
  return { log, baseOffset, sizeBytes: report.sizeBytes, ranges, kept }
}

/**
 * Inspects every segment of the partition in `ctx.dir` (a read-only context changes
 * nothing; a writable one first finishes an interrupted compaction or repair, as an open
 * does) and returns the segments with damage.
 */
export async function planRepair(ctx: SegmentContext): Promise<RepairPlan> {
  const segments = await listSegments(ctx)
  const plan: RepairPlan = { dir: ctx.dir, segments: [] }
  for (const [i, segment] of segments.entries()) {
    const nextBase = segments[i + 1]?.baseOffset ?? null
    const report = await inspectLog(ctx.io, segment.paths.log, {
      maxBatchBytes: ctx.maxBatchBytes,
      checkRecords: true,
      ...(nextBase === null ? {} : { offsetLimit: nextBase }),
    })
    const repair = planSegment(segment.paths.log, segment.baseOffset, report, nextBase)
    if (repair.ranges.length > 0) plan.segments.push(repair)
  }
  return plan
}

/** Carries out a plan made under the same lock (see the steps above); returns what it recorded. */
export async function executeRepair(ctx: SegmentContext, plan: RepairPlan, now: number): Promise<QuarantinedRange[]> {
  const recorded: QuarantinedRange[] = []
  for (const segment of plan.segments) {
    await stopVouching(ctx, segment.baseOffset)
    let fd: number
    try {
      fd = await ctx.io.open(segment.log, 'r')
    } catch (error) {
      throw ioError('opening segment', segment.log, error)
    }
    try {
      const moved: QuarantinedRange[] = []
      for (const range of segment.ranges) moved.push(await moveAside(ctx, fd, segment, range, now))
      await recordQuarantined(ctx.io, ctx.dir, moved)
      await rewriteWithout(ctx, fd, segment)
      recorded.push(...moved)
    } finally {
      await ctx.io.close(fd).catch(() => undefined)
    }
  }
  return recorded
}

/** Step 1: nothing on disk may go on describing positions in the segment as it was. */
async function stopVouching(ctx: SegmentContext, baseOffset: number): Promise<void> {
  const { io, dir } = ctx
  const markerFile = path.join(dir, CLEAN_SHUTDOWN_FILE)
  const marker = await readLogPosition(io, markerFile)
  if (marker !== null && marker.segmentBase === baseOffset) {
    await io.unlink(markerFile).catch((error: unknown) => {
      if (!isMissing(error)) throw ioError('deleting', markerFile, error)
    })
    await fsyncDirectory(io, dir)
  }
  const pointFile = path.join(dir, RECOVERY_CHECKPOINT_FILE)
  const point = await readLogPosition(io, pointFile)
  if (point !== null && point.segmentBase === baseOffset && point.position > 0) {
    await writeFileAtomic(io, pointFile, encodeLogPosition({ ...point, position: 0, nextOffset: baseOffset, maxTimestamp: -1 }))
  }
}

/** Step 2: the range's bytes, byte for byte, in a file of their own beside the segment. */
async function moveAside(ctx: SegmentContext, fd: number, segment: SegmentRepair, range: DamagedRange, now: number): Promise<QuarantinedRange> {
  const length = range.end - range.position
  const name = await freeName(ctx, fd, segment, range)
  await copyDurably(ctx, fd, range.position, length, path.join(ctx.dir, name))
  return {
    segment: path.basename(segment.log),
    position: range.position,
    bytes: length,
    file: name,
    firstOffset: range.firstOffset,
    endOffset: range.endOffset,
    why: range.why,
    quarantinedAt: now,
  }
}

/** The quarantine file's name: the usual one, unless an earlier repair left other bytes under it. */
async function freeName(ctx: SegmentContext, fd: number, segment: SegmentRepair, range: DamagedRange): Promise<string> {
  const length = range.end - range.position
  for (let attempt = 1; ; attempt++) {
    const name = quarantineFileName(path.basename(segment.log), range.position, attempt)
    let existing: Buffer | null
    try {
      existing = await ctx.io.readFileIfExists(path.join(ctx.dir, name))
    } catch (error) {
      throw ioError('reading', path.join(ctx.dir, name), error)
    }
    // Absent, or the same bytes (this repair run again after a crash): the name is ours.
    if (existing === null) return name
    if (existing.length === length && existing.equals(await readAt(ctx.io, fd, range.position, length))) return name
  }
}

async function copyDurably(ctx: SegmentContext, from: number, position: number, length: number, file: string): Promise<void> {
  const { io } = ctx
  const temp = tempPathOf(file)
  let fd: number
  try {
    fd = await io.open(temp, 'w')
  } catch (error) {
    throw ioError('creating', temp, error)
  }
  try {
    for (let done = 0; done < length; ) {
      const chunk = await readAt(io, from, position + done, Math.min(SCAN_CHUNK_BYTES, length - done))
      if (chunk.length === 0) throw Object.assign(new Error('the segment ended before the damaged range'), { code: 'EIO' })
      await writeFully(io, fd, [chunk], done)
      done += chunk.length
    }
    await io.fsync(fd)
  } catch (error) {
    await io.close(fd).catch(() => undefined)
    await io.unlink(temp).catch(() => undefined)
    throw ioError('writing', temp, error)
  }
  await io.close(fd).catch(() => undefined)
  try {
    await io.rename(temp, file)
  } catch (error) {
    throw ioError('renaming into place', file, error)
  }
  await fsyncDirectory(io, ctx.dir)
}

/** Step 4: the segment without its damaged ranges, swapped in as compaction swaps a cleaned copy. */
async function rewriteWithout(ctx: SegmentContext, fd: number, segment: SegmentRepair): Promise<void> {
  const window = new FileWindow(ctx.io, fd, segment.sizeBytes)
  const noPhase = async (): Promise<void> => undefined
  const copy = await writeSegmentAside(
    ctx,
    segment.baseOffset,
    async (place) => {
      for (const batch of segment.kept) {
        const { buf, at } = await window.at(batch.position, batch.header.sizeBytes)
        await place(buf.subarray(at, at + batch.header.sizeBytes), indexedBatchOf(batch.header))
      }
    },
    noPhase,
  )
  await copy.close()
  const paths = segmentPaths(ctx.dir, segment.baseOffset)
  await commitCleaned(ctx, paths, noPhase)
  await installSwap(ctx, paths)
}
