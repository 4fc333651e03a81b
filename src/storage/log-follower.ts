import { SpoolError, ioError } from '../errors.js'
import { FOLLOW_POLL_MS, FOLLOW_PUBLISHED_END_READS, MAX_SEGMENT_OFFSET_SPAN } from '../limits.js'
import type { AppendSignal } from './append-signal.js'
import { EpochHistory } from './epochs.js'
import { type DirWatch, isMissing } from './io.js'
import { scanBatches } from './log-scanner.js'
import { PUBLISHED_END_FILE, parseSegmentFileName } from './paths.js'
import { PUBLISHED_END_BYTES, type PublishedEnd, decodePublishedEnd, publishedEndPath, sameEnd } from './published-end.js'
import { Segment, type SegmentContext, indexedBatchOf } from './segment.js'
import type { SegmentList } from './segment-list.js'

/** What the follower needs of a read-only partition log. */
export interface FollowedLog {
  readonly ctx: SegmentContext
  readonly segments: SegmentList
  readonly signal: AppendSignal
  /** The offset after the last record readers may see. */
  highWatermark(): number
  /** Readers may now see records up to `endOffset` (and waiters are told). */
  followTo(endOffset: number): void
  /** The log's epoch as of the open. */
  readonly epoch: number
  /** The end the writer had published when the log was opened (the open served nothing past it), or null. */
  readonly publishedAtOpen: PublishedEnd | null
}

/**
 * A read-only log following the writer in another process, as `tail -f` follows a file.
 *
 * The writer publishes its visible end after each group of appends (published-end.ts).
 * While someone waits for records past the end (`waitPast`), the follower watches the
 * partition directory (StorageIO.watch: inotify on Linux, which reports the writer's
 * pwrite of `published-end` within about a millisecond) and also polls every
 * FOLLOW_POLL_MS, in case no event comes. On each wake it reads the published end and,
 * when it moved:
 * - in the same segment: the new batches are indexed (header checks; reads check the
 *   CRCs) up to the published byte, never past it, and shown;
 * - across a roll: the old active segment is read to its end (the writer rolls only
 *   once it is fsynced whole, with every group in it visible) and sealed; segments
 *   created since are listed from the directory (the ones in between are loaded lazily,
 *   as at an open) and the last one is indexed up to the published byte;
 * - segments that retention deleted are dropped from the head (on a directory change);
 * - a published end behind what this reader has shown, or an epoch whose history says
 *   records this reader saw were lost (a writer that crashed under flush 'never' or an
 *   interval, or cut its segment back after a failed fsync), ends the follow with
 *   OFFSET_OUT_OF_RANGE: those offsets may be given to other records.
 * Wakes are coalesced: one refresh at a time, one more if woken meanwhile. While nobody
 * waits, the watch and the timer do not keep the process alive and events are ignored;
 * the next wait refreshes at once.
 */
export class LogFollower {
  private holds = 0
  private started = false
  private closed = false
  private watch: DirWatch | null = null
  private timer: NodeJS.Timeout | null = null
  /** `published-end`, kept open once found: a reader follows the file it started with. */
  private fd = -1
  private last: PublishedEnd | null
  private epoch: number
  /** A segment may have come or gone: list the directory at the next refresh. */
  private listingStale = false
  private refreshing: Promise<void> | null = null
  private again = false
  private failure: Error | null = null
  private readonly failed: Promise<never>
  private rejectFailed: (error: Error) => void = () => undefined
  private readonly buffer = Buffer.alloc(PUBLISHED_END_BYTES)

  constructor(private readonly log: FollowedLog) {
    this.last = log.publishedAtOpen
    this.epoch = log.epoch
    this.failed = new Promise<never>((_, reject) => (this.rejectFailed = reject))
    this.failed.catch(() => undefined)
  }

  /** Resolves true once the end passes `offset`, false when the log closes or `abort` fires first; rejects when following failed. */
  async waitPast(offset: number, abort?: AbortSignal): Promise<boolean> {
    if (this.failure !== null) throw this.failure
    const release = this.hold()
    try {
      return await Promise.race([this.log.signal.waitPast(offset, abort), this.failed])
    } finally {
      release()
    }
  }

  /** Keeps following (and the process alive) until the returned function is called. */
  hold(): () => void {
    let held = true
    if (++this.holds === 1) {
      if (!this.started) this.start()
      this.watch?.ref()
      this.timer?.ref()
      this.wake()
    }
    return () => {
      if (!held) return
      held = false
      if (--this.holds > 0) return
      this.watch?.unref()
      this.timer?.unref()
    }
  }

