/**
 * How the storage layer runs periodic work (interval flush, recovery checkpoints). The
 * default uses unref'd timers; a test injects its own so that time passes when the test
 * says, never because a timer happened to fire on a loaded machine.
 */
export interface Scheduler {
  /** Calls `task` every `ms` until the returned function is called. */
  every(ms: number, task: () => void): () => void
}

export const timerScheduler: Scheduler = {
  every(ms, task) {
    const timer = setInterval(task, ms)
    timer.unref()
    return () => clearInterval(timer)
  },
}
