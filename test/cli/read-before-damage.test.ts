import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { damage, layoutOf } from '../fault/damage.js'
import { openTestSpool } from '../helpers/open-spool.js'
import { CLI_TEST_TIMEOUT_MS, runCli } from '../helpers/run-cli.js'
import { tempDir } from '../helpers/temp-dir.js'

/**
 * Issue 13, defect 7 through the CLI: with one damaged batch in a sealed segment,
 * `spool replay` and `spool consume` printed nothing. They now print every record before
 * the damage, then fail with CORRUPT_BATCH naming the file, position and offset.
 */

const RECORDS = 120

/** A data directory with topic `events` of several sealed segments (values `v<offset>`), closed cleanly. */
async function writtenDataDir(): Promise<string> {
  const dir = tempDir()
  const spool = await openTestSpool(dir)
  await spool.createTopic('events', { segmentBytes: 2048, indexIntervalBytes: 256 })
  const producer = spool.producer()
  for (let i = 0; i < RECORDS; i += 3) await producer.sendBatch([0, 1, 2].map((k) => ({ topic: 'events', value: `v${i + k}` })))
  await spool.close()
  return dir
}

describe('a damaged batch in the middle of a topic (the built CLI)', { timeout: CLI_TEST_TIMEOUT_MS }, () => {
  it('replay and consume print the records before it, then the error naming it', async () => {
    const dataDir = await writtenDataDir()
    const dir = path.join(dataDir, 'events-0')
    const layout = layoutOf(dir)
    const victim = layout.filter((b) => b.segment === 1)[2]!
    expect(victim.baseOffset).toBeLessThan(100)
    damage(dir, victim, 'a bit flip in a record')
    const before = Array.from({ length: victim.baseOffset }, (_, offset) => `v${offset}`)
    for (const args of [
      ['replay', 'events', '--from-offset', '0', '--to-offset', '100'],
      ['consume', 'events'],
    ]) {
      const result = runCli(['--data-dir', dataDir, ...args])
      expect(result.stdout.split('\n').filter((line) => line !== ''), args.join(' ')).toEqual(before)
      expect(result.stderr).toContain(`corrupt batch in ${path.join(dir, victim.file)} at byte ${victim.position} (offset ${victim.baseOffset})`)
      expect(result.code).toBe(1)
    }
  })
})
