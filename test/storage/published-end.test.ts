import fs from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { type StorageIO, nodeIO } from '../../src/storage/io.js'
import { PUBLISHED_END_FILE, segmentPaths } from '../../src/storage/paths.js'
import { type PublishedEnd, decodePublishedEnd, encodePublishedEnd } from '../../src/storage/published-end.js'
import { expectCode } from '../helpers/expect-code.js'
import { openLog } from '../helpers/open-log.js'
import { tempDir } from '../helpers/temp-dir.js'

const record = (i: number, bytes = 40): { key: Buffer; value: Buffer } => ({ key: Buffer.from(`k${i}`), value: Buffer.alloc(bytes, i % 256) })

/**
 * The real file system, watched: per file, how far it was written and how far a
 * completed fsync covered it (what was written before the fsync began); and every end
 * the writer published, with what the fsyncs covered of its segment at that moment.
 */
function syncTrackingIO(): { io: StorageIO; published: Array<{ end: PublishedEnd; synced: number; written: number }> } {
  const paths = new Map<number, string>()
  const written = new Map<string, number>()
  const synced = new Map<string, number>()
  const published: Array<{ end: PublishedEnd; synced: number; written: number }> = []
  const sync = async (fd: number, inner: (fd: number) => Promise<void>): Promise<void> => {
    const file = paths.get(fd) ?? ''
    const covers = written.get(file) ?? 0
    await inner(fd)
    synced.set(file, Math.max(synced.get(file) ?? 0, covers))
  }
  const io: StorageIO = {
    ...nodeIO,
    open: async (file, flags) => {
      const fd = await nodeIO.open(file, flags)
      paths.set(fd, file)
      if (!written.has(file)) written.set(file, fs.statSync(file).size)
      return fd
    },
    close: async (fd) => {
      paths.delete(fd)
      await nodeIO.close(fd)
    },
    writevSync: (fd, buffers, position) => {
      const file = paths.get(fd) ?? ''
      if (path.basename(file) === PUBLISHED_END_FILE) {
        const end = decodePublishedEnd(Buffer.concat(buffers))
        expect(end).not.toBeNull()
        const log = segmentPaths(path.dirname(file), end!.segmentBase).log
        published.push({ end: end!, synced: synced.get(log) ?? 0, written: written.get(log) ?? 0 })
      }
      const n = nodeIO.writevSync(fd, buffers, position)
      written.set(file, Math.max(written.get(file) ?? 0, position + n))
      return n
    },
    writev: async (fd, buffers, position) => {
      const n = await nodeIO.writev(fd, buffers, position)
      const file = paths.get(fd) ?? ''
      written.set(file, Math.max(written.get(file) ?? 0, position + n))
      return n
    },
    fdatasync: (fd) => sync(fd, nodeIO.fdatasync),
    fsync: (fd) => sync(fd, nodeIO.fsync),
  }
  return { io, published }
}

