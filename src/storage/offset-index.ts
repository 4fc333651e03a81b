import { IndexEntries } from './index-entries.js'

/**
 * The `.index` file: a sparse map from offset to the file position of the batch that
 * starts at that offset. One entry is added when at least `indexIntervalBytes` of log
 * were written since the previous one.
 *
 *   entry (8 bytes, big-endian), repeated:
 *     relativeOffset  uint32  batch base offset - segment base offset
 *     position        uint32  byte position of that batch in the .log
 *
 * Entries are strictly increasing in both fields. The file holds whole entries only.
 */
export const OFFSET_INDEX_ENTRY_BYTES = 8

export class OffsetIndex {
  readonly entries = new IndexEntries()

  constructor(readonly baseOffset: number) {}

  append(offset: number, position: number): void {
    this.entries.append(offset - this.baseOffset, position)
  }

  /** The batch start to read from to reach `offset`: the last entry at or before it. */
  lookup(offset: number): { offset: number; position: number } {
    const i = this.entries.floor(offset - this.baseOffset)
    if (i < 0) return { offset: this.baseOffset, position: 0 }
    return { offset: this.baseOffset + this.entries.keyAt(i), position: this.entries.valueAt(i) }
  }

  /** Entries [from, to) in file form. */
  encode(from: number, to: number): Buffer {
    const out = Buffer.allocUnsafe((to - from) * OFFSET_INDEX_ENTRY_BYTES)
    for (let i = from; i < to; i++) {
      const at = (i - from) * OFFSET_INDEX_ENTRY_BYTES
      out.writeUInt32BE(this.entries.keyAt(i), at)
      out.writeUInt32BE(this.entries.valueAt(i), at + 4)
    }
    return out
  }

  /** Parses a `.index` file; returns why it cannot be trusted instead, if so. */
  static decode(baseOffset: number, bytes: Buffer, logSizeBytes: number): OffsetIndex | string {
    if (bytes.length % OFFSET_INDEX_ENTRY_BYTES !== 0) {
      return `size ${bytes.length} is not a multiple of ${OFFSET_INDEX_ENTRY_BYTES}`
    }
    const index = new OffsetIndex(baseOffset)
    let previousRelative = -1
    let previousPosition = -1
    for (let at = 0; at < bytes.length; at += OFFSET_INDEX_ENTRY_BYTES) {
      const relative = bytes.readUInt32BE(at)
      const position = bytes.readUInt32BE(at + 4)
      if (relative <= previousRelative || position <= previousPosition) return `entry ${at / 8} is out of order`
      if (position >= logSizeBytes) return `entry ${at / 8} points past the end of the log`
      index.entries.append(relative, position)
      previousRelative = relative
      previousPosition = position
    }
    return index
  }
}
