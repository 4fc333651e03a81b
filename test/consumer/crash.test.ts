import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { Processed, everyRecord, produce } from '../helpers/consume.js'
import { runUntilKilled } from '../helpers/kill-child.js'
import { openTestSpool } from '../helpers/open-spool.js'
import { tempDir } from '../helpers/temp-dir.js'

const MEMBER = path.join(import.meta.dirname, '../fixtures/group-member.ts')
const RECORDS = 12_000
/** Records the member processes before it stops to be killed (test/fixtures/group-member.ts). */
const STALL_AT = 3_333

describe('consumer groups: at-least-once across a SIGKILL', () => {
  it('a member process killed mid-stream loses nothing: after restart the group resumes at its last commit', async () => {
    const dir = tempDir()
    let spool = await openTestSpool(dir)
    await spool.createTopic('orders', { partitions: 3 })
    await produce(spool.producer(), 'orders', RECORDS)
    const ends = (await spool.describeTopic('orders')).partitions.map((p) => p.endOffset)
    await spool.close()

    // The member processes STALL_AT records (after the group's first durable commit) and
    // waits there, mid-batch, to be killed: by its progress, not after a time that a
    // loaded machine would fill with less work.
    const lines = await runUntilKilled(MEMBER, [dir, String(STALL_AT)], 0, 'stalled')
    const done = lines.filter((line) => line.startsWith('did ')).map((line) => line.slice(4).replace(' ', ':'))
    expect(done.length).toBe(STALL_AT) // killed mid-stream

    spool = await openTestSpool(dir)
    const committed = new Map((await (await spool.groups.coordinator()).fetchOffsets('workers')).map((c) => [c.partition, c.offset]))
    const processed = new Processed()
    const firstSeen = new Map<number, number>()
    const consumer = spool.consumer({ group: 'workers', topics: ['orders'] })
    const run = consumer.run({
      eachRecord: (record) => {
        if (!firstSeen.has(record.partition)) firstSeen.set(record.partition, record.offset)
        processed.record(0, record)
      },
    })
    const remaining = ends.reduce((sum, end, p) => sum + end - (committed.get(p) ?? 0), 0)
    await processed.reach(remaining)

    // Nothing lost: every record was processed before the kill or after the restart.
    expect(new Set([...done, ...processed.all()])).toEqual(new Set(everyRecord(ends)))
    // The restart began exactly at each partition's last commit, so the only repeats are records after it.
    for (const [partition, end] of ends.entries()) {
      const from = committed.get(partition) ?? 0
      if (from < end) expect(firstSeen.get(partition)).toBe(from)
    }
    const before = new Set(done)
    for (const repeat of processed.all().filter((r) => before.has(r))) {
      const [partition, offset] = repeat.split(':').map(Number) as [number, number]
      expect(offset).toBeGreaterThanOrEqual(committed.get(partition) ?? 0)
    }
    // The killed member did commit progress: a commit is durable once it resolves.
    expect([...committed.values()].some((offset) => offset > 0)).toBe(true)
    await spool.close()
    await run
  })
})
