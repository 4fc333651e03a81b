/**
 * Work that only needs to have run after a request, not once per request: one run at a
 * time, and a request made while it runs is served by one more run after it (however
 * many requests came meanwhile). So a burst of requests costs at most two runs, and a
 * request is never served by a run that began before it was made.
 */
export class Coalesced {
  private current: Promise<void> | null = null
  private again = false

  constructor(private readonly work: () => Promise<void>) {}

  /** Resolves when a run that began after this call has finished; rejects with its error. */
  request(): Promise<void> {
    if (this.current === null) {
      this.current = this.loop().finally(() => {
        this.current = null
      })
      return this.current
    }
    this.again = true
    return this.current
  }

  /** The run in progress, if any. */
  get running(): Promise<void> | null {
    return this.current
  }

  private async loop(): Promise<void> {
    do {
      this.again = false
      await this.work()
    } while (this.again)
  }
}
