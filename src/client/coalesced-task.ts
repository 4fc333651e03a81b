import { Coalesced } from '../concurrency/coalesced.js'

/**
 * Coalesced work run in the background for an owner that stops (a consumer's join and
 * heartbeat, its automatic commits): a request returns at once, a failure goes to
 * `onError`, no run starts once the owner has stopped, and a run may be asked for later —
 * whatever asks meanwhile shares it.
 */
export class CoalescedTask {
  private readonly runs: Coalesced
  private timer: NodeJS.Timeout | null = null

  constructor(
    task: () => Promise<void>,
    onError: (error: unknown) => void,
    /** Once true, no new run starts. */
    private readonly stopped: () => boolean,
  ) {
    this.runs = new Coalesced(async () => {
      if (stopped()) return
      try {
        await task()
      } catch (error) {
        onError(error)
      }
    })
  }

  /** The run in progress, if any (it never rejects). */
  get running(): Promise<void> | null {
    return this.runs.running
  }

  request(): void {
    if (!this.stopped()) void this.runs.request()
  }

  /** Requests a run in `ms`, unless one is already due: whatever asks meanwhile shares it. */
  requestAfter(ms: number): void {
    if (this.timer !== null || this.stopped()) return
    this.timer = setTimeout(() => {
      this.timer = null
      this.request()
    }, ms)
  }

  /** Drops a run requested for later. */
  cancelLater(): void {
    if (this.timer !== null) clearTimeout(this.timer)
    this.timer = null
  }
}
