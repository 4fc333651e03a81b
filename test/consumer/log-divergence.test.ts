import fs from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { readBatchHeader } from '../../src/record/batch-decoder.js'
import { offsetFileStem } from '../../src/storage/paths.js'
import { openTestSpool } from '../helpers/open-spool.js'
import { tempDir } from '../helpers/temp-dir.js'

/** The data directory as a power cut leaves it: copied while open, the log cut back to the first `keep` batches. */
function powerCutImage(dir: string, keep: number): string {
  const image = tempDir('spool-divergence-')
  fs.cpSync(dir, image, { recursive: true })
  fs.rmSync(path.join(image, '.lock'), { force: true }) // the lock dies with the writer
  const log = path.join(image, 'events-0', offsetFileStem(0) + '.log')
  const bytes = fs.readFileSync(log)
  let end = 0
  for (let batch = 0; batch < keep; batch++) end += readBatchHeader(bytes, end).sizeBytes
  fs.truncateSync(log, end)
  return image
}

/**
 * Defect 5 of issue 12: under flush 'never', a group can commit past records that a
 * power cut then takes away; new records reuse those offsets. The group must notice (the
 * log's epochs) and resume at the first reused offset — never skip the new records.
 */
describe('a group whose committed offset a crash made point past reused offsets', () => {
  it('resumes at the first reused offset and gets every new record', async () => {
    const dir = tempDir()
    const spool = await openTestSpool(dir, { flush: 'never' })
    await spool.createTopic('events')
    const producer = spool.producer()
    for (let i = 0; i < 10; i++) await producer.send({ topic: 'events', partition: 0, value: `old-${i}` })
    const consumer = spool.consumer({ group: 'g', topics: ['events'], autoCommit: false })
    expect((await consumer.poll({ maxRecords: 10 })).length).toBe(10)
    await consumer.poll({ timeoutMs: 0 }) // the first ten count as processed
    await consumer.commit()
    await consumer.close()
    // The power cut: the group's commit (synced) survives; the log's last five records (never fsynced) do not.
    const image = powerCutImage(dir, 5)
    await spool.close()

    const reopened = await openTestSpool(image, { flush: 'never' })
    const again = reopened.producer()
    for (let i = 0; i < 5; i++) expect((await again.send({ topic: 'events', partition: 0, value: `new-${i}` })).offset).toBe(5 + i)
    const warnings: string[] = []
    await reopened.close()
    const withLogger = await openTestSpool(image, { flush: 'never', logger: { warn: (m) => warnings.push(m) } })
    const resumed = withLogger.consumer({ group: 'g', topics: ['events'] })
    const records = await resumed.poll({ maxRecords: 10 })
    expect(records.map((r) => [r.offset, r.value?.toString()])).toEqual([0, 1, 2, 3, 4].map((i) => [5 + i, `new-${i}`]))
    expect(warnings.some((w) => w.includes('resuming at 5'))).toBe(true)
    await resumed.close()
    await withLogger.close()
  })
})
