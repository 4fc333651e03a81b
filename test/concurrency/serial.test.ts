import { describe, expect, it } from 'vitest'
import { Serial } from '../../src/concurrency/serial.js'

function deferred(): { promise: Promise<void>; resolve: () => void; reject: (error: Error) => void } {
  let resolve!: () => void
  let reject!: (error: Error) => void
  const promise = new Promise<void>((res, rej) => {
    resolve = res
    reject = rej
  })
  return { promise, resolve, reject }
}

describe('Serial', () => {
  it('runs tasks one at a time, in the order given, each with its own outcome', async () => {
    const serial = new Serial()
    const log: string[] = []
    const first = deferred()
    const a = serial.run(async () => {
      log.push('a start')
      await first.promise
      log.push('a end')
      return 'a'
    })
    const b = serial.run(async () => {
      log.push('b')
      throw new Error('b failed')
    })
    const c = serial.run(async () => {
      log.push('c')
      return 'c'
    })
    expect(serial.busy).toBe(true)
    await Promise.resolve()
    expect(log).toEqual(['a start'])
    first.resolve()
    expect(await a).toBe('a')
    await expect(b).rejects.toThrow('b failed')
    expect(await c).toBe('c')
    expect(log).toEqual(['a start', 'a end', 'b', 'c'])
    await serial.drained()
    expect(serial.busy).toBe(false)
  })

  it('drained() waits for tasks given while it waits', async () => {
    const serial = new Serial()
    const gate = deferred()
    let ran = 0
    void serial.run(async () => {
      await gate.promise
      ran++
      void serial.run(async () => {
        ran++
      })
    })
    const drained = serial.drained()
    gate.resolve()
    await drained
    expect(ran).toBe(2)
  })
})
