import { ioError } from '../errors.js'
import { readBatchHeader } from '../record/batch-decoder.js'
import { BATCH_HEADER_BYTES } from '../record/batch-format.js'
import { fsyncDirectory } from './atomic-file.js'
import type { LogPosition } from './log-files.js'
import { readLogPosition } from './log-files.js'
import { scanBatches } from './log-scanner.js'
import { installSwap } from './cleaner.js'
import {
  CLEAN_SHUTDOWN_FILE,
  RECOVERY_CHECKPOINT_FILE,
  TEMP_SUFFIX,
  parseCompactionFileName,
  parseSegmentFileName,
  segmentPaths,
} from './paths.js'
import { Segment, type SegmentContext, indexedBatchOf } from './segment.js'
import path from 'node:path'

/**
 * Opening a partition directory, and the recovery policy, in one place:
 *
 * - Segments are found by their `.log` files. Index files without a log, and files left
 *   aside by an interrupted atomic write (`*.tmp`), are removed.
 * - A compaction interrupted by a crash (the steps are in cleaner.ts) is finished or
 *   undone, segment by segment, before anything else: `<base>.log.swap` is its commit
 *   point. If it exists, the `.index.swap`, `.timeindex.swap` and then `.log.swap` of that
 *   segment are renamed over the originals (an index `.swap` already gone was renamed
 *   before the crash). Otherwise the clean never committed and the original segment is
 *   whole: its `.swap` index files are deleted. Every `*.cleaned` file is deleted. A
 *   retention that deleted some files of a segment leaves index files without a `.log`,
 *   removed as above.
 * - After a clean shutdown (clean-shutdown.json matches the last segment), nothing is
 *   scanned: the last segment's indexes are read from disk, sealed ones lazily.
 * - Otherwise recovery starts at the recovery point (recovery-point.json), or at the
 *   first segment if there is none usable. From there every batch is checked (a whole
 *   header, our magic, a length inside the file, offsets not going back, the CRC). At
 *   the first batch that fails, the log is truncated there and later segments are
 *   deleted: under flush 'always' nothing acknowledged lies past that point, because an
 *   append is acknowledged only after the fsync that covers it. The indexes of what was
 *   scanned are rebuilt. Sealed segments before the recovery point are not read.
 * - Read-only opens (inspection) change nothing: they stop serving at the same point, and
 *   serve a segment whose clean was interrupted from its original files (the same
 *   records at the same offsets, and the ones the clean would drop).
 */
export interface OpenedLog {
  segments: Segment[]
  /** Where the log ends: the active segment's position and the next offset. */
  end: LogPosition
  /** Whether the directory needed recovery (it was not shut down cleanly). */
  recovered: boolean
}

function emptyPosition(baseOffset: number): LogPosition {
  return { segmentBase: baseOffset, position: 0, nextOffset: baseOffset, maxTimestamp: -1, rollStartMs: -1 }
}

export async function listSegments(ctx: SegmentContext): Promise<Segment[]> {
  const { io, dir, logger, readOnly } = ctx
  let names: string[]
  try {
    names = await io.readdir(dir)
  } catch (error) {
    throw ioError('listing', dir, error)
  }
  const logs = new Set<number>()
  const others: Array<{ name: string; baseOffset: number }> = []
  const compaction: string[] = []
  for (const name of names) {
    const parsed = parseSegmentFileName(name)
    if (parsed?.kind === 'log') logs.add(parsed.baseOffset)
    else if (parsed !== null) others.push({ name, baseOffset: parsed.baseOffset })
    else if (parseCompactionFileName(name) !== null) compaction.push(name)
    else if (name.endsWith(TEMP_SUFFIX) && !readOnly) {
      logger.warn(`removing ${path.join(dir, name)}, left by an interrupted write`)
      await io.unlink(path.join(dir, name)).catch(() => undefined)
    }
  }
  if (compaction.length > 0 && !readOnly) {
    await finishCompaction(ctx, compaction)
    for (const name of compaction) {
      const parsed = parseCompactionFileName(name)!
      if (parsed.kind === 'log' && parsed.stage === 'swap') logs.add(parsed.baseOffset)
    }
  }
  for (const orphan of others) {
    if (logs.has(orphan.baseOffset) || readOnly) continue
    logger.warn(`removing ${path.join(dir, orphan.name)}: it has no .log`)
    await io.unlink(path.join(dir, orphan.name)).catch(() => undefined)
  }
  return [...logs].sort((a, b) => a - b).map((base) => new Segment(ctx, base))
}

