/**
 * Runs tasks one at a time, in the order they were given: a task starts only once every
 * task given before it has settled, whether it resolved or threw. Each caller gets its
 * own task's outcome; one task's failure does not fail the next.
 */
export class Serial {
  private tail: Promise<unknown> = Promise.resolve()
  private pending = 0

  run<T>(task: () => Promise<T>): Promise<T> {
    this.pending++
    const run = this.tail.then(task)
    this.tail = run.then(
      () => this.pending--,
      () => this.pending--,
    )
    return run
  }

  /** Whether a task is running or waiting. */
  get busy(): boolean {
    return this.pending > 0
  }

  /** Settles once every task given so far has settled (never rejects). */
  async drained(): Promise<void> {
    while (this.pending > 0) await this.tail
  }
}
