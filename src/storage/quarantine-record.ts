import path from 'node:path'
import { parseJsonOrNull, readFileOrNull, writeFileAtomic } from './atomic-file.js'
import type { StorageIO } from './io.js'
import type { Logger } from './logger.js'

/**
 * The record of what `spool segments repair` moved out of a partition's segments
 * (quarantine.ts does the moving): `quarantine.json` in the partition directory, one JSON
 * object written atomically (aside, fsync, rename, directory fsync) before the segment
 * that loses the bytes is rewritten, so that a gap in the offsets never exists without
 * its entry. Each entry names the bytes' file beside the segment
 * (`<base>.log.quarantine-<position>`, kept byte for byte as evidence) and the offsets
 * the log no longer holds because of them.
 *
 * Readers step over a quarantined range as over a compaction gap; `QuarantineGaps` is
 * what tells them, once per range, so that a consumer skipping acknowledged records is
 * never silent. `describeTopic` and `segments verify` list the ranges.
 */
export const QUARANTINE_RECORD_FILE = 'quarantine.json'
const QUARANTINE_RECORD_VERSION = 1
const QUARANTINE_INFIX = '.quarantine-'

export interface QuarantinedRange {
  /** The `.log` (file name) the bytes were cut from. */
  segment: string
  /** Their byte position and length in that file, before the cut. */
  position: number
  bytes: number
  /** The file beside the segment that holds them. */
  file: string
  /** The first offset the log no longer holds. */
  firstOffset: number
  /**
   * The offset of the first record after them; null when nothing valid followed them (the
   * end of the log was cut back to `firstOffset`, as for a torn tail).
   */
  endOffset: number | null
  /** What was wrong with them. */
  why: string
  /** When they were moved, in ms since the epoch. */
  quarantinedAt: number
}

/** `<segment>.quarantine-<position>`, with `-<n>` added when an earlier repair took that name. */
export function quarantineFileName(segmentLog: string, position: number, attempt = 1): string {
  return `${segmentLog}${QUARANTINE_INFIX}${position}${attempt === 1 ? '' : `-${attempt}`}`
}

function isRange(value: unknown): value is QuarantinedRange {
  const r = value as Partial<QuarantinedRange> | null
  const count = (n: unknown): boolean => typeof n === 'number' && Number.isSafeInteger(n) && n >= 0
  return (
    typeof r === 'object' &&
    r !== null &&
    typeof r.segment === 'string' &&
    typeof r.file === 'string' &&
    typeof r.why === 'string' &&
    count(r.position) &&
    count(r.bytes) &&
    count(r.firstOffset) &&
    (r.endOffset === null || count(r.endOffset)) &&
    count(r.quarantinedAt)
  )
}

/**
 * The ranges recorded for the partition in `dir`, oldest first; none when there is no
 * record. A record that cannot be read is reported and treated as empty: it only ever
 * adds warnings, and the quarantine files beside the segments remain.
 */
export async function readQuarantineRecord(io: StorageIO, dir: string, logger?: Logger): Promise<QuarantinedRange[]> {
  const file = path.join(dir, QUARANTINE_RECORD_FILE)
  const contents = await readFileOrNull(io, file)
  if (contents === null) return []
  const parsed = parseJsonOrNull(contents) as { version?: unknown; ranges?: unknown } | null
  if (parsed?.version === QUARANTINE_RECORD_VERSION && Array.isArray(parsed.ranges) && parsed.ranges.every(isRange)) return parsed.ranges
  logger?.warn(`${file} cannot be read; the quarantine files beside the segments say what was moved aside`)
  return []
}

/** Adds `added` to the record, replacing an entry for the same segment and first offset (a repair run again after a crash). */
export async function recordQuarantined(io: StorageIO, dir: string, added: readonly QuarantinedRange[]): Promise<QuarantinedRange[]> {
  const same = (a: QuarantinedRange, b: QuarantinedRange): boolean => a.segment === b.segment && a.firstOffset === b.firstOffset
  const kept = (await readQuarantineRecord(io, dir)).filter((old) => !added.some((range) => same(old, range)))
  const ranges = [...kept, ...added]
  await writeFileAtomic(io, path.join(dir, QUARANTINE_RECORD_FILE), Buffer.from(JSON.stringify({ version: QUARANTINE_RECORD_VERSION, ranges }, null, 2)))
  return ranges
}

/** A range as a person reads it: `offsets 12..15 (00000000000000000000.log byte 840, 70 bytes, now in <file>)`. */
export function describeRange(range: QuarantinedRange): string {
  const offsets = range.endOffset === null ? `offsets from ${range.firstOffset} (the end of the log was cut back there)` : `offsets ${range.firstOffset}..${range.endOffset - 1}`
  return `${offsets}: ${range.bytes} bytes at byte ${range.position} of ${range.segment}, moved to ${range.file} (${range.why})`
}

/**
 * Tells readers of a partition about its quarantined ranges: a read whose offsets
 * [fromOffset, nextOffset) meet one logs a warning naming it, once per range for as long
 * as the partition is open. Free on a partition with no record (one length check).
 */
export class QuarantineGaps {
  private readonly warned = new Set<QuarantinedRange>()

  constructor(
    readonly ranges: readonly QuarantinedRange[],
    private readonly dir: string,
    private readonly logger: Logger,
  ) {}

  static async load(io: StorageIO, dir: string, logger: Logger): Promise<QuarantineGaps> {
    return new QuarantineGaps(await readQuarantineRecord(io, dir, logger), dir, logger)
  }

  /** Called with the offset a read started at and the offset it returned as next. */
  noteRead(fromOffset: number, nextOffset: number): void {
    if (this.ranges.length === 0) return
    for (const range of this.ranges) {
      if (range.endOffset === null || this.warned.has(range)) continue
      if (fromOffset < range.endOffset && nextOffset > range.firstOffset) {
        this.warned.add(range)
        this.logger.warn(
          `${this.dir}: read past quarantined offsets ${range.firstOffset}..${range.endOffset - 1}, which \`spool segments repair\` ` +
            `moved to ${range.file} (${range.why}); those records are skipped`,
        )
      }
    }
  }
}
