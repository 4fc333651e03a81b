import fs from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { parsePartitionDir } from '../../src/topics/catalog.js'
import { runUntilKilled } from '../helpers/kill-child.js'
import { openTestSpool } from '../helpers/open-spool.js'
import { tempDir } from '../helpers/temp-dir.js'

const WRITER = path.join(import.meta.dirname, '../fixtures/catalog-writer.ts')
const ROUNDS = 12

describe('crash: SIGKILL during createTopic and deleteTopic', () => {
  it(`keeps a readable catalog holding every acknowledged change, over ${ROUNDS} kills`, async () => {
    const dir = tempDir()
    const expected = new Map<string, number>() // topic -> partitions, for every acknowledged create not deleted since
    const deleted = new Set<string>() // acknowledged deletes
    let changes = 0
    for (let round = 0; round < ROUNDS; round++) {
      // Killed at a moment after its second create was acknowledged (so that every round
      // makes changes, however slow the machine), in a later create or delete.
      const lines = await runUntilKilled(WRITER, [dir, String(round)], (round * 37) % 120, `created r${round}-t1`)
      for (const line of lines) {
        const [kind, name, partitions] = line.split(' ')
        if (kind === 'created') expected.set(name!, Number(partitions))
        if (kind === 'deleting') expected.delete(name!) // in flight: it may or may not have landed
        if (kind === 'deleted') deleted.add(name!)
        if (kind === 'created' || kind === 'deleted') changes++
      }
      const spool = await openTestSpool(dir)
      const listed = spool.listTopics()
      for (const [name, partitions] of expected) {
        expect(listed, `acknowledged topic ${name} exists`).toContain(name)
        expect((await spool.describeTopic(name)).partitions.length).toBe(partitions)
      }
      for (const name of deleted) expect(listed, `deleted topic ${name} stays deleted`).not.toContain(name)
      // Unacknowledged changes may or may not have landed, but whatever is listed is whole.
      for (const name of listed) {
        const described = await spool.describeTopic(name)
        expect(described.partitions.length).toBe(described.config.partitions)
      }
      const dirs = fs.readdirSync(dir).map(parsePartitionDir).filter((p) => p !== null)
      for (const { topic } of dirs) expect(listed, `directory of ${topic} belongs to a listed topic`).toContain(topic)
      await spool.close()
    }
    expect(changes).toBeGreaterThanOrEqual(2 * ROUNDS)
  })
})
