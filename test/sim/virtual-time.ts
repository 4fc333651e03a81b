interface PendingTimer {
  id: number
  due: number
  /** Set for setInterval: the timer fires again this long after each firing. */
  every: number | null
  callback: (...args: unknown[]) => void
  args: unknown[]
  /** Creation order, to break ties between timers due at the same moment. */
  order: number
}

/** What setTimeout returns in Node, enough for the engine's use (unref, clear, refresh). */
class VirtualTimer {
  constructor(
    readonly id: number,
    private readonly time: VirtualTime,
  ) {}

  ref(): this {
    return this
  }

  unref(): this {
    return this
  }

  hasRef(): boolean {
    return true
  }

  refresh(): this {
    this.time.refresh(this.id)
    return this
  }

  close(): this {
    this.time.cancel(this.id)
    return this
  }

  [Symbol.toPrimitive](): number {
    return this.id
  }
}

type TimerHandle = VirtualTimer | number | undefined | null

/**
 * Time in a simulation passes only when the simulation says so, never because the
 * machine was slow, so a seed replays the same run whatever the load. While installed,
 * setTimeout, setInterval, their clear functions and Date.now are virtual; setImmediate,
 * microtasks and nextTick stay real (they carry no time, only order). The driver fires
 * timers when nothing else is left to run (see drive.ts).
 */
export class VirtualTime {
  private nowMs: number
  private readonly timers = new Map<number, PendingTimer>()
  private nextId = 1
  private nextOrder = 0
  /** Errors thrown by timer callbacks (in Node they would be uncaught exceptions). */
  readonly errors: unknown[] = []

  constructor(startMs: number) {
    this.nowMs = startMs
  }

  get now(): number {
    return this.nowMs
  }

  /** Moves the clock forward without firing anything (the engine's clock reads it). */
  advanceClock(ms: number): void {
    this.nowMs += ms
  }

  /** Fires the earliest timer if it is due by `limit`, moving the clock to it; false if there is none. */
  fireNext(limit = Infinity): boolean {
    const timer = this.next()
    if (timer === undefined || timer.due > limit) return false
    this.nowMs = Math.max(this.nowMs, timer.due)
    if (timer.every === null) this.timers.delete(timer.id)
    else {
      timer.due = this.nowMs + timer.every
      timer.order = this.nextOrder++
    }
    try {
      timer.callback(...timer.args)
    } catch (error) {
      this.errors.push(error)
    }
    return true
  }

  /** Drops every timer: the process that set them is gone (a power cut). */
  clear(): void {
    this.timers.clear()
  }

  refresh(id: number): void {
    const timer = this.timers.get(id)
    if (timer !== undefined) timer.due = this.nowMs + (timer.every ?? 0)
  }

  cancel(id: number): void {
    this.timers.delete(id)
  }

  /** Replaces the global timer functions and Date.now; returns the function that puts them back. */
  install(): () => void {
    const saved = {
      setTimeout: globalThis.setTimeout,
      setInterval: globalThis.setInterval,
      clearTimeout: globalThis.clearTimeout,
      clearInterval: globalThis.clearInterval,
      now: Date.now,
    }
    const add = (repeats: boolean, callback: (...args: unknown[]) => void, ms: number | undefined, args: unknown[]): VirtualTimer => {
      const id = this.nextId++
      // As in Node, a delay below 1 ms is 1 ms.
      const delay = Math.max(1, Number(ms) || 0)
      this.timers.set(id, { id, due: this.nowMs + delay, every: repeats ? delay : null, callback, args, order: this.nextOrder++ })
      return new VirtualTimer(id, this)
    }
    const clear = (handle: TimerHandle): void => {
      if (handle !== undefined && handle !== null) this.cancel(Number(handle))
    }
    globalThis.setTimeout = ((callback: (...args: unknown[]) => void, ms?: number, ...args: unknown[]) => add(false, callback, ms, args)) as unknown as typeof setTimeout
    globalThis.setInterval = ((callback: (...args: unknown[]) => void, ms?: number, ...args: unknown[]) => add(true, callback, ms, args)) as unknown as typeof setInterval
    globalThis.clearTimeout = clear as typeof clearTimeout
    globalThis.clearInterval = clear as typeof clearInterval
    Date.now = () => this.nowMs
    return () => {
      globalThis.setTimeout = saved.setTimeout
      globalThis.setInterval = saved.setInterval
      globalThis.clearTimeout = saved.clearTimeout
      globalThis.clearInterval = saved.clearInterval
      Date.now = saved.now
    }
  }

  private next(): PendingTimer | undefined {
    let earliest: PendingTimer | undefined
    for (const timer of this.timers.values()) {
      if (earliest === undefined || timer.due < earliest.due || (timer.due === earliest.due && timer.order < earliest.order)) earliest = timer
    }
    return earliest
  }
}
