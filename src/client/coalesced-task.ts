/**
 * An async task that runs one at a time: asked for while it runs, it runs once more
 * afterwards (however often it was asked), so a burst of requests costs two runs.
 */
export class CoalescedTask {
  private runningNow: Promise<void> | null = null
  private again = false
  private timer: NodeJS.Timeout | null = null

  constructor(
    private readonly task: () => Promise<void>,
    private readonly onError: (error: unknown) => void,
    /** Once true, no new run starts. */
    private readonly stopped: () => boolean,
  ) {}

  /** The run in progress, if any. */
  get running(): Promise<void> | null {
    return this.runningNow
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

  request(): void {
    if (this.stopped()) return
    if (this.runningNow !== null) {
      this.again = true
      return
    }
    this.runningNow = (async () => {
      do {
        this.again = false
        await this.task()
      } while (this.again && !this.stopped())
    })()
      .catch((error: unknown) => this.onError(error))
      .finally(() => {
        this.runningNow = null
      })
  }
}
