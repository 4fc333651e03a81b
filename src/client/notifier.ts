/** Wakes everyone waiting for "something changed"; each wait is for the next notify. */
export class Notifier {
  private waiters: (() => void)[] = []

  wait(): Promise<void> {
    return new Promise((resolve) => this.waiters.push(resolve))
  }

  /** Waits for the next notify, or `ms` at most. */
  waitAtMost(ms: number): Promise<void> {
    return settleWithin(this.wait(), ms)
  }

  notify(): void {
    const waiters = this.waiters
    this.waiters = []
    for (const wake of waiters) wake()
  }
}

/** Resolves when `promise` settles or after `ms`, whichever comes first (never rejects). */
export function settleWithin(promise: Promise<unknown>, ms: number): Promise<void> {
  const settled = promise.then(
    () => undefined,
    () => undefined,
  )
  if (ms === Infinity) return settled
  let timer: NodeJS.Timeout | undefined
  return Promise.race([settled, new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)))]).finally(() => clearTimeout(timer))
}
