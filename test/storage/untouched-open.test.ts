import { describe, expect, it } from 'vitest'
import { countingIO } from '../helpers/counting-io.js'
import { openLog } from '../helpers/open-log.js'
import { readAll } from '../helpers/read-all.js'
import { batchOf } from '../helpers/records.js'
import { tempDir } from '../helpers/temp-dir.js'

/**
 * Issue 13, defect 11: opening and closing cost about 9 fsyncs per partition, so a
 * directory with 1,000 partitions took 17–31 s to open, send one record and close. A
 * partition that was shut down cleanly and is only read must cost no write at all.
 */
describe('a cleanly closed partition opened and closed without an append', () => {
  it('writes nothing and fsyncs nothing, even when it is read', async () => {
    const dir = tempDir()
    const first = await openLog(dir, { segmentBytes: 400 })
    for (let i = 0; i < 10; i++) await first.append(batchOf(i * 2, 2))
    await first.close()

    const io = countingIO()
    const log = await openLog(dir, { io, segmentBytes: 400 })
    expect((await readAll(log)).length).toBe(20)
    await log.close()
    // (The only write is the lock's owner name, `.lock`, which is not data and never fsynced.)
    const writes = io.count('writev') - io.count('writev', '/.lock')
    expect({ fsync: io.count('fsync'), fdatasync: io.count('fdatasync'), writev: writes, rename: io.count('rename') }).toEqual({
      fsync: 0,
      fdatasync: 0,
      writev: 0,
      rename: 0,
    })
    // And it reopens cleanly with everything there.
    const again = await openLog(dir)
    expect((await readAll(again)).length).toBe(20)
    await again.close()
  })
})
