import type { SimDisk } from './sim-disk.js'
import type { VirtualTime } from './virtual-time.js'

/** How a driven promise ended; 'hung' when it had not settled when virtual time ran out. */
export type Outcome<T> = { status: 'fulfilled'; value: T } | { status: 'rejected'; reason: unknown } | { status: 'hung' }

/** What the driver runs the event loop with. */
export interface Loop {
  time: VirtualTime
  disk: SimDisk
}

/** Real turns of the event loop with nothing started: the point where only timers are left. */
const QUIET_TURNS = 2
/** Turns of the loop one drive may take at most, so that a livelock ends as 'hung', not as a stuck test. */
const MAX_TURNS = 200_000
/** Turns with nothing in flight and no timer left before a pending promise counts as hung. */
const IDLE_TURNS_BEFORE_HUNG = 100

const realImmediate = (): Promise<void> => new Promise((resolve) => setImmediate(resolve))

/**
 * Runs the loop until `promise` settles: everything that is ready runs first (microtasks,
 * immediates, simulated I/O completions); only when nothing else is left does virtual
 * time move to the next timer. So time passes as fast as the simulation can go, and in
 * the same order on every run. Gives up ('hung') past `maxMs` of virtual time.
 */
export async function drive<T>(loop: Loop, promise: Promise<T>, maxMs: number): Promise<Outcome<T>> {
  let outcome: Outcome<T> | null = null
  promise.then(
    (value) => (outcome = { status: 'fulfilled', value }),
    (reason: unknown) => (outcome = { status: 'rejected', reason }),
  )
  const deadline = loop.time.now + maxMs
  let quiet = 0
  let idle = 0
  for (let turn = 0; turn < MAX_TURNS; turn++) {
    await realImmediate()
    if (outcome !== null) return outcome
    if (loop.disk.inFlight > 0) {
      quiet = 0
      continue
    }
    if (++quiet < QUIET_TURNS) continue
    quiet = 0
    if (loop.time.fireNext(deadline)) idle = 0
    // No timer left: a step that drives the loop itself (advance) may still be settling
    // its own turns; only a promise still pending after many idle turns is hung.
    else if (++idle > IDLE_TURNS_BEFORE_HUNG) break
  }
  return (outcome as Outcome<T> | null) ?? { status: 'hung' }
}

/** Lets `ms` of virtual time pass, firing every timer due meanwhile, with the loop run between them. */
export async function advance(loop: Loop, ms: number): Promise<void> {
  const target = loop.time.now + ms
  for (let turn = 0; turn < MAX_TURNS; turn++) {
    await settleTurns(loop)
    if (!loop.time.fireNext(target)) break
  }
  loop.time.advanceClock(Math.max(0, target - loop.time.now))
  await settleTurns(loop)
}

/** Runs the loop until nothing is left to run but timers. */
async function settleTurns(loop: Loop): Promise<void> {
  let quiet = 0
  for (let turn = 0; turn < MAX_TURNS && quiet < QUIET_TURNS; turn++) {
    await realImmediate()
    quiet = loop.disk.inFlight > 0 ? 0 : quiet + 1
  }
}
