import fs from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { isSpoolError } from '../../src/errors.js'
import { BATCH_LOG_OVERHEAD_BYTES, OFFSET_BATCH_LENGTH } from '../../src/record/batch-format.js'
import { SYNC_TAIL_READ_MAX_BYTES } from '../../src/limits.js'
import { type StorageIO, nodeIO } from '../../src/storage/io.js'
import { expectCode } from '../helpers/expect-code.js'
import { openLog } from '../helpers/open-log.js'
import { readAll } from '../helpers/read-all.js'
import { batchOf, plain } from '../helpers/records.js'
import { tempDir } from '../helpers/temp-dir.js'

/** Reads larger than this go through the thread pool, and sequential ones read ahead. */
const CHUNK_BYTES = SYNC_TAIL_READ_MAX_BYTES + 16 * 1024
const BATCHES = 60

/** The real file system, recording the position of each thread-pool read; the `failNth` one fails with EIO. */
function recordingIO(failNth = 0): StorageIO & { positions: number[] } {
  const positions: number[] = []
  return {
    ...nodeIO,
    positions,
    read: (fd, buffer, offset, length, position) => {
      positions.push(position)
      if (positions.length === failNth) return Promise.reject(Object.assign(new Error('EIO: injected'), { code: 'EIO' }))
      return nodeIO.read(fd, buffer, offset, length, position)
    },
  }
}

async function logOfManyChunks(io: StorageIO) {
  const log = await openLog(tempDir(), { io })
  const written = []
  for (let b = 0; b < BATCHES; b++) {
    const batch = batchOf(b * 4, 4, 1000)
    written.push(...batch)
    await log.append(batch)
  }
  return { log, written }
}

describe('sequential reads read the next chunk ahead', () => {
  it('serve each chunk after the first from the read started ahead of it, and every record once, in order', async () => {
    const io = recordingIO()
    const { log, written } = await logOfManyChunks(io)
    const first = await log.read(0, { maxBytes: CHUNK_BYTES })
    expect(io.positions, 'the first chunk, and the next one ahead').toHaveLength(2)
    const ahead = io.positions[1]!
    const second = await log.read(first.nextOffset, { maxBytes: CHUNK_BYTES })
    expect(second.records[0]!.offset).toBe(first.nextOffset)
    expect(io.positions, 'the second chunk came from its read ahead; the third is being read ahead').toHaveLength(3)
    expect(io.positions.filter((p) => p === ahead)).toHaveLength(1)
    const records = [...first.records, ...second.records, ...(await readAll(log, second.nextOffset, CHUNK_BYTES))]
    expect(records.map((r) => r.offset)).toEqual(written.map((_, i) => i))
    expect(records.map(plain)).toEqual(written.map(plain))
    expect(new Set(io.positions).size, 'no chunk read twice').toBe(io.positions.length)
    await log.close()
  })

  it('read the chunk again when its read ahead failed, so a passing failure is no error', async () => {
    const io = recordingIO(2) // the first chunk's read ahead
    const { log, written } = await logOfManyChunks(io)
    const records = await readAll(log, 0, CHUNK_BYTES)
    expect(records.map(plain)).toEqual(written.map(plain))
    const ahead = io.positions[1]!
    expect(io.positions.filter((p) => p === ahead), 'read ahead (failed), then read again').toHaveLength(2)
    await log.close()
  })

  it('report a chunk whose read fails again as IO_ERROR', async () => {
    const io = recordingIO()
    const { log } = await logOfManyChunks(io)
    const first = await log.read(0, { maxBytes: CHUNK_BYTES })
    // From here every thread-pool read fails: the third chunk's read ahead, and its read again.
    io.read = () => Promise.reject(Object.assign(new Error('EIO: injected'), { code: 'EIO' }))
    const second = await log.read(first.nextOffset, { maxBytes: CHUNK_BYTES }) // read ahead before the failures began
    expect(second.records.length).toBeGreaterThan(0)
    await expectCode(log.read(second.nextOffset, { maxBytes: CHUNK_BYTES }), 'IO_ERROR')
    await log.close()
  })
})

