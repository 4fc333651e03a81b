import { SpoolError, ioError } from '../errors.js'
import { readBatchHeader } from '../record/batch-decoder.js'
import { BATCH_HEADER_BYTES } from '../record/batch-format.js'
import { fsyncDirectory } from './atomic-file.js'
import type { FlushPolicy } from './flush-policy.js'
import type { LogPosition } from './log-files.js'
import type { PublishedEnd } from './published-end.js'
import { readLogPosition } from './log-files.js'
import { type FoundBatch, type ScanResult, findValidBatch, scanBatches } from './log-scanner.js'
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
 * - A compaction or a repair interrupted by a crash (the steps are in cleaner.ts) is
 *   finished or undone, segment by segment, before anything else: `<base>.log.swap` is
 *   its commit point. If it exists, the `.index.swap`, `.timeindex.swap` and then
 *   `.log.swap` of that segment are renamed over the originals (an index `.swap` already
 *   gone was renamed before the crash). Otherwise the rewrite never committed and the
 *   original segment is whole: its `.swap` index files are deleted. Every `*.cleaned`
 *   file is deleted. A retention that deleted some files of a segment leaves index files
 *   without a `.log`, removed as above.
 * - After a clean shutdown (clean-shutdown.json matches the last segment), nothing is
 *   scanned: the last segment's indexes are read from disk, sealed ones lazily.
 * - Otherwise recovery starts at the recovery point (recovery-point.json), or at the
 *   first segment if there is none usable. From there every batch is checked (a whole
 *   header, our magic, a length inside the file, offsets in order, the CRC). Sealed
 *   segments before the recovery point are not read: what lies before it was fsynced.
 *   Nothing is changed until the whole scan is done and judged.
 * - At the first batch that fails, recovery must tell a torn tail (a write the crash cut
 *   short, never acknowledged under flush 'always': an append is acknowledged only after
 *   the fsync that covers it) from damage to data that may have been acknowledged. Only
 *   a tail that runs to the end of the log is torn. `judgeDamage` decides, in this order:
 *   (a) if any later segment holds a byte, the damage is corruption: the writer starts a
 *       segment only after the one before it is fsynced whole (under every flush policy),
 *       so no crash can tear a segment that has a successor with data;
 *   (b) inside the last segment: if a whole, CRC-valid batch whose offsets continue the
 *       log lies anywhere after the damage (right after the damaged batch when its length
 *       is intact, or found further on by trying every byte position), it is corruption —
 *       except under a flush policy other than 'always', where bytes past the last fsync
 *       were never promised and the disk may have written their pages out of order: there
 *       the tail is cut at the damage, with a warning that says what valid data it drops;
 *   (c) otherwise it is a torn tail: the log is truncated at the end of the last whole,
 *       CRC-valid batch, and later segments, all empty by (a), are deleted.
 *   Corruption is refused: the open fails with CORRUPT_BATCH naming the file, the byte
 *   position and the offset, changes nothing, and points at `spool segments repair`,
 *   which moves the damaged bytes aside explicitly (quarantine.ts). Recovery never
 *   deletes a segment that holds data, nor truncates on a guess.
 *   The search of (b) stays within the bound of the scan: it reads only the rest of the
 *   damaged segment, once (bytes past the recovery point, which a scan of an undamaged
 *   log would have read anyway), and computes a CRC only where a whole header passes
 *   every check. A caveat of (b): under 'always', pages of one unacknowledged group
 *   commit written out of order by the disk are refused too (a person runs the repair);
 *   truncating instead would risk acknowledged data, which contract 1 forbids.
 * - The indexes of what was scanned are rebuilt.
 * - Read-only opens (inspection) change nothing: they refuse the same corruption, stop
 *   serving at the same torn tail, and serve a segment whose rewrite was interrupted from
 *   its original files (the same records at the same offsets, and the ones a clean would
 *   drop).
 */
export interface OpenedLog {
  segments: Segment[]
  /** Where the log ends: the active segment's position and the next offset. */
  end: LogPosition
  /** Whether the directory needed recovery (it was not shut down cleanly). */
  recovered: boolean
  /** Whether it was opened from a clean-shutdown marker that matched the files (which are left as they are). */
  clean: boolean
}