  async close(): Promise<void> {
    this.closed = true
    if (this.timer !== null) clearInterval(this.timer)
    this.timer = null
    this.watch?.close()
    this.watch = null
    await this.refreshing
    if (this.fd >= 0) await this.log.ctx.io.close(this.fd).catch(() => undefined)
    this.fd = -1
  }

  private start(): void {
    this.started = true
    const { io, dir } = this.log.ctx
    if (io.watch !== undefined) {
      try {
        this.watch = io.watch(dir, (kind, name) => this.onEvent(kind, name), () => this.stopWatching())
      } catch {
        this.stopWatching() // polling alone still follows
      }
    }
    this.timer = setInterval(() => this.onPoll(), FOLLOW_POLL_MS)
  }

  private stopWatching(): void {
    this.watch?.close()
    this.watch = null
  }

  private onEvent(kind: 'rename' | 'change', name: string | null): void {
    if (kind === 'rename') this.listingStale = true
    // Writes to segment files come before the publish that shows them: only the publish wakes.
    else if (name !== null && name !== PUBLISHED_END_FILE) return
    if (this.holds > 0) this.wake()
  }

  private onPoll(): void {
    if (this.watch === null) this.listingStale = true
    if (this.holds > 0) this.wake()
  }

  private wake(): void {
    if (this.closed || this.failure !== null) return
    this.again = true
    if (this.refreshing !== null) return // it refreshes once more when done
    this.refreshing = (async () => {
      try {
        while (this.again && !this.closed) {
          this.again = false
          await this.refresh()
        }
      } catch (error) {
        this.failure = error instanceof Error ? error : new Error(String(error))
        this.rejectFailed(this.failure)
      } finally {
        this.refreshing = null
      }
    })()
  }

  private async refresh(): Promise<void> {
    const published = await this.readPublished()
    if (this.closed) return
    const changed = published !== null && (this.last === null || !sameEnd(published, this.last))
    const rolled = changed && published.segmentBase !== this.log.segments.active.baseOffset
    let bases: number[] | null = null
    if (rolled || this.listingStale) {
      this.listingStale = false
      bases = await this.listSegmentBases()
    }
    if (changed) {
      await this.apply(published, bases)
      this.last = published
    }
    if (bases !== null) this.dropRemovedHead(bases)
  }

  private async readPublished(): Promise<PublishedEnd | null> {
    const { io, dir } = this.log.ctx
    const file = publishedEndPath(dir)
    if (this.fd < 0) {
      try {
        this.fd = await io.open(file, 'r')
      } catch (error) {
        if (isMissing(error)) return null // nothing published yet (or a writer from before this file)
        throw ioError('opening', file, error)
      }
    }
    for (let attempt = 0; attempt < FOLLOW_PUBLISHED_END_READS; attempt++) {
      let read: number
      try {
        read = await io.read(this.fd, this.buffer, 0, PUBLISHED_END_BYTES, 0)
      } catch (error) {
        throw ioError('reading', file, error)
      }
      const end = decodePublishedEnd(this.buffer.subarray(0, read))
      if (end !== null) return end
    }
    return null // being rewritten, or empty: the next wake reads it again
  }

  private async apply(published: PublishedEnd, bases: number[] | null): Promise<void> {
    const { segments } = this.log
    const seen = this.log.highWatermark()
    if (published.epoch !== this.epoch) {
      await this.checkHistory(seen)
      this.epoch = published.epoch
    }
    const active = segments.active
    if (
      published.nextOffset < seen ||
      published.segmentBase < active.baseOffset ||
      (published.segmentBase === active.baseOffset && published.position < active.visibleBytes)
    ) {
      throw this.regressed(published.nextOffset, seen)
    }
    if (published.segmentBase === active.baseOffset) {
      if (published.position > active.visibleBytes) await this.extend(active, published.position)
    } else {
      await this.followRoll(published, bases ?? (await this.listSegmentBases()))
    }
    const indexed = segments.active.nextOffset
    if (indexed !== published.nextOffset) {
      throw new SpoolError(
        'CORRUPT_BATCH',
        `${segments.active.paths.log} holds offsets up to ${indexed} at byte ${published.position}, where its writer published offset ${published.nextOffset}; the reader stops here`,
        { details: { file: segments.active.paths.log, position: published.position, offset: indexed } },
      )
    }
    this.log.followTo(published.nextOffset)
  }