describe('reading stored batches ahead (what a Fetch serves)', () => {
  /** Batches of `records` 1,000-byte records each, written one by one. */
  async function logOf(io: StorageIO, dir: string, sizes: readonly number[]) {
    const log = await openLog(dir, { io })
    let next = 0
    for (const records of sizes) {
      await log.append(batchOf(next, records, 1000))
      next += records
    }
    return log
  }

  it('a batch over the budget is followed by a read ahead that holds the next one whole: none read twice', async () => {
    const io = recordingIO()
    // Each batch ~1.5 chunks: a budget's worth of read ahead would end inside the next batch.
    const log = await logOf(io, tempDir(), Array.from({ length: 8 }, () => Math.ceil((CHUNK_BYTES * 1.5) / 1000)))
    let offset = 0
    let batches = 0
    while (offset < log.endOffset) {
      const read = await log.readBatchBytes(offset, CHUNK_BYTES)
      expect(read.chunks, 'one batch a read: each is over the budget').toHaveLength(1)
      offset = read.nextOffset
      batches++
    }
    expect(batches).toBe(8)
    const [first, again, ...rest] = io.positions
    expect(again, 'the first batch: nothing was ahead of it, so a budget, then the batch whole').toBe(first)
    expect(new Set(rest).size, 'after it, no position read twice (a short read ahead, then the whole batch again)').toBe(rest.length)
    expect(rest).toHaveLength(7)
    await log.close()
  })

  it('past the first batch, a read takes no batch over what is left of its budget, however long the read ahead it took', async () => {
    const io = recordingIO()
    const big = Math.ceil((CHUNK_BYTES * 3) / 1000)
    // A big batch, so the read ahead after it is long; then batches of a third of the budget.
    const sizes = [big, ...Array.from({ length: 20 }, () => Math.ceil(CHUNK_BYTES / 3000))]
    const log = await logOf(io, tempDir(), sizes)
    let offset = (await log.readBatchBytes(0, CHUNK_BYTES)).nextOffset
    expect(offset).toBe(big)
    while (offset < log.endOffset) {
      const read = await log.readBatchBytes(offset, CHUNK_BYTES)
      if (read.chunks.length > 1) expect(read.bytes).toBeLessThanOrEqual(CHUNK_BYTES)
      offset = read.nextOffset
    }
    await log.close()
  })

  it('a corrupt batch inside a chunk read ahead is never served: CORRUPT_BATCH when reached', async () => {
    const dir = tempDir()
    const sizes = Array.from({ length: 12 }, () => Math.ceil(CHUNK_BYTES / 4000))
    const writing = await logOf(nodeIO, dir, sizes)
    await writing.close()
    // Damage the 9th batch's payload: well inside the second or third chunk, each read ahead.
    const file = path.join(dir, '00000000000000000000.log')
    const bytes = fs.readFileSync(file)
    let position = 0
    for (let b = 0; b < 8; b++) position += BATCH_LOG_OVERHEAD_BYTES + bytes.readInt32BE(position + OFFSET_BATCH_LENGTH)
    bytes[position + 200] = bytes[position + 200]! ^ 0x01
    fs.writeFileSync(file, bytes)
    const firstDamaged = sizes.slice(0, 8).reduce((a, b) => a + b, 0)

    const io = recordingIO()
    const log = await openLog(dir, { io })
    let offset = 0
    let reads = 0
    const served: number[] = []
    const failure = await (async () => {
      try {
        while (offset < log.endOffset) {
          const read = await log.readBatchBytes(offset, CHUNK_BYTES)
          for (const chunk of read.chunks) served.push(Number(chunk.readBigInt64BE(0)))
          offset = read.nextOffset
          reads++
        }
      } catch (error) {
        return error
      }
      return null
    })()
    expect(reads, 'the damaged batch was reached through a read ahead').toBeGreaterThan(1)
    expect(served.every((base) => base < firstDamaged), 'nothing from the damaged batch on').toBe(true)
    expect(served.at(-1)).toBe(firstDamaged - sizes[7]!)
    expect(isSpoolError(failure, 'CORRUPT_BATCH')).toBe(true)
    await log.close()
  })
})
