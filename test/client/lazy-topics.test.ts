import { describe, expect, it } from 'vitest'
import { countingIO } from '../helpers/counting-io.js'
import { openTestSpool } from '../helpers/open-spool.js'
import { tempDir } from '../helpers/temp-dir.js'

/**
 * Issue 13, defect 11: the cost of opening and closing a spool must grow with the
 * partitions used, not with the partitions that exist. A topic's partitions are opened
 * on its first use: a command that writes one topic does not touch the others' files.
 */
describe('a topic nobody uses costs nothing at open and close', () => {
  it('sending to one topic opens none of another topic\'s partitions, and order holds across the first open', async () => {
    const dir = tempDir()
    const first = await openTestSpool(dir)
    await first.createTopic('many', { partitions: 50 })
    await first.createTopic('keep', { partitions: 2 })
    await first.producer().send({ topic: 'many', partition: 7, value: 'x' })
    await first.close()

    const io = countingIO()
    const spool = await openTestSpool(dir, { io })
    // Sends made together before the topic is open keep their order and share its first open.
    const producer = spool.producer()
    const sends = Array.from({ length: 20 }, (_, i) => producer.send({ topic: 'keep', partition: 0, value: `v${i}` }))
    expect((await Promise.all(sends)).map((r) => r.offset)).toEqual(Array.from({ length: 20 }, (_, i) => i))
    await spool.close()
    expect(io.count('open', '/many-')).toBe(0)
    expect(io.count('readdir', '/many-')).toBe(0)

    // Used later, the idle topic opens then, whole.
    const again = await openTestSpool(dir)
    expect((await again.describeTopic('many')).partitions[7]!.endOffset).toBe(1)
    const values: string[] = []
    for await (const record of again.read('keep', { partition: 0 })) values.push(record.value!.toString())
    expect(values).toEqual(Array.from({ length: 20 }, (_, i) => `v${i}`))
    await again.close()
  })
})
