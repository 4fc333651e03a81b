import path from 'node:path'
import { describe, expect, it } from 'vitest'
import type { TopicPartition } from '../../src/groups/assignors.js'
import { damage, layoutOf } from '../fault/damage.js'
import { Processed, eventually } from '../helpers/consume.js'
import { openTestSpool } from '../helpers/open-spool.js'
import { tempDir } from '../helpers/temp-dir.js'

const RECORDS = 120

/** Topic `events` of two partitions, each of several sealed segments (3 records a batch); a batch of partition 0 is damaged. */
async function dataDirWithDamage(): Promise<{ dir: string; damagedAt: number }> {
  const dir = tempDir()
  const spool = await openTestSpool(dir)
  await spool.createTopic('events', { partitions: 2, segmentBytes: 2048, indexIntervalBytes: 256 })
  const producer = spool.producer()
  for (let i = 0; i < RECORDS; i += 3) {
    for (const partition of [0, 1]) await producer.sendBatch([0, 1, 2].map((k) => ({ topic: 'events', partition, value: `v${i + k}` })))
  }
  await spool.close()
  const partitionDir = path.join(dir, 'events-0')
  const victim = layoutOf(partitionDir).filter((b) => b.segment === 1)[2]!
  damage(partitionDir, victim, 'a bit flip in a record')
  return { dir, damagedAt: victim.baseOffset }
}

describe('consumer groups: a damaged partition (contract 5)', () => {
  it("stops only that partition, once, naming the damage: the group's healthy partition is delivered in full", async () => {
    const { dir, damagedAt } = await dataDirWithDamage()
    const warnings: string[] = []
    const spool = await openTestSpool(dir, { logger: { warn: (message) => void warnings.push(message) } })
    const errors: [TopicPartition, string][] = []
    const consumer = spool.consumer({
      group: 'workers',
      topics: ['events'],
      maxPrefetchRecords: 10, // many reads, so the healthy partition is read long after the damage is met
      onPartitionError: (tp, error) => void errors.push([tp, error.code]),
    })
    const processed = new Processed()
    let failure: unknown = null
    const run = consumer.run({ eachRecord: (record) => processed.record(0, record) }).catch((error: unknown) => void (failure = error))
    const healthy = (): number => processed.all().filter((r) => r.startsWith('1:')).length
    await eventually(() => healthy() === RECORDS || failure !== null)
    expect(failure).toBe(null) // the consumer did not fail for one damaged partition

    const offsetsOf = (partition: number) => processed.all().filter((r) => r.startsWith(`${partition}:`)).map((r) => Number(r.split(':')[1]))
    expect(offsetsOf(1)).toEqual(Array.from({ length: RECORDS }, (_, offset) => offset)) // every healthy record, in order
    // Partition 0 stopped at the damage: what it delivered is a gapless prefix before it.
    const before = offsetsOf(0)
    expect(before).toEqual(Array.from({ length: before.length }, (_, offset) => offset))
    expect(before.length).toBeLessThanOrEqual(damagedAt)
    expect(errors).toEqual([[{ topic: 'events', partition: 0 }, 'CORRUPT_BATCH']]) // surfaced once
    expect(warnings.filter((w) => w.includes('stops reading this partition'))).toHaveLength(1)
    expect(consumer.assignment()).toHaveLength(2) // still a member, owning both

    await consumer.close()
    await run
    const committed = await (await spool.groups.coordinator()).fetchOffsets('workers')
    expect(committed.find((c) => c.partition === 0)!.offset).toBeLessThanOrEqual(damagedAt) // nothing skipped
    await spool.close()
  })
})
