import { describe, expect, it } from 'vitest'
import { ARENA_SLAB_BYTES } from '../../src/record/batch-arena.js'
import { openTestSpool } from '../helpers/open-spool.js'
import { tempDir } from '../helpers/temp-dir.js'

const PARTITIONS = 200
const MiB = 1024 * 1024

describe('encoded batches: one arena for the process', () => {
  it(`a spool whose ${PARTITIONS} partitions were each written once holds a few slabs of buffers, not one a partition`, async () => {
    const spool = await openTestSpool(tempDir(), { flush: 'never' })
    await spool.createTopic('wide', { partitions: PARTITIONS })
    const producer = spool.producer()
    global.gc?.()
    const before = process.memoryUsage().arrayBuffers
    for (let partition = 0; partition < PARTITIONS; partition++) await producer.send({ topic: 'wide', partition, value: `record of ${partition}` })
    const grown = process.memoryUsage().arrayBuffers - before
    // A slab a writer came to 200 × 4 MiB = 800 MiB here (allocated, untouched, but held).
    expect(grown).toBeLessThan(4 * ARENA_SLAB_BYTES + 16 * MiB)
    for (let partition = 0; partition < PARTITIONS; partition += 37) {
      const [record] = await collectOne(spool, partition)
      expect(record).toBe(`record of ${partition}`)
    }
    await spool.close()
  })
})

async function collectOne(spool: Awaited<ReturnType<typeof openTestSpool>>, partition: number): Promise<string[]> {
  for await (const record of spool.read('wide', { partition })) return [String(record.value)]
  return []
}
