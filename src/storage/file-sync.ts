import type { StorageIO } from './io.js'

/**
 * The one path through which a file's data is fsync'ed (contract 1), so that every
 * waiter shares the outcome of the fsync that covers it.
 *
 * Why one path: Linux reports a writeback error once per open file description. If two
 * fdatasyncs of one file overlap and the first gets EIO, the second can return 0 although
 * the pages it should have covered were dropped — so an append acknowledged on its
 * success would be lost. Here at most one fdatasync runs at a time; it covers the bytes
 * written before it started, and only those; and after a failure nothing is trusted
 * again: every waiter, present and future, gets the failure (PostgreSQL's answer to
 * "fsyncgate": the page cache no longer matches the disk, reopen from disk).
 */
export class FileSync {
  private writtenBytes: number
  private durableBytes: number
  private inFlight: Promise<void> | null = null
  private failure: unknown = null

  constructor(
    private readonly io: StorageIO,
    private readonly fd: () => number,
    /** Bytes in the file when it was opened. */
    initialBytes: number,
    /**
     * Whether those bytes are known to be on disk (a clean shutdown synced them). If not,
     * none counts as durable until an fsync of this process covers it: what an earlier
     * process wrote may still sit in the page cache.
     */
    initiallyDurable: boolean,
    /** Called once, on the first failure. */
    private readonly onFailure: (error: unknown) => void,
  ) {
    this.writtenBytes = initialBytes
    this.durableBytes = initiallyDurable ? initialBytes : 0
  }

  /** Records that the file now holds `bytes` (after a write, or a cut back after a failed one). */
  written(bytes: number): void {
    this.writtenBytes = bytes
    if (this.durableBytes > bytes) this.durableBytes = bytes
  }

  /** Bytes an fsync has covered. */
  get durable(): number {
    return this.durableBytes
  }

  get failed(): boolean {
    return this.failure !== null
  }

  /** Resolves once every byte written before this call is durable. */
  syncWritten(): Promise<void> {
    return this.syncTo(this.writtenBytes)
  }

  /** Resolves once the first `bytes` bytes are durable; rejects if any fsync of the file failed. */
  async syncTo(bytes: number): Promise<void> {
    // Bytes cut back off the file (a failed write undone) need no fsync.
    while (this.durableBytes < Math.min(bytes, this.writtenBytes)) {
      if (this.failure !== null) throw this.failure
      if (this.inFlight === null) this.inFlight = this.syncOnce()
      // An fsync that started before our bytes were written does not cover them: wait, then loop.
      await this.inFlight
    }
    if (this.failure !== null) throw this.failure
  }

  private async syncOnce(): Promise<void> {
    const covers = this.writtenBytes
    try {
      await this.io.fdatasync(this.fd())
      if (this.failure === null) this.durableBytes = Math.max(this.durableBytes, Math.min(covers, this.writtenBytes))
    } catch (error) {
      if (this.failure === null) {
        this.failure = error
        this.onFailure(error)
      }
      throw error
    } finally {
      this.inFlight = null
    }
  }

  /** Settles when no fsync is in flight (never rejects). */
  async idle(): Promise<void> {
    await this.inFlight?.catch(() => undefined)
  }
}
