/** How often the pacer wakes: Node's shortest timer. */
const TICK_MS = 1

/**
 * Calls `emit(i)` for i = 0 … total-1 at a steady `ratePerSec`: a timer wakes about every
 * millisecond and emits the records due by then (10 at 10,000 records/s), catching up
 * if a tick came late. The event loop is free between ticks — no spinning. Whoever
 * measures latency stamps the record inside `emit`, so the time a record waited for its
 * tick is not counted. Resolves with the seconds from the first emit to the last.
 */
export function paced(total: number, ratePerSec: number, emit: (i: number) => void): Promise<number> {
  return new Promise((resolve, reject) => {
    const start = performance.now()
    let sent = 0
    const tick = (): void => {
      try {
        const due = Math.min(total, Math.floor(((performance.now() - start) * ratePerSec) / 1000) + 1)
        while (sent < due) emit(sent++)
        if (sent < total) setTimeout(tick, TICK_MS)
        else resolve((performance.now() - start) / 1000)
      } catch (error) {
        reject(error)
      }
    }
    tick()
  })
}
