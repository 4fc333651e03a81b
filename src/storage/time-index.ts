import { readInt64 } from '../record/int64.js'
import { writeInt64 } from '../record/int64.js'
import { IndexEntries } from './index-entries.js'

/**
 * The `.timeindex` file: a sparse map from the largest timestamp seen so far to the
 * offset of the last record of the batch that raised it. Every record at or before that
 * offset has a timestamp ≤ the entry's, which is what a time lookup needs.
 *
 *   entry (12 bytes, big-endian), repeated:
 *     timestamp       int64   ms, strictly increasing from entry to entry
 *     relativeOffset  uint32  offset - segment base offset, non-decreasing
 *
 * A sealed segment's last entry holds the segment's largest timestamp.
 */
export const TIME_INDEX_ENTRY_BYTES = 12

export class TimeIndex {
  readonly entries = new IndexEntries()

  constructor(readonly baseOffset: number) {}

  /** The largest timestamp indexed so far, or -1. */
  get maxTimestamp(): number {
    return this.entries.lastKey() ?? -1
  }

  /** Adds an entry when `timestamp` is larger than every indexed one. */
  maybeAppend(timestamp: number, offset: number): void {
    if (timestamp > this.maxTimestamp) this.entries.append(timestamp, offset - this.baseOffset)
  }

  /** The last offset known to hold only records older than `timestamp`, or null. */
  offsetBefore(timestamp: number): number | null {
    const i = this.entries.floor(timestamp, true)
    return i < 0 ? null : this.baseOffset + this.entries.valueAt(i)
  }

  encode(from: number, to: number): Buffer {
    const out = Buffer.allocUnsafe((to - from) * TIME_INDEX_ENTRY_BYTES)
    for (let i = from; i < to; i++) {
      const at = (i - from) * TIME_INDEX_ENTRY_BYTES
      writeInt64(out, at, this.entries.keyAt(i))
      out.writeUInt32BE(this.entries.valueAt(i), at + 8)
    }
    return out
  }

  static decode(baseOffset: number, bytes: Buffer, maxRelativeOffset: number): TimeIndex | string {
    if (bytes.length % TIME_INDEX_ENTRY_BYTES !== 0) {
      return `size ${bytes.length} is not a multiple of ${TIME_INDEX_ENTRY_BYTES}`
    }
    const index = new TimeIndex(baseOffset)
    let previousTimestamp = -Infinity
    let previousRelative = -1
    for (let at = 0; at < bytes.length; at += TIME_INDEX_ENTRY_BYTES) {
      const timestamp = readInt64(bytes, at)
      const relative = bytes.readUInt32BE(at + 8)
      if (timestamp <= previousTimestamp || relative < previousRelative) return `entry ${at / 12} is out of order`
      if (relative > maxRelativeOffset) return `entry ${at / 12} points past the end of the segment`
      index.entries.append(timestamp, relative)
      previousTimestamp = timestamp
      previousRelative = relative
    }
    return index
  }
}
