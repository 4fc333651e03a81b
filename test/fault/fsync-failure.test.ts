import { describe, expect, it } from 'vitest'
import { expectCode } from '../helpers/expect-code.js'
import { heldIO } from '../helpers/held-io.js'
import { openLog } from '../helpers/open-log.js'
import { batchOf } from '../helpers/records.js'
import { tempDir } from '../helpers/temp-dir.js'

/**
 * Defect 1 of issue 12: Linux reports a writeback error once per file description, so
 * when two fdatasyncs of one file overlap and the first fails, the second can return 0
 * although the pages it should have covered were dropped. An append must never be
 * acknowledged on such a success.
 */
describe('a failed fsync of the active segment', () => {
  it('fails the appends whose fsync overlapped it, though their own fsync would have returned 0', async () => {
    const io = heldIO()
    const log = await openLog(tempDir(), { io, flush: 'always' })
    await log.append(batchOf(0, 2))
    // Hold the second fdatasync of the segment from now, and then fail it.
    const held = io.hold('fdatasync', '.log', 2)
    const first = log.append(batchOf(2, 2))
    // A checkpoint (retention runs one first) wants the same bytes durable while the
    // writer's fdatasync is in flight: the old code made a second fdatasync of its own.
    const retention = log.applyRetention({}).catch((error: unknown) => error)
    await first
    // The next append's fdatasync, if it is not the held one, returns 0...
    const second = log.append(batchOf(4, 2))
    await held.entered
    // ...but the held one reports the writeback error: the second append must not be acknowledged.
    held.release('EIO')
    await expectCode(second, 'PARTITION_FAILED')
    await retention
    await expectCode(log.append(batchOf(6, 1)), 'PARTITION_FAILED')
    expect(log.endOffset).toBe(4)
    await log.close()
  })

  it('under the interval policy, a failed timer fsync stops acknowledging appends until reopen', async () => {
    const io = heldIO()
    let tick = (): void => undefined
    const scheduler = {
      every: (ms: number, task: () => void) => {
        if (ms === 1_000) tick = task
        return () => undefined
      },
    }
    const dir = tempDir()
    const log = await openLog(dir, { io, flush: { intervalMs: 1_000 }, scheduler })
    await log.append(batchOf(0, 2))
    const held = io.hold('fdatasync', '.log')
    tick()
    await held.entered
    held.release('EIO')
    await expectCode(log.flush(), 'PARTITION_FAILED')
    await expectCode(log.append(batchOf(2, 1)), 'PARTITION_FAILED')
    await log.close()
    // The two records no fsync covered were cut back off the file (the disk may never get
    // them; the page cache must not vouch for them): the log reopens at the last fsynced byte.
    const reopened = await openLog(dir)
    expect(reopened.endOffset).toBe(0)
    expect(await reopened.append(batchOf(2, 1))).toEqual({ baseOffset: 0, lastOffset: 0 })
    await reopened.close()
  })
})
