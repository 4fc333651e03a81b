import type { Segment } from './segment.js'

/**
 * A partition's segments, oldest first; the last one is the active segment. Retention
 * removes from the head, compaction replaces in place, the writer pushes at the tail —
 * each in one synchronous step, so a reader that finds a segment here and acquires it
 * before its first await always holds a segment that was in the list.
 */
export class SegmentList {
  constructor(private readonly segments: Segment[]) {
    if (segments.length === 0) throw new Error('a partition has at least one segment')
  }

  get all(): readonly Segment[] {
    return this.segments
  }

  get length(): number {
    return this.segments.length
  }

  get first(): Segment {
    return this.segments[0]!
  }

  get active(): Segment {
    return this.segments[this.segments.length - 1]!
  }

  /** The segment that holds `offset` (the last one starting at or below it; the first one below the start). */
  holding(offset: number): Segment {
    return this.segments[this.indexFor(offset)]!
  }

  /** The first segment that starts after `baseOffset`. */
  after(baseOffset: number): Segment | undefined {
    const i = this.indexFor(baseOffset)
    return this.segments[this.segments[i]!.baseOffset > baseOffset ? i : i + 1]
  }

  /** Offsets of `segment` lie below this: the next segment's base, or `endOffset` for the active one. */
  offsetLimitOf(segment: Segment, endOffset: number): number {
    if (segment === this.active) return endOffset
    return this.after(segment.baseOffset)?.baseOffset ?? endOffset
  }

  /** Bytes a reader may read of `segment`: the active one only up to what is visible. */
  visibleLimit(segment: Segment): number {
    return segment === this.active ? segment.visibleBytes : segment.sizeBytes
  }

  push(segment: Segment): void {
    this.segments.push(segment)
  }

  /** Takes the first `count` segments out (never the active one). */
  removeHead(count: number): Segment[] {
    if (count >= this.segments.length) throw new Error('the active segment is never removed')
    return this.segments.splice(0, count)
  }

  replace(old: Segment, replacement: Segment): void {
    const i = this.segments.indexOf(old)
    if (i < 0 || old === this.active) throw new Error('only a sealed segment in the list is replaced')
    this.segments[i] = replacement
  }

  private indexFor(offset: number): number {
    let low = 0
    let high = this.segments.length - 1
    while (low < high) {
      const mid = (low + high + 1) >>> 1
      if (this.segments[mid]!.baseOffset <= offset) low = mid
      else high = mid - 1
    }
    return low
  }
}