/** Completes the committed cleans and deletes what is left of the others (see the policy above). */
async function finishCompaction(ctx: SegmentContext, names: string[]): Promise<void> {
  const { io, dir, logger } = ctx
  const committed = new Set<number>()
  for (const name of names) {
    const parsed = parseCompactionFileName(name)!
    if (parsed.kind === 'log' && parsed.stage === 'swap') committed.add(parsed.baseOffset)
  }
  for (const base of committed) {
    const paths = segmentPaths(dir, base)
    logger.warn(`completing the interrupted compaction of ${paths.log}`)
    await installSwap(ctx, paths)
  }
  for (const name of names) {
    const parsed = parseCompactionFileName(name)!
    if (parsed.stage === 'swap' && committed.has(parsed.baseOffset)) continue
    logger.warn(`removing ${path.join(dir, name)}, left by an interrupted compaction`)
    await io.unlink(path.join(dir, name)).catch(() => undefined)
  }
  await fsyncDirectory(io, dir)
}

async function openActiveFd(ctx: SegmentContext, segment: Segment): Promise<void> {
  try {
    segment.fd = await ctx.io.open(segment.paths.log, ctx.readOnly ? 'r' : 'r+')
    segment.sizeBytes = await ctx.io.fstatSize(segment.fd)
  } catch (error) {
    throw ioError('opening segment', segment.paths.log, error)
  }
}

/**
 * When the segmentMs clock of a reopened segment started: as recorded, or else (an older
 * file, or a segment created after the last recovery point) the first batch's timestamp,
 * as Kafka does.
 */
async function rollStartOf(segment: Segment, recorded: LogPosition | null): Promise<number> {
  if (recorded !== null && recorded.segmentBase === segment.baseOffset && recorded.rollStartMs >= 0) return recorded.rollStartMs
  if (segment.sizeBytes < BATCH_HEADER_BYTES) return -1
  const header = readBatchHeader(await segment.read(0, BATCH_HEADER_BYTES), 0)
  return header.maxTimestamp
}

async function openClean(ctx: SegmentContext, segments: Segment[], marker: LogPosition): Promise<OpenedLog | null> {
  const active = segments[segments.length - 1]!
  if (active.baseOffset !== marker.segmentBase) return null
  await openActiveFd(ctx, active)
  if (active.sizeBytes !== marker.position) return null
  const problem = await active.loadIndexFiles()
  if (problem !== null) return null
  active.trimIndexesTo(marker.position, marker.nextOffset, marker.maxTimestamp)
  active.visibleBytes = active.sizeBytes
  active.rollStartMs = await rollStartOf(active, marker)
  active.markLoaded()
  return { segments, end: marker, recovered: false }
}