export interface RecoveryOptions {
  /** The partition's flush policy: what a crash may have left unwritten (policy (b)). */
  flush: FlushPolicy
  /**
   * Read-only opens only: the end the writer published (published-end.ts), read before
   * the segments are listed. Bytes past it in the last segment may be a group written
   * but not yet fsynced by a live writer: they are not served (the follower, log-follower.ts,
   * serves them once published). A hint: a writer's recovery never reads it, and one that
   * names no listed segment is ignored.
   */
  publishedEnd?: PublishedEnd | null
}

/** Where a read-only open stops serving the last segment: the published position in it, or 0 when the writer has not yet published into it. */
function visibleCap(ctx: SegmentContext, segments: Segment[], published: PublishedEnd | null | undefined): { segmentBase: number; position: number } | null {
  if (!ctx.readOnly || published === null || published === undefined) return null
  const last = segments[segments.length - 1]!
  if (published.segmentBase === last.baseOffset) return { segmentBase: last.baseOffset, position: published.position }
  // The writer rolled since (a roll makes every segment before the new one durable whole),
  // and has not yet published into the last one: its bytes may not be durable yet.
  if (published.segmentBase < last.baseOffset && segments.some((s) => s.baseOffset === published.segmentBase)) return { segmentBase: last.baseOffset, position: 0 }
  return null
}

/** What a damaged stretch of log is, by the policy above. */
export type DamageVerdict = 'corrupt' | 'torn-tail' | 'unflushed-tail'

export interface DamageFacts {
  /** A segment after the damaged one has at least one byte. */
  laterSegmentHoldsData: boolean
  /** A whole, CRC-valid batch that continues the offsets lies after the damage in its segment. */
  validDataFollows: boolean
  flush: FlushPolicy
  /**
   * Facts an inspection knows and a recovery never meets: damage before the recovery
   * point, or in a directory shut down cleanly, is never scanned by an open, so it can
   * only be corruption (those bytes were fsynced).
   */
  cleanShutdown?: boolean
  beforeRecoveryPoint?: boolean
}

/** The recovery policy (a), (b), (c) of the comment above, for recovery and `segments verify` alike. */
export function judgeDamage(facts: DamageFacts): DamageVerdict {
  if (facts.cleanShutdown === true || facts.beforeRecoveryPoint === true) return 'corrupt'
  if (facts.laterSegmentHoldsData) return 'corrupt' // (a)
  if (!facts.validDataFollows) return 'torn-tail' // (c)
  return facts.flush === 'always' ? 'corrupt' : 'unflushed-tail' // (b)
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
  await active.openFile()
  if (active.sizeBytes !== marker.position) return null
  const problem = await active.loadIndexFiles()
  if (problem !== null) return null
  active.trimIndexesTo(marker.position, marker.nextOffset, marker.maxTimestamp)
  active.showUpTo(active.sizeBytes)
  active.startRollClock(await rollStartOf(active, marker))
  active.markLoaded()
  return { segments, end: marker, recovered: false, clean: true }
}

async function recover(ctx: SegmentContext, segments: Segment[], point: LogPosition | null, options: RecoveryOptions): Promise<OpenedLog> {
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

  const scanned: Segment[] = []
  const cap = visibleCap(ctx, segments, options.publishedEnd)
  try {
    let expectedOffset = start.nextOffset
    for (let i = startIndex; i < segments.length; i++) {
      const segment = segments[i]!
      await segment.openFile()
      scanned.push(segment)
      if (cap !== null && cap.segmentBase === segment.baseOffset && cap.position < segment.sizeBytes) segment.cutTo(cap.position)
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
      expectedOffset = Math.max(scan.nextOffset, segment.nextOffset)
      segment.endsBefore(expectedOffset)
      segment.markLoaded()
      if (scan.problem !== null) {
        await settleDamage(ctx, segments, i, scan, options)
        segment.startRollClock(await rollStartOf(segment, point))
        break
      }
      segment.startRollClock(await rollStartOf(segment, point))
      segment.showUpTo(segment.sizeBytes)
      if (i < segments.length - 1) segment.seal()
    }
    // Only now that the scan is judged: the rebuilt indexes of the sealed segments scanned.
    if (!ctx.readOnly) for (const segment of scanned) if (segment.sealed) await segment.rewriteIndexFiles()
  } catch (error) {
    for (const segment of scanned) await segment.close().catch(() => undefined)
    throw error
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
    clean: false,
  }
}

/**
 * The scan of `segments[index]` stopped at damage: judges it (policy above), then either
 * refuses with CORRUPT_BATCH, having changed nothing, or cuts the tail there and deletes
 * the later segments (empty, or it would have been refused).
 */