describe('the published end (readers in other processes read up to it)', () => {
  it("never runs ahead of what an fsync covered under flush 'always', across group commits and rolls", async () => {
    const dir = tempDir()
    const { io, published } = syncTrackingIO()
    const log = await openLog(dir, { io, flush: 'always', segmentBytes: 4096 })
    let next = 0
    for (let round = 0; round < 40; round++) {
      // Concurrent appends: written together while an fsync runs, made visible together.
      const batch = Array.from({ length: 1 + (round % 7) }, () => log.append([record(next++)]))
      await Promise.all(batch)
    }
    expect(log.segmentCount).toBeGreaterThan(3)
    await log.close()
    expect(published.length).toBeGreaterThan(10)
    for (const { end, synced } of published) expect(end.position).toBeLessThanOrEqual(synced)
    // In order, and up to the end.
    for (let i = 1; i < published.length; i++) expect(published[i]!.end.nextOffset).toBeGreaterThanOrEqual(published[i - 1]!.end.nextOffset)
    expect(published.at(-1)!.end.nextOffset).toBe(next)
    const onDisk = decodePublishedEnd(fs.readFileSync(path.join(dir, PUBLISHED_END_FILE)))!
    expect(onDisk).toEqual({ ...published.at(-1)!.end })
    expect(onDisk.position).toBe(fs.statSync(segmentPaths(dir, onDisk.segmentBase).log).size)
  })

  it("under 'never' it follows the writes (what the policy makes visible), at most one pwrite a millisecond, and the last end once the writer is idle", async () => {
    const dir = tempDir()
    const { io, published } = syncTrackingIO()
    const log = await openLog(dir, { io, flush: 'never' })
    const started = performance.now()
    for (let i = 0; i < 2_000; i++) await log.append([record(i)])
    const elapsedMs = performance.now() - started
    await new Promise((resolve) => setImmediate(resolve))
    for (const { end, written } of published) expect(end.position).toBeLessThanOrEqual(written)
    expect(published.length).toBeLessThanOrEqual(2 + Math.ceil(elapsedMs) + 1) // at open, then at most one a millisecond, then at idle
    expect(published.at(-1)!.end.nextOffset).toBe(2_000)
    // Appends that come apart are each published at once.
    for (let i = 0; i < 3; i++) {
      await new Promise((resolve) => setTimeout(resolve, 5))
      await log.append([record(i)])
      expect(published.at(-1)!.end.nextOffset).toBe(2_001 + i)
    }
    await log.close()
  })

  it('a partition opened after a clean shutdown publishes nothing until its first append', async () => {
    const dir = tempDir()
    const first = await openLog(dir)
    await first.append([record(0)])
    await first.close()
    const before = fs.statSync(path.join(dir, PUBLISHED_END_FILE)).mtimeMs
    fs.rmSync(path.join(dir, PUBLISHED_END_FILE))
    const idle = await openLog(dir)
    await idle.close()
    expect(fs.existsSync(path.join(dir, PUBLISHED_END_FILE))).toBe(false) // opening and closing writes nothing
    const again = await openLog(dir)
    await again.append([record(1)])
    await new Promise((resolve) => setImmediate(resolve)) // published once the writer is idle, if not at once
    expect(decodePublishedEnd(fs.readFileSync(path.join(dir, PUBLISHED_END_FILE)))).toMatchObject({ nextOffset: 2 })
    await again.close()
    expect(before).toBeGreaterThan(0)
  })

  it('recovery never trusts it: a damaged or lying published end changes nothing for a writer', async () => {
    const dir = tempDir()
    const log = await openLog(dir)
    for (let i = 0; i < 5; i++) await log.append([record(i)])
    await log.close()
    for (const contents of [Buffer.from('garbage'), encodePublishedEnd({ segmentBase: 0, position: 10, nextOffset: 1, epoch: 0 }), encodePublishedEnd({ segmentBase: 0, position: 1e6, nextOffset: 999, epoch: 7 })]) {
      fs.writeFileSync(path.join(dir, PUBLISHED_END_FILE), contents)
      const reopened = await openLog(dir)
      expect(reopened.endOffset).toBe(5)
      expect((await reopened.read(0)).records).toHaveLength(5)
      await reopened.close()
    }
  })

  it('a read-only open serves nothing past it (a group written but not yet fsynced), and ignores one that cannot be current', async () => {
    const dir = tempDir()
    const log = await openLog(dir)
    for (let i = 0; i < 5; i++) await log.append([record(i)])
    const file = path.join(dir, PUBLISHED_END_FILE)
    const atFive = { segmentBase: 0, position: log.segmentList.at(-1)!.sizeBytes, nextOffset: 5, epoch: log.epoch }
    await log.append([record(5)])
    await log.append([record(6)])
    await new Promise((resolve) => setImmediate(resolve)) // the writer's own publish (at idle) is done
    // As if the last two appends were written and their fsync still running: the writer published offset 5.
    fs.writeFileSync(file, encodePublishedEnd(atFive))
    const reader = await openLog(dir, { readOnly: true })
    expect(reader.endOffset).toBe(5)
    expect((await reader.read(0)).records.map((r) => r.offset)).toEqual([0, 1, 2, 3, 4])
    await reader.close()
    // Rolled, and not yet published into the new segment: nothing of it is served.
    await log.close()
    const rolling = await openLog(dir, { segmentBytes: 600 })
    while (rolling.segmentCount < 3) await rolling.append([record(9)])
    await new Promise((resolve) => setImmediate(resolve))
    const [, previous, last] = rolling.segmentList
    const endOfPrevious = { segmentBase: previous!.baseOffset, position: previous!.sizeBytes, nextOffset: last!.baseOffset, epoch: rolling.epoch }
    fs.writeFileSync(file, encodePublishedEnd(endOfPrevious))
    const afterRoll = await openLog(dir, { readOnly: true })
    expect(afterRoll.endOffset).toBe(last!.baseOffset)
    await afterRoll.close()
    // Naming a segment that is not there (stale, from another incarnation): the files decide.
    fs.writeFileSync(file, encodePublishedEnd({ segmentBase: 1000, position: 0, nextOffset: 1000, epoch: 0 }))
    const stale = await openLog(dir, { readOnly: true })
    expect(stale.endOffset).toBe(rolling.endOffset)
    await stale.close()
    await rolling.close()
  })
})

