import { describe, expect, it } from 'vitest'
import { countingIO } from '../helpers/counting-io.js'
import { expectCode } from '../helpers/expect-code.js'
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

describe("a producer's flush() and close()", () => {
  it('flush() writes the sends made before it that still waited for their topic to open', async () => {
    const dir = tempDir()
    const first = await openTestSpool(dir)
    await first.createTopic('later', { flush: 'never' })
    await first.close()
    const spool = await openTestSpool(dir)
    const producer = spool.producer({ lingerMs: 60_000 }) // only a flush writes it
    const sent = producer.send({ topic: 'later', value: 'waited' })
    await producer.flush()
    const values: string[] = []
    for await (const record of spool.read('later', { partition: 0 })) values.push(record.value!.toString())
    expect(values).toEqual(['waited'])
    expect((await sent).offset).toBe(0)
    await producer.close()
    await spool.close()
  })

  it('close() writes the sends made before it that still waited for their topic to open, and refuses those after it', async () => {
    const dir = tempDir()
    const first = await openTestSpool(dir)
    await first.createTopic('later', { partitions: 2, flush: 'never' })
    await first.close()

    const spool = await openTestSpool(dir)
    const producer = spool.producer({ lingerMs: 60_000 }) // only close() writes them: no timer races the check
    // Not open yet in this spool: each send waits for the first open, one sendBatch among them.
    const a = producer.send({ topic: 'later', partition: 0, value: 'a' })
    const bc = producer.sendBatch([
      { topic: 'later', partition: 1, value: 'b' },
      { topic: 'later', partition: 0, value: 'c' },
    ])
    const d = producer.send({ topic: 'later', partition: 1, value: 'd' })
    await producer.close()
    // Written when close() resolves, not a linger later.
    for (const partition of [0, 1]) {
      const values: string[] = []
      for await (const record of spool.read('later', { partition })) values.push(record.value!.toString())
      expect(values).toEqual(partition === 0 ? ['a', 'c'] : ['b', 'd'])
    }
    const [b, c] = await bc
    expect([(await a).offset, c!.offset, b!.offset, (await d).offset]).toEqual([0, 1, 0, 1])
    await expectCode(producer.send({ topic: 'later', value: 'after' }), 'CLOSED')
    await expectCode(producer.sendBatch([{ topic: 'later', value: 'after' }]), 'CLOSED')
    await spool.close()
  })
})
