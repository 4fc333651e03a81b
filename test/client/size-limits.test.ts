import { describe, expect, it } from 'vitest'
import { DEFAULT_MAX_BATCH_BYTES, MAX_RECORD_BYTES } from '../../src/limits.js'
import { expectCode } from '../helpers/expect-code.js'
import { openTestSpool } from '../helpers/open-spool.js'
import { tempDir } from '../helpers/temp-dir.js'

const MiB = 1024 * 1024

/**
 * Issue 13, defect 10: a topic accepted maxRecordBytes up to 2 GiB while the log refused
 * batches over 16 MiB, and a producer's maxBatchBytes of 64 MiB made 40 sends of 512 KiB
 * fail together. Every size limit now derives from the log's batch limit.
 */
describe('size limits', () => {
  it('a topic refuses a maxRecordBytes its log could never take, and takes the largest one it allows', async () => {
    const spool = await openTestSpool(tempDir(), { flush: 'never' })
    const error = await expectCode(spool.createTopic('big', { maxRecordBytes: 32 * MiB }), 'INVALID_ARGUMENT')
    expect(error.message).toContain('maxRecordBytes')
    await spool.createTopic('big', { maxRecordBytes: MAX_RECORD_BYTES })
    const { offset } = await spool.producer().send({ topic: 'big', value: Buffer.alloc(MAX_RECORD_BYTES) })
    expect(offset).toBe(0)
    await spool.close()
  })

  it('a producer batch larger than the log takes is cut, so every send succeeds; a bad send fails alone', async () => {
    const spool = await openTestSpool(tempDir(), { flush: 'never' })
    await spool.createTopic('t', { maxRecordBytes: MiB })
    const producer = spool.producer({ maxBatchBytes: 4 * DEFAULT_MAX_BATCH_BYTES, lingerMs: 10_000 })
    const sends = Array.from({ length: 40 }, () => producer.send({ topic: 't', partition: 0, value: Buffer.alloc(512 * 1024) }))
    const tooBig = producer.send({ topic: 't', partition: 0, value: Buffer.alloc(MiB + 1) })
    await expectCode(tooBig, 'RECORD_TOO_LARGE')
    await producer.flush()
    const offsets = (await Promise.all(sends)).map((r) => r.offset)
    expect(offsets).toEqual(Array.from({ length: 40 }, (_, i) => i))
    await spool.close()
  })
})
