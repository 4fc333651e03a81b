import fs from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { isSpoolError } from '../../src/errors.js'
import { expectCode } from '../helpers/expect-code.js'
import { faultyIO } from '../helpers/faulty-io.js'
import { openLog } from '../helpers/open-log.js'
import { openTestSpool } from '../helpers/open-spool.js'
import { readAll } from '../helpers/read-all.js'
import { batchOf, plain } from '../helpers/records.js'
import { tempDir } from '../helpers/temp-dir.js'

const LOG = '00000000000000000000.log'

describe('injected I/O faults: the failure policy', () => {
  for (const [errno, code] of [
    ['EIO', 'IO_ERROR'],
    ['ENOSPC', 'DISK_FULL'],
  ] as const) {
    it(`a failed write (${errno}) rejects with ${code}, leaves nothing of the batch, and the next append lands right`, async () => {
      const dir = tempDir()
      const io = faultyIO()
      const log = await openLog(dir, { io })
      await log.append(batchOf(0, 3))
      const size = fs.statSync(path.join(dir, LOG)).size
      io.arm({ op: 'writev', path: '.log', errno })
      const error = await expectCode(log.append(batchOf(3, 2)), code)
      expect(error.message).toContain(LOG)
      expect((error as unknown as { retriable: boolean }).retriable).toBe(true)
      expect(log.endOffset).toBe(3)
      expect(fs.statSync(path.join(dir, LOG)).size).toBe(size)
      expect(await log.append(batchOf(100, 2))).toEqual({ baseOffset: 3, lastOffset: 4 })
      await log.close()
      const reopened = await openLog(dir)
      expect((await readAll(reopened)).map(plain)).toEqual([...batchOf(0, 3), ...batchOf(100, 2)].map(plain))
      await reopened.close()
    })
  }

  it('a short write followed by a failure is cut back off the file: no part of the batch is ever visible', async () => {
    const dir = tempDir()
    const io = faultyIO()
    const log = await openLog(dir, { io })
    await log.append(batchOf(0, 2))
    const size = fs.statSync(path.join(dir, LOG)).size
    io.arm({ op: 'writev', path: '.log', errno: 'ENOSPC', shortBytes: 40 })
    await expectCode(log.append(batchOf(2, 5, 100)), 'DISK_FULL')
    expect(io.fired).toBe(2)
    expect(fs.statSync(path.join(dir, LOG)).size).toBe(size)
    expect((await readAll(log)).length).toBe(2)
    expect((await log.append(batchOf(50, 1))).baseOffset).toBe(2)
    await log.close()
    const reopened = await openLog(dir)
    expect((await readAll(reopened)).map((r) => r.offset)).toEqual([0, 1, 2])
    await reopened.close()
  })

  it('a failed fsync stops the partition (PARTITION_FAILED) until it is reopened, and reopening recovers from disk', async () => {
    const dir = tempDir()
    const io = faultyIO()
    const log = await openLog(dir, { io, flush: 'always' })
    await log.append(batchOf(0, 3))
    io.arm({ op: 'fdatasync', path: '.log', errno: 'EIO' })
    const failed = await expectCode(log.append(batchOf(3, 2)), 'PARTITION_FAILED')
    expect(isSpoolError(failed.cause)).toBe(false) // the OS error is kept as the cause
    expect((failed.cause as NodeJS.ErrnoException).code).toBe('EIO')
    await expectCode(log.append(batchOf(10, 1)), 'PARTITION_FAILED')
    expect(log.endOffset).toBe(3) // never acknowledged, never visible
    expect((await readAll(log)).length).toBe(3) // what was acknowledged is still served
    await log.close()
    const reopened = await openLog(dir)
    const records = await readAll(reopened)
    expect(records.slice(0, 3).map(plain)).toEqual(batchOf(0, 3).map(plain))
    expect(records.map((r) => r.offset)).toEqual(records.map((_, i) => i)) // contiguous, whatever landed
    const next = await reopened.append(batchOf(20, 1))
    expect(next.baseOffset).toBe(records.length)
    await reopened.close()
  })

  it('a failure while rolling to a new segment rejects the append; the directory reopens with every acknowledged record', async () => {
    const dir = tempDir()
    const io = faultyIO()
    const log = await openLog(dir, { io, segmentBytes: 600 })
    const written = []
    for (let i = 0; i < 6; i++) {
      await log.append(batchOf(i * 2, 2, 60))
      written.push(...batchOf(i * 2, 2, 60))
    }
    io.arm({ op: 'open', path: '.log', errno: 'ENOSPC' })
    let rejected = 0
    for (let i = 6; i < 12; i++) {
      try {
        await log.append(batchOf(i * 2, 2, 60))
        written.push(...batchOf(i * 2, 2, 60))
      } catch (error) {
        expect(isSpoolError(error, 'DISK_FULL')).toBe(true)
        rejected++
      }
    }
    expect(rejected).toBe(1)
    expect(log.segmentCount).toBeGreaterThan(1)
    await log.close()
    const reopened = await openLog(dir, { segmentBytes: 600 })
    expect((await readAll(reopened)).map(plain)).toEqual(written.map(plain))
    await reopened.close()
  })

  it('a failed recovery checkpoint is reported and appends go on; the directory reopens whole', async () => {
    const dir = tempDir()
    const io = faultyIO()
    const warnings: string[] = []
    const log = await openLog(dir, { io, segmentBytes: 600, logger: { warn: (m) => warnings.push(m) } })
    io.arm({ op: 'rename', path: 'recovery-point.json', errno: 'EIO' })
    for (let i = 0; i < 8; i++) await log.append(batchOf(i * 2, 2, 60))
    // Retention checkpoints first: once it has, the background checkpoints before it are done.
    await log.applyRetention({}).catch(() => undefined)
    expect(io.fired).toBe(1)
    expect(warnings.some((w) => w.includes('recovery checkpoint failed'))).toBe(true)
    await log.close()
    const reopened = await openLog(dir)
    expect((await readAll(reopened)).length).toBe(16)
    await reopened.close()
  })

  it('a failed catalog write rejects createTopic and leaves the catalog as it was', async () => {
    const dir = tempDir()
    const io = faultyIO()
    const spool = await openTestSpool(dir, { io })
    await spool.createTopic('kept')
    io.arm({ op: 'rename', path: 'topics.json', errno: 'ENOSPC' })
    await expectCode(spool.createTopic('lost'), 'DISK_FULL')
    expect(spool.listTopics()).toEqual(['kept'])
    await spool.createTopic('later')
    await spool.close()
    const again = await openTestSpool(dir)
    expect(again.listTopics()).toEqual(['kept', 'later'])
    await again.close()
  })
})
