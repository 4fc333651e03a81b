import { payloadBytes } from '../bytes.js'
import type { ConsumedRecord } from '../reader.js'

/** Records of one partition read ahead, in offset order, as one read returned them. */
export interface FetchedChunk {
  key: string
  /** The partition's epoch when it was read: a seek since then makes it stale. */
  epoch: number
  records: ConsumedRecord[]
  /** The memory its records keep alive (see retained-memory.ts): at least their own bytes. */
  bytes: number
}

/** A record's own bytes: its key, value and headers (as the producer counts them). */
export function recordBytes(record: ConsumedRecord): number {
  return payloadBytes(record.key, record.value, record.headers)
}

/**
 * A consumer's read-ahead, bounded in records and bytes (contract 8): the fetcher may
 * add only what the remaining credit allows, and delivery gives credit back. A chunk
 * split by a take gives back its records' own bytes; the rest of what it keeps alive
 * comes back with its last record.
 */
export class PrefetchBuffer {
  private chunks: FetchedChunk[] = []
  records = 0
  bytes = 0

  constructor(
    readonly maxRecords: number,
    readonly maxBytes: number,
  ) {}

  /** What may still be read ahead, or null when the buffer is full. */
  credit(): { records: number; bytes: number } | null {
    const records = this.maxRecords - this.records
    const bytes = this.maxBytes - this.bytes
    return records > 0 && bytes > 0 ? { records, bytes } : null
  }

  get empty(): boolean {
    return this.chunks.length === 0
  }

  push(chunk: FetchedChunk): void {
    this.chunks.push(chunk)
    this.records += chunk.records.length
    this.bytes += chunk.bytes
  }

  /**
   * Removes and returns up to `max` records of the first chunk `deliverable` accepts
   * (the rest of that chunk stays first in line). Chunks `stale` rejects are discarded.
   */
  take(max: number, deliverable: (chunk: FetchedChunk) => boolean, stale: (chunk: FetchedChunk) => boolean): FetchedChunk | null {
    for (let i = 0; i < this.chunks.length; i++) {
      const chunk = this.chunks[i]!
      if (stale(chunk)) {
        this.remove(i--)
        continue
      }
      if (!deliverable(chunk)) continue
      if (chunk.records.length <= max) {
        this.remove(i)
        return chunk
      }
      const records = chunk.records.splice(0, max)
      const bytes = records.reduce((sum, record) => sum + recordBytes(record), 0)
      chunk.bytes -= bytes
      this.records -= records.length
      this.bytes -= bytes
      return { key: chunk.key, epoch: chunk.epoch, records, bytes }
    }
    return null
  }

  /** Discards a partition's chunks; returns the first offset discarded (where reading must resume), if any. */
  drop(key: string): number | null {
    let first: number | null = null
    for (let i = 0; i < this.chunks.length; i++) {
      const chunk = this.chunks[i]!
      if (chunk.key !== key) continue
      first ??= chunk.records[0]?.offset ?? null
      this.remove(i--)
    }
    return first
  }

  private remove(i: number): void {
    const [chunk] = this.chunks.splice(i, 1)
    this.records -= chunk!.records.length
    this.bytes -= chunk!.bytes
  }
}
