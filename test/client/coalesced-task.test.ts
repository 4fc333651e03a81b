import { afterEach, describe, expect, it, vi } from 'vitest'
import { CoalescedTask } from '../../src/client/coalesced-task.js'

/** A task whose runs each wait until the test lets them finish (or fail). */
function gatedTask() {
  const gates: { resolve: () => void; reject: (error: Error) => void }[] = []
  return {
    runs: () => gates.length,
    task: () => new Promise<void>((resolve, reject) => gates.push({ resolve, reject })),
    finish: (run: number) => gates[run]!.resolve(),
    fail: (run: number, error: Error) => gates[run]!.reject(error),
  }
}

describe('CoalescedTask', () => {
  afterEach(() => {
    vi.useRealTimers()
  })

  it('serves requests made during a run with one more run, and starts none once its owner has stopped', async () => {
    const gated = gatedTask()
    let stopped = false
    const task = new CoalescedTask(gated.task, () => undefined, () => stopped)
    task.request()
    task.request()
    task.request()
    expect(gated.runs()).toBe(1)
    gated.finish(0)
    await vi.waitFor(() => expect(gated.runs()).toBe(2))
    task.request() // asked during the second run, but the owner stops before it ends
    stopped = true
    gated.finish(1)
    await task.running
    expect(task.running).toBeNull()
    task.request()
    expect(gated.runs()).toBe(2)
  })

  it('gives a failure to onError once, and still serves a request made while the failing run ran', async () => {
    const gated = gatedTask()
    const errors: unknown[] = []
    const task = new CoalescedTask(gated.task, (error) => errors.push(error), () => false)
    task.request()
    task.request()
    const failure = new Error('coordinator gone')
    gated.fail(0, failure)
    await vi.waitFor(() => expect(gated.runs()).toBe(2))
    expect(errors).toEqual([failure])
    gated.finish(1)
    const running = task.running
    expect(running).not.toBeNull()
    await expect(running).resolves.toBeUndefined() // a run in progress never rejects: close may await it
    expect(errors).toEqual([failure])
  })

  it('requestAfter: every request made within the wait shares one run, and cancelLater drops it', async () => {
    vi.useFakeTimers()
    let runs = 0
    const task = new CoalescedTask(async () => void runs++, () => undefined, () => false)
    task.requestAfter(10)
    await vi.advanceTimersByTimeAsync(5)
    task.requestAfter(10) // already due in 5 ms: shares it
    await vi.advanceTimersByTimeAsync(5)
    expect(runs).toBe(1)
    await vi.advanceTimersByTimeAsync(100)
    expect(runs).toBe(1)
    task.requestAfter(10)
    task.cancelLater()
    await vi.advanceTimersByTimeAsync(100)
    expect(runs).toBe(1)
    task.requestAfter(10) // a cancelled wait does not block the next one
    await vi.advanceTimersByTimeAsync(10)
    expect(runs).toBe(2)
  })
})
