import { readJsonFile } from './atomic-file.js'
import type { StorageIO } from './io.js'

/**
 * The two small state files of a partition directory, both JSON written atomically:
 * - recovery-point.json: everything before this position is on disk (fsynced) and its
 *   index entries too; recovery after a crash scans from here on.
 * - clean-shutdown.json: written by close() as its very last step and removed at open;
 *   its presence means the files are exactly as close() left them and need no scan.
 */
export interface LogPosition {
  /** Base offset of the segment the position is in. */
  segmentBase: number
  /** Byte position in that segment's `.log`, at a batch boundary. */
  position: number
  /** Offset of the next record after `position`. */
  nextOffset: number
  /** Largest record timestamp in that segment before `position`, or -1. */
  maxTimestamp: number
  /**
   * Clock time of that segment's first append, which starts its `segmentMs` clock; -1
   * when unknown (files written before it was recorded): the first batch's timestamp is used.
   */
  rollStartMs: number
}

export const LOG_FILES_VERSION = 1

function isCount(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0
}

export async function readLogPosition(io: StorageIO, file: string): Promise<LogPosition | null> {
  const parsed = (await readJsonFile(io, file)) as Partial<LogPosition> & { version?: unknown }
  if (parsed === null || typeof parsed !== 'object' || parsed.version !== LOG_FILES_VERSION) return null
  const { segmentBase, position, nextOffset, maxTimestamp } = parsed
  const rollStartMs = parsed.rollStartMs ?? -1
  if (!isCount(segmentBase) || !isCount(position) || !isCount(nextOffset)) return null
  if (typeof maxTimestamp !== 'number' || !Number.isSafeInteger(maxTimestamp) || maxTimestamp < -1) return null
  if (typeof rollStartMs !== 'number' || !Number.isSafeInteger(rollStartMs) || rollStartMs < -1) return null
  if (nextOffset < segmentBase) return null
  return { segmentBase, position, nextOffset, maxTimestamp, rollStartMs }
}

export function encodeLogPosition(position: LogPosition): Buffer {
  return Buffer.from(JSON.stringify({ version: LOG_FILES_VERSION, ...position }))
}
