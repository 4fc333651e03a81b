import { describe, expect, it } from 'vitest'
import { Coalesced } from '../../src/concurrency/coalesced.js'

describe('Coalesced', () => {
  it('serves a burst of requests made during a run with exactly one more run, begun after them', async () => {
    let runs = 0
    let release!: () => void
    const started: number[] = []
    const work = new Coalesced(async () => {
      started.push(++runs)
      if (runs === 1) await new Promise<void>((resolve) => (release = resolve))
    })
    const first = work.request()
    const during = [work.request(), work.request(), work.request()]
    expect(runs).toBe(1)
    release()
    await Promise.all([first, ...during])
    expect(started).toEqual([1, 2])
    expect(work.running).toBeNull()
    await work.request()
    expect(runs).toBe(3)
  })

  it('rejects the requests a failed run was serving, and runs again on the next request', async () => {
    let fail = true
    let runs = 0
    const work = new Coalesced(async () => {
      runs++
      if (fail) throw new Error('disk')
    })
    await expect(work.request()).rejects.toThrow('disk')
    fail = false
    await work.request()
    expect(runs).toBe(2)
  })
})