async function recover(ctx: SegmentContext, segments: Segment[], point: LogPosition | null): Promise<OpenedLog> {
  const { logger } = ctx
  let startIndex = 0
  let start = emptyPosition(segments[0]!.baseOffset)
  if (point !== null) {
    const i = segments.findIndex((s) => s.baseOffset === point.segmentBase)
    if (i >= 0) {
      startIndex = i
      start = point
    } else {
      logger.warn(`the recovery point names segment ${point.segmentBase}, which is gone; scanning the whole log`)
    }
  }

  let expectedOffset = start.nextOffset
  for (let i = startIndex; i < segments.length; i++) {
    const segment = segments[i]!
    await openActiveFd(ctx, segment)
    let from = i === startIndex ? start.position : 0
    if (from > 0 && (from > segment.sizeBytes || (await segment.loadIndexFiles()) !== null)) {
      // The recovery point cannot be trusted with this file: scan the segment whole.
      from = 0
      expectedOffset = segment.baseOffset
    }
    if (from > 0) segment.trimIndexesTo(from, expectedOffset, start.maxTimestamp)
    else segment.resetIndexes()
    const scan = await scanBatches(ctx.io, segment.fd, {
      fromPosition: from,
      sizeBytes: segment.sizeBytes,
      minBaseOffset: Math.max(expectedOffset, segment.baseOffset),
      maxBatchBytes: ctx.maxBatchBytes,
      checkCrc: true,
      onBatch: (position, header) => segment.indexBatch(position, indexedBatchOf(header)),
    })
    segment.rollStartMs = await rollStartOf(segment, point)
    expectedOffset = Math.max(scan.nextOffset, segment.nextOffset)
    segment.nextOffset = expectedOffset
    segment.markLoaded()
    if (scan.problem !== null) {
      logger.warn(`${segment.paths.log}: ${scan.problem}; the log ends at byte ${scan.validEndPosition} (offset ${expectedOffset})`)
      await cutAt(ctx, segment, scan.validEndPosition)
      // A segment left empty stays, named by its base offset: appends resume there rather
      // than reuse offsets below it, which an earlier writer may have handed out.
      await dropSegments(ctx, segments.splice(i + 1))
      break
    }
    segment.visibleBytes = segment.sizeBytes
    if (i < segments.length - 1) {
      segment.seal()
      if (!ctx.readOnly) await segment.rewriteIndexFiles()
    }
  }
  const active = segments[segments.length - 1]!
  if (!active.loaded) throw new Error('recovery left the active segment unopened')
  return {
    segments,
    end: {
      segmentBase: active.baseOffset,
      position: active.sizeBytes,
      nextOffset: active.nextOffset,
      maxTimestamp: active.maxTimestamp,
      rollStartMs: active.rollStartMs,
    },
    recovered: true,
  }
}

async function cutAt(ctx: SegmentContext, segment: Segment, position: number): Promise<void> {
  if (!ctx.readOnly) {
    try {
      await ctx.io.ftruncate(segment.fd, position)
      await ctx.io.fdatasync(segment.fd)
    } catch (error) {
      throw ioError('truncating the torn tail of', segment.paths.log, error)
    }
  }
  segment.sizeBytes = position
  segment.visibleBytes = position
}

async function dropSegments(ctx: SegmentContext, dropped: Segment[]): Promise<void> {
  for (const segment of dropped) {
    await segment.close().catch(() => undefined)
    if (ctx.readOnly) continue
    ctx.logger.warn(`deleting ${segment.paths.log}: it follows the end of the valid log`)
    for (const file of [segment.paths.log, segment.paths.index, segment.paths.timeIndex]) {
      await ctx.io.unlink(file).catch(() => undefined)
    }
  }
  if (dropped.length > 0 && !ctx.readOnly) await fsyncDirectory(ctx.io, ctx.dir)
}

/** Finds the segments and brings the directory to a consistent end (see the policy above). */
export async function openLogDirectory(ctx: SegmentContext, emptyBaseOffset: number): Promise<OpenedLog> {
  const segments = await listSegments(ctx)
  if (segments.length === 0) {
    const end = emptyPosition(emptyBaseOffset)
    if (ctx.readOnly) return { segments, end, recovered: false }
    return { segments: [await Segment.create(ctx, emptyBaseOffset)], end, recovered: false }
  }
  const marker = await readLogPosition(ctx.io, path.join(ctx.dir, CLEAN_SHUTDOWN_FILE))
  if (marker !== null) {
    const opened = await openClean(ctx, segments, marker)
    if (opened !== null) return opened
    ctx.logger.warn(`${ctx.dir}: the clean-shutdown marker does not match the files; recovering`)
    const active = segments[segments.length - 1]!
    await active.close()
    active.resetIndexes()
  }
  const point = await readLogPosition(ctx.io, path.join(ctx.dir, RECOVERY_CHECKPOINT_FILE))
  return recover(ctx, segments, point)
}
