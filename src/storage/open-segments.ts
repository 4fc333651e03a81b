import { MAX_OPEN_SEALED_SEGMENTS } from '../limits.js'

/** What the budget needs of a sealed segment whose `.log` is open. */
export interface ClosableSegment {
  /** Whether closing it now is safe: no reader holds it and it is not being loaded. */
  idle(): boolean
  /** Closes its descriptor (and drops what it can reload); its next read reopens it. */
  evict(): void
}

/**
 * The sealed segments with an open `.log`, across every partition of the process, least
 * recently used first (a Set iterates in insertion order; a use moves a segment to the
 * end). Past the budget, the least recently used idle ones are closed. A segment held by
 * a reader is never closed under it: the set may then exceed the budget until the
 * reader lets go (`trim` runs again on release). Active segments are not counted: there
 * is one per open partition, and the writer keeps it open.
 */
export class OpenSegments {
  private readonly open = new Set<ClosableSegment>()

  constructor(private readonly budget: number) {}

  get size(): number {
    return this.open.size
  }

  /** `segment` was opened or read: it becomes the most recently used, and the budget is kept. */
  touch(segment: ClosableSegment): void {
    this.open.delete(segment)
    this.open.add(segment)
    this.trim(segment)
  }

  /** `segment` was closed by its owner. */
  forget(segment: ClosableSegment): void {
    this.open.delete(segment)
  }

  /** Closes idle segments, least recently used first, until the budget is kept (never `keep`, just used). */
  trim(keep?: ClosableSegment): void {
    if (this.open.size <= this.budget) return
    for (const segment of this.open) {
      if (this.open.size <= this.budget) return
      if (segment === keep || !segment.idle()) continue
      this.open.delete(segment)
      segment.evict()
    }
  }
}

/** The process's budget (see MAX_OPEN_SEALED_SEGMENTS). */
export const openSealedSegments = new OpenSegments(MAX_OPEN_SEALED_SEGMENTS)
