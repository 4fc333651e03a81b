import fs from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { offsetFileStem } from '../../src/storage/paths.js'
import { heldIO } from '../helpers/held-io.js'
import { openLog } from '../helpers/open-log.js'
import { batchOf } from '../helpers/records.js'
import { tempDir } from '../helpers/temp-dir.js'

/**
 * Defect 2 of issue 12: flush() recorded as flushed the bytes appended while its fsync
 * ran, so the roll that followed sealed a segment whose tail no fsync had covered. A
 * sealed segment must be durable whole: recovery never scans it again, and damage in it
 * is refused as corruption, not truncated as a torn tail.
 */
describe('flush() and the bytes appended while it runs', () => {
  it('a segment sealed after a flush that overlapped appends was fsynced to its last byte', async () => {
    const io = heldIO()
    const dir = tempDir()
    const log = await openLog(dir, { io, flush: 'never', segmentBytes: 400 })
    await log.append(batchOf(0, 3))
    const held = io.hold('fdatasync', '.log')
    const flushed = log.flush()
    await held.entered.catch(() => undefined)
    // Appended while flush()'s fsync is in flight (or queued behind it).
    const during = log.append(batchOf(3, 3))
    held.release()
    await Promise.all([flushed, during])
    // The next append does not fit: the first segment is sealed now.
    expect(log.segmentCount).toBe(1)
    await log.append(batchOf(6, 3))
    expect(log.segmentCount).toBe(2)
    const first = path.join(dir, offsetFileStem(0) + '.log')
    const size = fs.statSync(first).size
    const covered = io.events
      .filter((event) => event.startsWith(`fdatasync ${first} `))
      .map((event) => Number(event.slice(event.lastIndexOf(' ') + 1)))
    expect(Math.max(0, ...covered)).toBe(size)
    await log.close()
  })
})