async function settleDamage(ctx: SegmentContext, segments: Segment[], index: number, scan: ScanResult, options: RecoveryOptions): Promise<void> {
  const segment = segments[index]!
  const damageAt = scan.validEndPosition
  const later = segments.slice(index + 1)
  const holdingData = await firstHoldingData(later)
  const found =
    holdingData === null
      ? await findValidBatch(ctx.io, segment.fd, {
          fromPosition: damageAt + 1,
          sizeBytes: segment.sizeBytes,
          minBaseOffset: scan.nextOffset,
          maxBatchBytes: ctx.maxBatchBytes,
        })
      : null
  const verdict = judgeDamage({ laterSegmentHoldsData: holdingData !== null, validDataFollows: found !== null, flush: options.flush })
  const end = `the log ends at byte ${damageAt} (offset ${scan.nextOffset})`
  if (verdict === 'corrupt') {
    const evidence =
      holdingData !== null
        ? `the later segment ${holdingData.paths.log} holds data, and a segment is started only once the one before it is on disk`
        : `a valid batch follows it at byte ${found!.position} (offset ${found!.header.baseOffset})`
    throw corruptionFound(ctx, segment, damageAt, scan, evidence)
  }
  if (verdict === 'unflushed-tail') {
    ctx.logger.warn(
      `${segment.paths.log}: ${scan.problem}; ${droppedValidData(found!, segment, ctx.readOnly)}, written after the last fsync under flush ` +
        `${JSON.stringify(options.flush)}, which never promised them; ${end}`,
    )
  } else {
    ctx.logger.warn(`${segment.paths.log}: ${scan.problem}; ${end}`)
  }
  await cutAt(ctx, segment, damageAt)
  // A segment left empty stays, named by its base offset: appends resume there rather
  // than reuse offsets below it, which an earlier writer may have handed out.
  await dropSegments(ctx, segments.splice(index + 1))
}

async function firstHoldingData(segments: Segment[]): Promise<Segment | null> {
  for (const segment of segments) if ((await segment.logSizeBytes()) > 0) return segment
  return null
}

function droppedValidData(found: FoundBatch, segment: Segment, readOnly: boolean): string {
  const fate = readOnly ? 'are not served' : 'are dropped'
  return `the ${segment.sizeBytes - found.position} bytes from byte ${found.position} start with a valid batch (offset ${found.header.baseOffset}) and ${fate}`
}

function corruptionFound(ctx: SegmentContext, segment: Segment, position: number, scan: ScanResult, evidence: string): SpoolError {
  const offset = scan.nextOffset
  return new SpoolError(
    'CORRUPT_BATCH',
    `corrupt batch in ${segment.paths.log} at byte ${position} (offset ${offset}): ${scan.problem}; it is not a torn tail: ${evidence}. ` +
      `Nothing was changed. Run \`spool segments repair ${ctx.dir}\` to see what would be moved aside, then add --execute ` +
      'to quarantine the damaged bytes and reopen (or restore the partition from a backup)',
    { details: { file: segment.paths.log, position, offset } },
  )
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
  segment.cutTo(position)
}

async function dropSegments(ctx: SegmentContext, dropped: Segment[]): Promise<void> {
  for (const segment of dropped) {
    await segment.close().catch(() => undefined)
    if (ctx.readOnly) continue
    ctx.logger.warn(`deleting ${segment.paths.log}: it is empty and follows the end of the valid log`)
    for (const file of [segment.paths.log, segment.paths.index, segment.paths.timeIndex]) {
      await ctx.io.unlink(file).catch(() => undefined)
    }
  }
  if (dropped.length > 0 && !ctx.readOnly) await fsyncDirectory(ctx.io, ctx.dir)
}

/** Finds the segments and brings the directory to a consistent end (see the policy above). */
export async function openLogDirectory(
  ctx: SegmentContext,
  emptyBaseOffset: number,
  options: RecoveryOptions = { flush: 'always' },
): Promise<OpenedLog> {
  const segments = await listSegments(ctx)
  if (segments.length === 0) {
    const end = emptyPosition(emptyBaseOffset)
    if (ctx.readOnly) return { segments, end, recovered: false, clean: false }
    return { segments: [await Segment.create(ctx, emptyBaseOffset)], end, recovered: false, clean: false }
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
  return recover(ctx, segments, point, options)
}
