import { Writable } from 'node:stream'
import { describe, expect, it } from 'vitest'
import { Progress } from '../../src/cli/progress.js'

function stream(isTTY: boolean): Writable & { isTTY: boolean; columns: number; text: string } {
  const out = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      out.text += chunk.toString()
      callback()
    },
  }) as Writable & { isTTY: boolean; columns: number; text: string }
  out.isTTY = isTTY
  out.columns = 60
  out.text = ''
  return out
}

describe('Progress', () => {
  it('draws a bar on a terminal, at most every 100 ms, always the last step, and clears it', async () => {
    const tty = stream(true)
    const clock = { ms: 0 }
    const progress = new Progress(tty, 'verifying', 4, () => clock.ms)
    progress.update(0, 'a')
    clock.ms = 50
    progress.update(1, 'b') // too soon: skipped
    clock.ms = 200
    progress.update(2, 'c')
    progress.update(4, 'd') // the last step is always drawn
    progress.done()
    await new Promise((resolve) => setImmediate(resolve))
    const draws = tty.text.split('\r').filter((line) => line.startsWith('verifying'))
    expect(draws.map((line) => line.replace('\x1b[K', ''))).toEqual([
      `verifying [${' '.repeat(24)}] 0/4 a`,
      `verifying [${'#'.repeat(12)}${' '.repeat(12)}] 2/4 c`,
      `verifying [${'#'.repeat(24)}] 4/4 d`,
    ])
    expect(tty.text.endsWith('\r\x1b[K')).toBe(true)
  })

  it('writes nothing when stderr is not a terminal', async () => {
    const pipe = stream(false)
    const progress = new Progress(pipe, 'verifying', 10)
    for (let i = 0; i <= 10; i++) progress.update(i)
    progress.done()
    await new Promise((resolve) => setImmediate(resolve))
    expect(pipe.text).toBe('')
  })
})
