import path from 'node:path'
import { readJsonFile, writeFileAtomic } from './atomic-file.js'
import type { StorageIO } from './io.js'
import { EPOCHS_FILE } from './paths.js'

/**
 * A partition's incarnations (Kafka's leader-epoch checkpoint), in `epochs.json`:
 * `[{ epoch, startOffset }, …]`, oldest first. Every open that had to recover (the
 * directory was not shut down cleanly) starts a new epoch at the recovered end, because
 * a crash under flush 'never' or an interval may have taken records away without
 * leaving a torn byte: the offsets after the recovered end may have been handed out
 * before, to records that are gone. Every batch carries the epoch that wrote it.
 *
 * A group commits an offset together with the epoch of the record before it. If the
 * log's history says that epoch ended before the committed offset, the records in
 * between were lost and their offsets given to new records: the group diverged, and
 * resumes at the end of its epoch instead of silently skipping the new records.
 */
export interface EpochEntry {
  epoch: number
  startOffset: number
}

export const EPOCHS_VERSION = 1

export class EpochHistory {
  private constructor(private readonly entries: EpochEntry[]) {}

  /** A log that never recovered: one epoch, 0, from its start. */
  static initial(startOffset: number): EpochHistory {
    return new EpochHistory([{ epoch: 0, startOffset }])
  }

  /** Reads `epochs.json`; a directory from before it (or with it unreadable) starts at epoch 0. */
  static async load(io: StorageIO, dir: string, startOffset: number): Promise<EpochHistory> {
    const parsed = await readJsonFile(io, path.join(dir, EPOCHS_FILE))
    const entries = parseEntries(parsed)
    return entries === null ? EpochHistory.initial(startOffset) : new EpochHistory(entries)
  }

  get current(): number {
    return this.entries[this.entries.length - 1]!.epoch
  }

  /** Starts the next epoch at `startOffset` and makes it durable before anything is written under it. */
  async bump(io: StorageIO, dir: string, startOffset: number): Promise<void> {
    const next = { epoch: this.current + 1, startOffset }
    // An epoch that began past the recovered end lost all its records: it ends where the
    // new one starts, so that a group that read in it is still seen to have diverged.
    const entries = [...this.entries.map((entry) => ({ epoch: entry.epoch, startOffset: Math.min(entry.startOffset, startOffset) })), next]
    const contents = Buffer.from(JSON.stringify({ version: EPOCHS_VERSION, epochs: entries }))
    await writeFileAtomic(io, path.join(dir, EPOCHS_FILE), contents)
    this.entries.splice(0, this.entries.length, ...entries)
  }

  /** The epoch that wrote `offset` (as the history tells; the first epoch for offsets before it). */
  epochOf(offset: number): number {
    let epoch = this.entries[0]!.epoch
    for (const entry of this.entries) {
      if (entry.startOffset > offset) break
      epoch = entry.epoch
    }
    return epoch
  }

  /**
   * Where the log diverged from what a reader saw who stopped at `offset` in `epoch`:
   * the end of that epoch, when it ended before `offset` (records were lost and their
   * offsets reused). Null when the reader's position is still valid, or the epoch is
   * unknown (older than the history, or from before epochs were kept).
   */
  divergence(offset: number, epoch: number): number | null {
    const i = this.entries.findIndex((entry) => entry.epoch === epoch)
    if (i < 0) return null
    const end = this.entries[i + 1]?.startOffset
    return end !== undefined && end < offset ? end : null
  }
}

function parseEntries(parsed: unknown): EpochEntry[] | null {
  if (typeof parsed !== 'object' || parsed === null) return null
  const list = (parsed as { epochs?: unknown }).epochs
  if (!Array.isArray(list) || list.length === 0) return null
  const entries: EpochEntry[] = []
  for (const item of list) {
    const { epoch, startOffset } = (item ?? {}) as Partial<EpochEntry>
    if (!Number.isSafeInteger(epoch) || !Number.isSafeInteger(startOffset)) return null
    entries.push({ epoch: epoch!, startOffset: startOffset! })
  }
  return entries
}
