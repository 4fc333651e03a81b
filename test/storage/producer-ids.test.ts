import fs from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { createDirectoryDurably } from '../../src/storage/atomic-file.js'
import { nodeIO } from '../../src/storage/io.js'
import { FIRST_PRODUCER_ID, PRODUCER_IDS_FILE, PRODUCER_ID_BLOCK_SIZE, ProducerIdAllocator } from '../../src/storage/producer-ids.js'
import { expectCode } from '../helpers/expect-code.js'
import { tempDir } from '../helpers/temp-dir.js'
import { Random } from '../sim/random.js'
import { SimDisk } from '../sim/sim-disk.js'

async function allocateMany(allocator: ProducerIdAllocator, count: number): Promise<number[]> {
  const ids: number[] = []
  for (let i = 0; i < count; i++) ids.push(await allocator.allocate())
  return ids
}

function expectUnique(ids: number[]): void {
  expect(new Set(ids).size).toBe(ids.length)
}

describe('producer id allocation', () => {
  it('starts at FIRST_PRODUCER_ID and never repeats an id across reopens', async () => {
    const dir = tempDir()
    const first = await ProducerIdAllocator.open(dir, nodeIO)
    const ids = await allocateMany(first, PRODUCER_ID_BLOCK_SIZE + 5) // crosses a block
    expect(ids[0]).toBe(FIRST_PRODUCER_ID)
    expect(ids).toEqual(ids.map((_, i) => FIRST_PRODUCER_ID + i))
    for (let reopen = 0; reopen < 3; reopen++) {
      const again = await ProducerIdAllocator.open(dir, nodeIO)
      const more = await allocateMany(again, 10)
      expect(Math.min(...more)).toBeGreaterThan(Math.max(...ids))
      ids.push(...more)
    }
    expectUnique(ids)
    // A reopen skips at most the rest of a block.
    expect(ids.at(-1)! - ids[0]!).toBeLessThan(5 * PRODUCER_ID_BLOCK_SIZE)
  })

  it('an allocator opened while another still holds part of a block gives only larger ids', async () => {
    const dir = tempDir()
    const crashed = await ProducerIdAllocator.open(dir, nodeIO)
    const before = await allocateMany(crashed, 17) // the rest of its block is only in its memory
    const after = await allocateMany(await ProducerIdAllocator.open(dir, nodeIO), 17)
    expect(Math.min(...after)).toBeGreaterThan(Math.max(...before))
  })

  it('gives distinct ids to concurrent calls, reserving each block once', async () => {
    const dir = tempDir()
    const allocator = await ProducerIdAllocator.open(dir, nodeIO)
    let renames = 0
    const io = { ...nodeIO, rename: (from: string, to: string) => (renames++, nodeIO.rename(from, to)) }
    const counted = await ProducerIdAllocator.open(tempDir(), io)
    const ids = await Promise.all(Array.from({ length: 2 * PRODUCER_ID_BLOCK_SIZE + 50 }, () => counted.allocate()))
    expectUnique(ids)
    expect(renames).toBe(3)
    expect([...ids].sort((a, b) => a - b)).toEqual(ids.map((_, i) => FIRST_PRODUCER_ID + i))
    expectUnique(await Promise.all(Array.from({ length: 100 }, () => allocator.allocate())))
  })

  it('hands out nothing from a block whose reservation failed, and retries it', async () => {
    const dir = tempDir()
    let failures = 1
    const io = {
      ...nodeIO,
      fsync: (fd: number) => (failures-- > 0 ? Promise.reject(Object.assign(new Error('EIO'), { code: 'EIO' })) : nodeIO.fsync(fd)),
    }
    const allocator = await ProducerIdAllocator.open(dir, io)
    await expectCode(allocator.allocate(), 'IO_ERROR')
    expect(await allocator.allocate()).toBe(FIRST_PRODUCER_ID)
  })

  it('refuses a damaged id file rather than guess where to start', async () => {
    const dir = tempDir()
    fs.writeFileSync(path.join(dir, PRODUCER_IDS_FILE), '{"version":1,"nextBlock')
    await expectCode(ProducerIdAllocator.open(dir, nodeIO), 'CORRUPT_CATALOG')
    fs.writeFileSync(path.join(dir, PRODUCER_IDS_FILE), '{"version":1,"nextBlockStart":-4}')
    await expectCode(ProducerIdAllocator.open(dir, nodeIO), 'CORRUPT_CATALOG')
  })

  it('never repeats an id across power cuts, whenever the power goes', async () => {
    for (let seed = 1; seed <= 40; seed++) {
      const random = new Random(seed)
      const disk = new SimDisk({ random })
      await createDirectoryDurably(disk.io(), '/data')
      const handedOut: number[] = []
      for (let boot = 0; boot < 4; boot++) {
        const allocator = await ProducerIdAllocator.open('/data', disk.io())
        disk.dieAfter(random.int(40))
        // Concurrent callers, some of them cut off by the power going out mid-reservation.
        const results = await Promise.allSettled(Array.from({ length: random.between(1, 3 * PRODUCER_ID_BLOCK_SIZE) }, () => allocator.allocate()))
        const ids = results.flatMap((result) => (result.status === 'fulfilled' ? [result.value] : []))
        if (ids.length > 0 && handedOut.length > 0) expect(Math.min(...ids)).toBeGreaterThan(Math.max(...handedOut))
        handedOut.push(...ids)
        disk.powerCut()
      }
      const last = await ProducerIdAllocator.open('/data', disk.io())
      handedOut.push(...(await allocateMany(last, 3)))
      expectUnique(handedOut)
    }
  })
})