  /** Indexes `segment` from what readers see of it up to `toPosition` (never past it), then shows it. */
  private async extend(segment: Segment, toPosition: number): Promise<void> {
    const { ctx } = this.log
    if (segment.fd < 0) {
      // The placeholder of a log that had no segment at the open, created since by the writer.
      await segment.openFile('r')
      segment.markLoaded()
    }
    const scan = await scanBatches(ctx.io, segment.fd, {
      fromPosition: segment.visibleBytes,
      sizeBytes: toPosition,
      minBaseOffset: segment.nextOffset,
      maxOffsetExclusive: segment.baseOffset + MAX_SEGMENT_OFFSET_SPAN,
      maxBatchBytes: ctx.maxBatchBytes,
      checkCrc: false, // every read checks the CRC of what it returns
      onBatch: (position, header) => segment.indexBatch(position, indexedBatchOf(header)),
    })
    if (scan.problem !== null) {
      throw new SpoolError(
        'CORRUPT_BATCH',
        `corrupt batch in ${segment.paths.log} at byte ${scan.validEndPosition} (offset ${scan.nextOffset}), before byte ${toPosition} that its writer published: ${scan.problem}`,
        { details: { file: segment.paths.log, position: scan.validEndPosition, offset: scan.nextOffset } },
      )
    }
    segment.grewTo(toPosition)
    segment.showUpTo(toPosition)
  }

  private async followRoll(published: PublishedEnd, bases: number[]): Promise<void> {
    const { ctx, segments } = this.log
    const old = segments.active
    const newer = bases.filter((base) => base > old.baseOffset && base <= published.segmentBase)
    if (newer[newer.length - 1] !== published.segmentBase) {
      const missing = new Segment(ctx, published.segmentBase).paths.log
      throw ioError('following', missing, Object.assign(new Error('the segment its writer published is not there'), { code: 'ENOENT' }))
    }
    if (old.fd >= 0) {
      // The writer rolls only once the old segment is durable whole, every group in it visible.
      let size: number
      try {
        size = await ctx.io.fstatSize(old.fd)
      } catch (error) {
        throw ioError('reading the size of', old.paths.log, error)
      }
      if (size > old.visibleBytes) await this.extend(old, size)
    }
    const between = newer.slice(0, -1).map((base) => new Segment(ctx, base)) // loaded on first read, as at an open
    const active = new Segment(ctx, published.segmentBase)
    await active.openFile('r')
    active.markLoaded()
    try {
      await this.extend(active, published.position)
    } catch (error) {
      await active.close().catch(() => undefined)
      throw error
    }
    old.seal()
    for (const segment of between) segments.push(segment)
    segments.push(active)
    old.filesInstalled()
  }

  /** Drops the segments at the head whose files retention deleted (never the active one). */
  private dropRemovedHead(bases: number[]): void {
    const present = new Set(bases)
    const all = this.log.segments.all
    let count = 0
    while (count < all.length - 1 && !present.has(all[count]!.baseOffset)) count++
    if (count === 0) return
    for (const segment of this.log.segments.removeHead(count)) void segment.retire().catch(() => undefined)
  }

  private async listSegmentBases(): Promise<number[]> {
    const { io, dir } = this.log.ctx
    let names: string[]
    try {
      names = await io.readdir(dir)
    } catch (error) {
      if (isMissing(error)) {
        throw new SpoolError('UNKNOWN_PARTITION', `${dir} is gone (its topic was deleted?): nothing more will be appended to what this reader follows`, {
          details: { dir },
        })
      }
      throw ioError('listing', dir, error)
    }
    const bases: number[] = []
    for (const name of names) {
      const parsed = parseSegmentFileName(name)
      if (parsed?.kind === 'log') bases.push(parsed.baseOffset)
    }
    return bases.sort((a, b) => a - b)
  }

  /** A new epoch: did it start before what this reader has shown (records lost, offsets reused)? */
  private async checkHistory(seen: number): Promise<void> {
    const { ctx, segments } = this.log
    const history = await EpochHistory.load(ctx.io, ctx.dir, segments.first.baseOffset)
    const diverged = history.divergence(seen, this.epoch)
    if (diverged !== null) throw this.regressed(diverged, seen)
  }

  private regressed(endOffset: number, seen: number): SpoolError {
    return new SpoolError(
      'OFFSET_OUT_OF_RANGE',
      `${this.log.ctx.dir}: the log now ends at offset ${endOffset}, before offset ${seen} up to which this reader has read: its writer lost records ` +
        `(a crash or a failed fsync under flush 'never' or an interval) and may give their offsets to other records; open it again to read on from ${endOffset}`,
      { details: { offset: seen, endOffset } },
    )
  }
}
