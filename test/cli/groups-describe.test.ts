import { describe, expect, it } from 'vitest'
import { openTestSpool } from '../helpers/open-spool.js'
import { CLI_TEST_TIMEOUT_MS, runCli } from '../helpers/run-cli.js'
import { tempDir } from '../helpers/temp-dir.js'

/** A data directory with topic `orders` (one partition) holding `records` records. */
async function dataDirWithOrders(records: number): Promise<string> {
  const dataDir = tempDir()
  const spool = await openTestSpool(dataDir)
  await spool.createTopic('orders')
  const producer = spool.producer()
  for (let i = 0; i < records; i++) await producer.send({ topic: 'orders', value: `order ${i}` })
  await spool.close()
  return dataDir
}

describe('spool groups describe of a group without partitions to show (the built CLI, as a subprocess)', { timeout: CLI_TEST_TIMEOUT_MS }, () => {
  it('says a group that never committed has no committed offsets yet, not that its topics were deleted', async () => {
    const dataDir = await dataDirWithOrders(0)
    // A member joins and leaves with nothing to read: the group is stored, without a commit.
    const joined = runCli(['--data-dir', dataDir, 'consume', 'orders', '--group', 'idle'])
    expect(joined.code, joined.stderr).toBe(0)
    expect(runCli(['--data-dir', dataDir, 'groups', 'list']).stdout).toMatch(/^idle\s/m)

    const described = runCli(['--data-dir', dataDir, 'groups', 'describe', 'idle'])
    expect(described.code, described.stderr).toBe(0)
    expect(described.stdout.trimEnd().split('\n').at(-1)).toBe('no committed offsets yet')
    expect(described.stdout).not.toMatch(/deleted/)
    const json = JSON.parse(runCli(['--data-dir', dataDir, '--json', 'groups', 'describe', 'idle']).stdout) as { partitions: unknown[]; deletedTopics: string[] }
    expect(json).toMatchObject({ partitions: [], deletedTopics: [] })
  })

  it('says its topics were deleted only when they were, naming them', async () => {
    const dataDir = await dataDirWithOrders(2)
    expect(runCli(['--data-dir', dataDir, 'consume', 'orders', '--group', 'billing', '--max', '1']).code).toBe(0)
    const before = runCli(['--data-dir', dataDir, 'groups', 'describe', 'billing'])
    expect(before.stdout).toMatch(/^orders\s+0\s+1\s+2\s/m)
    expect(before.stdout).not.toMatch(/deleted|no committed offsets/)

    const spool = await openTestSpool(dataDir)
    await spool.deleteTopic('orders')
    await spool.close()
    const after = runCli(['--data-dir', dataDir, 'groups', 'describe', 'billing'])
    expect(after.code, after.stderr).toBe(0)
    expect(after.stdout.trimEnd().split('\n').at(-1)).toBe('no partitions: its topics were deleted (orders)')
    const json = JSON.parse(runCli(['--data-dir', dataDir, '--json', 'groups', 'describe', 'billing']).stdout) as { partitions: unknown[]; deletedTopics: string[] }
    expect(json).toMatchObject({ partitions: [], deletedTopics: ['orders'] })
  })
})