describe('a read-only log following a writer (log-follower.ts)', () => {
  it('is woken by the appends of a writer it shares nothing with but the files, across rolls, retention and idle periods', async () => {
    const dir = tempDir()
    const writer = await openLog(dir, { segmentBytes: 1024 })
    await writer.append([record(0)])
    const reader = await openLog(dir, { readOnly: true })
    expect(reader.endOffset).toBe(1)
    const seen: number[] = []
    const follow = (async () => {
      let offset = 0
      while (offset < 60) {
        if (offset >= reader.endOffset) {
          expect(await reader.waitForAppend(offset)).toBe(true)
          continue
        }
        const { records, nextOffset } = await reader.read(offset)
        for (const r of records) {
          seen.push(r.offset)
          expect(r.value).toEqual(record(r.offset).value)
        }
        offset = nextOffset
      }
    })()
    for (let i = 1; i < 60; i++) {
      await writer.append([record(i)])
      if (i % 20 === 0) await new Promise((resolve) => setTimeout(resolve, 50))
    }
    await follow
    expect(seen).toEqual(Array.from({ length: 60 }, (_, i) => i))
    expect(reader.segmentCount).toBe(writer.segmentCount)

    // Retention deletes sealed segments: the follower drops them from its head.
    const { deletedSegments } = await writer.applyRetention({ retentionBytes: 1500 })
    expect(deletedSegments).toBeGreaterThan(0)
    const waiting = reader.waitForAppend(60)
    await writer.append([record(60)])
    expect(await waiting).toBe(true)
    await expect.poll(() => reader.startOffset).toBe(writer.startOffset)
    await expectCode(reader.read(0), 'OFFSET_OUT_OF_RANGE')
    expect((await reader.read(60)).records.map((r) => r.offset)).toEqual([60])
    await reader.close()
    await writer.close()
  })

  it('follows by polling when no directory watch is available', async () => {
    const dir = tempDir()
    const { watch: _, ...withoutWatch } = nodeIO
    const writer = await openLog(dir)
    const reader = await openLog(dir, { readOnly: true, io: withoutWatch })
    const waiting = reader.waitForAppend(0)
    await writer.append([record(0)])
    expect(await waiting).toBe(true)
    expect((await reader.read(0)).records).toHaveLength(1)
    await reader.close()
    await writer.close()
  })

  it('stops with OFFSET_OUT_OF_RANGE when the writer publishes an end behind what it showed (records lost)', async () => {
    const dir = tempDir()
    const writer = await openLog(dir, { flush: 'never' })
    for (let i = 0; i < 3; i++) await writer.append([record(i)])
    await writer.close()
    const reader = await openLog(dir, { readOnly: true })
    expect(reader.endOffset).toBe(3)
    const waiting = reader.waitForAppend(3)
    fs.writeFileSync(path.join(dir, PUBLISHED_END_FILE), encodePublishedEnd({ segmentBase: 0, position: 0, nextOffset: 0, epoch: 1 }))
    await expectCode(waiting, 'OFFSET_OUT_OF_RANGE')
    await expectCode(reader.waitForAppend(3), 'OFFSET_OUT_OF_RANGE')
    await reader.close()
  })

  it('a wait ends (false) when the reader closes or the signal aborts, and leaves nothing running', async () => {
    const dir = tempDir()
    const writer = await openLog(dir)
    const reader = await openLog(dir, { readOnly: true })
    const controller = new AbortController()
    const aborted = reader.waitForAppend(0, controller.signal)
    controller.abort()
    expect(await aborted).toBe(false)
    const closing = reader.waitForAppend(0)
    await reader.close()
    expect(await closing).toBe(false)
    await writer.close()
  })
})
