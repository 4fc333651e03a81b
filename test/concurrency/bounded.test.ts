import { describe, expect, it } from 'vitest'
import { mapBounded } from '../../src/concurrency/bounded.js'

describe('mapBounded', () => {
  it('keeps at most `limit` running and returns the results in order', async () => {
    let running = 0
    let most = 0
    const results = await mapBounded(Array.from({ length: 20 }, (_, i) => i), 3, async (n) => {
      most = Math.max(most, ++running)
      await new Promise((resolve) => setImmediate(resolve))
      running--
      return n * 2
    })
    expect(results).toEqual(Array.from({ length: 20 }, (_, i) => i * 2))
    expect(most).toBe(3)
  })

  it('on a failure, lets the running calls finish, undoes what arrived, starts nothing more, and throws the first error', async () => {
    const started: number[] = []
    let undone: number[] = []
    const run = mapBounded(
      [0, 1, 2, 3, 4, 5],
      2,
      async (n) => {
        started.push(n)
        if (n === 1) throw new Error('one failed') // while 0 is still running
        await new Promise((resolve) => setImmediate(resolve))
        return n
      },
      async (done) => void (undone = [...done]),
    )
    await expect(run).rejects.toThrow('one failed')
    expect(started).toEqual([0, 1])
    expect(undone).toEqual([0])
  })
})
