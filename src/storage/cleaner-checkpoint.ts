import path from 'node:path'
import { readJsonFile, writeFileAtomic } from './atomic-file.js'
import type { StorageIO } from './io.js'
import { CLEANER_CHECKPOINT_FILE } from './paths.js'

/**
 * What compaction knows of a partition between cleans (Kafka's cleaner-offset-checkpoint),
 * in `cleaner-checkpoint.json`:
 * - `cleanedTo`: every offset below it has been cleaned, so below it each key has at most
 *   one record. Only the log after it is dirty; a clean maps only that part.
 * - `tombstones`: for each cleaned segment that still holds tombstones, the cleaner's
 *   clock at the clean that first kept them. They go `deleteRetentionMs` after that, not
 *   by their producer's timestamp.
 * It is written only after every segment of a clean is replaced: a crash before that
 * leaves the older checkpoint, and the next clean redoes more, never less.
 */
export interface CleanerCheckpoint {
  cleanedTo: number
  /** Segment base offset → cleaner clock (ms) of the clean that first kept its tombstones. */
  tombstones: Map<number, number>
}

const VERSION = 1

interface Stored {
  version: number
  cleanedTo: number
  tombstones: Array<{ baseOffset: number; firstCleanedMs: number }>
}

/** A directory never cleaned (or whose file is missing or unreadable): everything is dirty. */
export function uncleaned(): CleanerCheckpoint {
  return { cleanedTo: 0, tombstones: new Map() }
}

export async function loadCleanerCheckpoint(io: StorageIO, dir: string): Promise<CleanerCheckpoint> {
  const parsed = (await readJsonFile(io, path.join(dir, CLEANER_CHECKPOINT_FILE))) as Partial<Stored> | null
  if (parsed === null || typeof parsed !== 'object' || parsed.version !== VERSION) return uncleaned()
  const { cleanedTo, tombstones } = parsed
  if (!isCount(cleanedTo) || !Array.isArray(tombstones)) return uncleaned()
  const entries = new Map<number, number>()
  for (const entry of tombstones as unknown[]) {
    const { baseOffset, firstCleanedMs } = (entry ?? {}) as Partial<Stored['tombstones'][number]>
    if (!isCount(baseOffset) || !isCount(firstCleanedMs)) return uncleaned()
    entries.set(baseOffset, firstCleanedMs)
  }
  return { cleanedTo, tombstones: entries }
}

export async function saveCleanerCheckpoint(io: StorageIO, dir: string, checkpoint: CleanerCheckpoint): Promise<void> {
  const stored: Stored = {
    version: VERSION,
    cleanedTo: checkpoint.cleanedTo,
    tombstones: [...checkpoint.tombstones].sort(([a], [b]) => a - b).map(([baseOffset, firstCleanedMs]) => ({ baseOffset, firstCleanedMs })),
  }
  await writeFileAtomic(io, path.join(dir, CLEANER_CHECKPOINT_FILE), Buffer.from(JSON.stringify(stored)))
}

function isCount(value: unknown): value is number {
  return Number.isSafeInteger(value) && (value as number) >= 0
}
