import { SpoolError } from '../../errors.js'

/**
 * Whether a consumer is still open. It closes once: by `close()`, or by a failure it
 * cannot go on from (a failed join, a read error), which is kept and thrown to the
 * application by its next call.
 */
export class Lifecycle {
  private isClosed = false
  private error: unknown = null

  constructor(
    private readonly group: string,
    /** Called once a failure has been kept: it must close the consumer. */
    private readonly onFailed: () => void,
  ) {}

  get closed(): boolean {
    return this.isClosed
  }

  /** The failure that closed the consumer, or null. */
  get failure(): unknown {
    return this.error
  }

  /** Closing has begun: from now on nothing new starts. */
  markClosed(): void {
    this.isClosed = true
  }

  /** Closes the consumer for `error`, unless it is closed already. */
  fail(error: unknown): void {
    if (this.isClosed) return
    this.error = error
    this.onFailed()
  }

  throwIfUnusable(): void {
    if (this.error !== null) throw this.error
    if (this.isClosed) throw new SpoolError('CLOSED', `the consumer of group "${this.group}" is closed`)
  }
}
