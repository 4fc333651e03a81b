import { NO_TIMESTAMP } from '../record/batch-format.js'
import { invalidArgument, ioError } from '../errors.js'
import { fsyncDirectory } from './atomic-file.js'
import { isMissing } from './io.js'
import type { Segment, SegmentContext } from './segment.js'

/**
 * Retention deletes whole sealed segments from the start of a partition (Kafka's
 * `retention.ms` and `retention.bytes`), never the active one:
 * - by time, a segment whose largest record timestamp is older than `now - retentionMs`;
 * - by size, a segment while the partition's bytes without it are still at least
 *   `retentionBytes`.
 * Deletion stops at the first segment that neither rule expires, so what goes is always a
 * prefix and the start offset (the first segment's base offset) only moves forward.
 * Sizes come from a stat. By time, the last entry of a sealed segment's `.timeindex` may
 * spare a segment cheaply, but never condemns one by itself: an index is rebuildable
 * metadata (a damaged one once had retention delete a minute-old segment), so a segment
 * the index calls expired has its batch headers read, and the log decides (expiredByTime).
 * That read costs one pass over a segment about to be deleted, once in its life.
 */
export interface RetentionOptions {
  /** Delete segments whose records are all older than this many ms before `now`. */
  retentionMs?: number
  /** Delete the oldest segments while the partition keeps at least this many bytes. */
  retentionBytes?: number
  /** ms since the epoch; the log's clock when absent. */
  now?: number
}

export interface RetentionResult {
  deletedSegments: number
  deletedBytes: number
  /** The partition's first offset after the deletion. */
  startOffset: number
}

export interface RetentionPolicy {
  retentionMs: number | null
  retentionBytes: number | null
  now: number
}

function limit(field: string, value: unknown): number | null {
  if (value === undefined) return null
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw invalidArgument(field, 'must be a non-negative integer, or absent for no limit')
  }
  return value
}

export function checkRetentionOptions(options: RetentionOptions, clock: () => number): RetentionPolicy {
  if (typeof options !== 'object' || options === null) throw invalidArgument('options', 'must be an object')
  const now = options.now ?? clock()
  if (typeof now !== 'number' || !Number.isSafeInteger(now)) throw invalidArgument('now', 'must be an integer of milliseconds')
  return { retentionMs: limit('retentionMs', options.retentionMs), retentionBytes: limit('retentionBytes', options.retentionBytes), now }
}

/** The segments retention deletes, and their `.log` bytes. */
export interface Expired {
  segments: Segment[]
  bytes: number
}

/**
 * The segments to delete: the longest prefix of `sealed` that the policy expires.
 * `totalBytes` (all segments, the active one included) is asked for only when a byte
 * limit is set; each candidate is stat'ed once.
 */
export async function expiredSegments(sealed: readonly Segment[], totalBytes: () => Promise<number>, policy: RetentionPolicy): Promise<Expired> {
  const expired: Expired = { segments: [], bytes: 0 }
  if (policy.retentionMs === null && policy.retentionBytes === null) return expired
  let remaining = policy.retentionBytes === null ? 0 : await totalBytes()
  for (const segment of sealed) {
    const size = await segment.logSizeBytes()
    const bySize = policy.retentionBytes !== null && remaining - size >= policy.retentionBytes
    const byTime = !bySize && policy.retentionMs !== null && (await expiredByTime(segment, policy.now - policy.retentionMs))
    if (!bySize && !byTime) break
    expired.segments.push(segment)
    expired.bytes += size
    remaining -= size
  }
  return expired
}

/** Whether every record of `segment` is stamped before `cutoff`, as its log says (see the top of this file). */
async function expiredByTime(segment: Segment, cutoff: number): Promise<boolean> {
  if ((await segment.largestTimestamp()) >= cutoff) return false
  const fromLog = await segment.largestTimestampFromLog()
  // A segment whose records all have no timestamp (-1) has no age: time never expires it
  // (retentionBytes still does). Kafka falls back to the file's mtime, which a copy or a
  // restore resets; keeping is the side that loses nothing.
  return fromLog !== null && fromLog !== NO_TIMESTAMP && fromLog < cutoff
}

/**
 * Deletes segments already taken out of the partition's list, oldest first. Each waits for
 * the reads still holding it, then loses its `.log` and then its index files: a crash
 * in between leaves index files without a `.log`, which the next open removes, or whole
 * segments at the start, which the next retention deletes again.
 */
export async function deleteSegments(ctx: SegmentContext, segments: readonly Segment[]): Promise<void> {
  for (const segment of segments) {
    await segment.retire()
    try {
      await ctx.io.unlink(segment.paths.log)
    } catch (error) {
      if (!isMissing(error)) throw ioError('deleting', segment.paths.log, error)
    }
    for (const file of [segment.paths.index, segment.paths.timeIndex]) await ctx.io.unlink(file).catch(() => undefined)
  }
  if (segments.length > 0) await fsyncDirectory(ctx.io, ctx.dir)
}
