import path from 'node:path'

/**
 * Every file name of a partition directory is built here. Segment files are named by
 * their base offset, zero-padded to 20 digits so that names sort as offsets do.
 */
export const LOG_SUFFIX = '.log'
export const INDEX_SUFFIX = '.index'
export const TIME_INDEX_SUFFIX = '.timeindex'
/** Written aside and renamed into place, so a crash never leaves half a file under the real name. */
export const TEMP_SUFFIX = '.tmp'

/**
 * Compaction writes a cleaned segment aside as `<stem>.<kind>.cleaned`, renames each to
 * `<stem>.<kind>.swap` (the `.log.swap` rename is the commit point), then over the original.
 */
export const CLEANED_SUFFIX = '.cleaned'
export const SWAP_SUFFIX = '.swap'

export const RECOVERY_CHECKPOINT_FILE = 'recovery-point.json'
export const CLEAN_SHUTDOWN_FILE = 'clean-shutdown.json'
/** How far compaction has cleaned the log, and when it first kept each segment's tombstones (cleaner-checkpoint.ts). */
export const CLEANER_CHECKPOINT_FILE = 'cleaner-checkpoint.json'
/** The partition's incarnations, one per unclean open (epochs.ts). */
export const EPOCHS_FILE = 'epochs.json'
/** The idempotent producers' state as of an offset the log holds durably (idempotence.ts). */
export const PRODUCER_STATE_FILE = 'producer-state.snapshot'
/**
 * Where the writer tells readers in other processes how far they may read: the end of
 * what is visible (durable under the flush policy), overwritten in place after each
 * group of appends (published-end.ts). A hint for read-only readers only: never fsynced,
 * and never read by recovery or by a writer.
 */
export const PUBLISHED_END_FILE = 'published-end'
/**
 * The writer's lock of a directory: a tiny LevelDB database whose `LOCK` file the kernel
 * holds for the writing process (see kernel-lock.ts). It alone decides who writes.
 */
export const WRITER_LOCK_DIR = '.writer-lock'
/**
 * Names the writer (pid, host, start time) for the LOCKED message only; never decides.
 * Versions before the kernel lock used it as the lock itself, so one may be left empty
 * or naming a dead process: it is overwritten.
 */
export const LOCK_FILE = '.lock'

const OFFSET_DIGITS = 20
const SEGMENT_FILE = /^(\d{20})\.(log|index|timeindex)$/
const COMPACTION_FILE = /^(\d{20})\.(log|index|timeindex)\.(cleaned|swap)$/

export function offsetFileStem(baseOffset: number): string {
  return String(baseOffset).padStart(OFFSET_DIGITS, '0')
}

export interface SegmentPaths {
  log: string
  index: string
  timeIndex: string
}

export function segmentPaths(dir: string, baseOffset: number): SegmentPaths {
  const stem = path.join(dir, offsetFileStem(baseOffset))
  return { log: stem + LOG_SUFFIX, index: stem + INDEX_SUFFIX, timeIndex: stem + TIME_INDEX_SUFFIX }
}

export interface SegmentFileName {
  baseOffset: number
  kind: 'log' | 'index' | 'timeindex'
}

export function parseSegmentFileName(name: string): SegmentFileName | null {
  const match = SEGMENT_FILE.exec(name)
  if (match === null) return null
  const baseOffset = Number(match[1])
  if (!Number.isSafeInteger(baseOffset)) return null
  return { baseOffset, kind: match[2] as SegmentFileName['kind'] }
}

export interface CompactionFileName extends SegmentFileName {
  stage: 'cleaned' | 'swap'
}

/** A file left by a compaction (`00000000000000000034.log.swap`), or null. */
export function parseCompactionFileName(name: string): CompactionFileName | null {
  const match = COMPACTION_FILE.exec(name)
  if (match === null) return null
  const baseOffset = Number(match[1])
  if (!Number.isSafeInteger(baseOffset)) return null
  return { baseOffset, kind: match[2] as SegmentFileName['kind'], stage: match[3] as CompactionFileName['stage'] }
}

export function tempPathOf(file: string): string {
  return file + TEMP_SUFFIX
}

/** The data directory's Kafka cluster id (cluster-id.ts): the same across restarts. */
export const CLUSTER_ID_FILE = 'cluster-id'

/** Where a running Kafka listener says how to reach it (src/kafka/server): the CLI goes through it. */
export const LISTENER_FILE = 'listener.json'
