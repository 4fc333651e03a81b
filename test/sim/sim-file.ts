/** A byte range [start, end) of a file. */
interface Range {
  start: number
  end: number
}

/** The last write not yet covered by a writeback: a power cut may keep a torn prefix of it. */
interface UnsyncedWrite {
  position: number
  bytes: Buffer
}

/**
 * One regular file of the simulated disk: what the page cache holds (what reads see) and
 * what the disk holds (what survives a power cut), as Linux keeps them apart.
 *
 * - A write dirties its range; ftruncate (or a truncating open) changes the size at once
 *   for readers and only at the next writeback for the disk.
 * - A successful writeback (fsync/fdatasync) makes the whole current image durable.
 * - A failed writeback is what Linux does since 4.13: the dirty pages are marked clean
 *   although the disk never got them. Readers still see the new bytes, but no later
 *   fsync will write them: they are lost at the next power cut, even if that fsync returns
 *   success. This is the behaviour an engine must not trust (PostgreSQL's "fsyncgate").
 */
export class SimFile {
  readonly kind = 'file'
  private data: Buffer = Buffer.alloc(0)
  private length = 0
  private durable: Buffer = Buffer.alloc(0)
  private dirty: Range[] = []
  /** The smallest size since the last writeback: durable bytes past it were cut away. */
  private shrunkTo = 0
  private unsynced: UnsyncedWrite | null = null

  get size(): number {
    return this.length
  }

  /** Copies up to `length` bytes at `position` into `target`; returns how many (0 at the end). */
  read(target: Buffer, offset: number, length: number, position: number): number {
    if (position >= this.length) return 0
    const count = Math.min(length, this.length - position)
    this.data.copy(target, offset, position, position + count)
    return count
  }

  write(bytes: Buffer, position: number): void {
    const end = position + bytes.length
    if (end > this.length) this.resize(end)
    bytes.copy(this.data, position)
    if (bytes.length === 0) return
    this.dirty.push({ start: position, end })
    this.unsynced = { position, bytes: Buffer.from(bytes) }
  }

  truncate(length: number): void {
    this.resize(length)
    this.shrunkTo = Math.min(this.shrunkTo, length)
    this.dirty = this.dirty.filter((r) => r.start < length).map((r) => ({ start: r.start, end: Math.min(r.end, length) }))
    if (this.unsynced !== null && this.unsynced.position + this.unsynced.bytes.length > length) this.unsynced = null
  }

  /** fsync/fdatasync: `succeeded` false models a writeback error (see the class comment). */
  writeback(succeeded: boolean): void {
    if (succeeded) {
      this.durable = this.image()
      this.shrunkTo = this.length
    }
    this.dirty = []
    this.unsynced = null
  }

  /**
   * What the disk would hold if written back now: the durable bytes (up to any cut), with
   * the dirty ranges over them. Bytes neither durable nor dirty (an extension, or data a
   * failed writeback dropped) read as zeros: the disk never had them.
   */
  private image(): Buffer {
    const out = Buffer.alloc(this.length)
    this.durable.copy(out, 0, 0, Math.min(this.durable.length, this.shrunkTo, this.length))
    for (const range of this.dirty) this.data.copy(out, range.start, range.start, Math.min(range.end, this.length))
    return out
  }

  /**
   * The power went out: only the durable image is left, plus, when `tornLength` says so,
   * the first bytes of the last unsynced write (a write the disk had started).
   */
  powerCut(tornLength: (writeLength: number) => number): void {
    let survivor = Buffer.from(this.durable)
    const last = this.unsynced
    if (last !== null && last.position <= survivor.length) {
      const kept = tornLength(last.bytes.length)
      if (kept > 0) {
        const end = last.position + kept
        if (end > survivor.length) survivor = Buffer.concat([survivor, Buffer.alloc(end - survivor.length)])
        last.bytes.copy(survivor, last.position, 0, kept)
      }
    }
    this.durable = survivor
    this.data = Buffer.from(survivor)
    this.length = survivor.length
    this.dirty = []
    this.shrunkTo = survivor.length
    this.unsynced = null
  }

  /** Whether a power cut now could keep part of an unsynced write (the tear draws only then). */
  get hasUnsyncedWrite(): boolean {
    return this.unsynced !== null && this.unsynced.position <= this.durable.length
  }

  /** What readers see now (a copy). */
  contents(): Buffer {
    return Buffer.from(this.data.subarray(0, this.length))
  }

  private resize(length: number): void {
    if (length > this.data.length) {
      const grown = Buffer.alloc(Math.max(length, this.data.length * 2, 64))
      this.data.copy(grown, 0, 0, this.length)
      this.data = grown
    } else if (length < this.length) {
      this.data.fill(0, length, this.length)
    }
    this.length = length
  }
}
