import { describe, expect, it } from 'vitest'
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
