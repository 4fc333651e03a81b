import fs from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { partitionForKey } from '../../src/topics/partitioner.js'
import { openTestSpool } from '../helpers/open-spool.js'
import { CLI_TEST_TIMEOUT_MS, runCli } from '../helpers/run-cli.js'
import { tempDir } from '../helpers/temp-dir.js'

interface Json {
  [key: string]: unknown
}

const json = (stdout: string): Json => JSON.parse(stdout) as Json
const lines = (stdout: string): Json[] => stdout.trim().split('\n').filter(Boolean).map(json)

describe('spool topics, produce, consume and replay (the built CLI, as a subprocess)', { timeout: CLI_TEST_TIMEOUT_MS }, () => {
  it('creates, lists, describes, grows and deletes topics, with --json output', () => {
    const dir = tempDir()
    const cli = (...args: string[]): ReturnType<typeof runCli> => runCli(['--data-dir', dir, ...args])
    expect(cli('topics', 'create', 'orders', '--partitions', '3', '--retention-ms', '60000', '--cleanup', 'delete').code).toBe(0)
    expect(cli('topics', 'create', 'orders').code).toBe(1)
    expect(cli('topics', 'create', 'orders').stderr).toContain('[TOPIC_EXISTS]')
    const described = json(cli('--json', 'topics', 'describe', 'orders').stdout)
    expect(described).toMatchObject({ name: 'orders', config: { partitions: 3, retentionMs: 60000, cleanup: 'delete' } })
    expect((described.partitions as Json[]).map((p) => p.endOffset)).toEqual([0, 0, 0])
    expect(json(cli('--json', 'topics', 'add-partitions', 'orders', '5').stdout)).toMatchObject({ config: { partitions: 5 } })
    const listed = json(cli('--json', 'topics', 'list').stdout) as unknown as Json[]
    expect(listed.map((t) => t.name)).toEqual(['orders'])
    expect(cli('topics', 'list').stdout).toMatch(/^topic\s+partitions\s+records\s+size\s+cleanup\norders\s+5\s+0/)
    expect(cli('topics', 'describe', 'nope').stderr.trim()).toMatch(/^spool: topic "nope" does not exist.*\[UNKNOWN_TOPIC\]$/)
    expect(cli('topics', 'delete', 'orders').code).toBe(0)
    expect(json(cli('--json', 'topics', 'list').stdout)).toEqual([])
    expect(fs.readdirSync(dir).filter((name) => name.startsWith('orders-'))).toEqual([])
  })

  it('produces lines with keys and headers, then consumes and replays them, by offset and by time', () => {
    const dir = tempDir()
    const cli = (args: string[], input?: string): ReturnType<typeof runCli> => runCli(['--data-dir', dir, ...args], input)
    cli(['topics', 'create', 'orders', '--partitions', '3'])
    const produced = cli(['--json', 'produce', 'orders', '--key-separator', ':', '--header', 'src=cli', '--header', 'v=1'], 'u1:first\nu2:second\nu1:third\n')
    const written = JSON.parse(produced.stdout) as Array<{ partition: number; offset: number }>
    expect(written.map((w) => w.partition)).toEqual(['u1', 'u2', 'u1'].map((k) => partitionForKey(Buffer.from(k), 3)))
    expect(cli(['produce', 'orders', '--partition', '2', '--quiet'], 'x\ny\n').stdout.trim()).toBe('2 records written')

    const all = lines(cli(['consume', 'orders', '--format', 'json']).stdout)
    expect(all.length).toBe(5)
    const u1 = all.filter((r) => r.key === 'u1')
    expect(u1.map((r) => r.value)).toEqual(['first', 'third'])
    expect(u1[0]).toMatchObject({ topic: 'orders', partition: partitionForKey(Buffer.from('u1'), 3), offset: 0, headers: { src: 'cli', v: '1' } })
    expect(typeof u1[0]!.timestamp).toBe('number')
    expect(cli(['consume', 'orders', '--partition', '2']).stdout).toBe('x\ny\n')
    expect(cli(['consume', 'orders', '--partition', '2', '--offset', '1']).stdout).toBe('y\n')
    expect(cli(['consume', 'orders', '--max', '2']).stdout.trim().split('\n').length).toBe(2)

    const p = partitionForKey(Buffer.from('u1'), 3)
    expect(cli(['replay', 'orders', '--partition', String(p), '--from-offset', '0', '--to-offset', '0']).stdout).toBe('first\n')
    const lastTime = (u1[1]!.timestamp as number) + 1
    expect(cli(['replay', 'orders', '--partition', String(p), '--from-time', new Date(0).toISOString(), '--to-time', String(lastTime)]).stdout).toBe('first\nthird\n')
    expect(cli(['replay', 'orders', '--partition', String(p), '--from-time', String(lastTime)]).stdout).toBe('')
    expect(cli(['replay', 'orders']).code).toBe(2) // needs a start: a usage error
  })

  it('reads while an application holds the write lock, changing nothing', async () => {
    const dir = tempDir()
    const spool = await openTestSpool(dir)
    await spool.createTopic('live', { partitions: 1 })
    await spool.producer().sendBatch([{ topic: 'live', value: 'one' }, { topic: 'live', value: 'two' }])
    const files = (): string[] => fs.readdirSync(path.join(dir, 'live-0')).sort()
    const before = files()
    expect(runCli(['--data-dir', dir, 'consume', 'live']).stdout).toBe('one\ntwo\n')
    expect(runCli(['--data-dir', dir, 'replay', 'live', '--from-offset', '1']).stdout).toBe('two\n')
    expect(runCli(['--data-dir', dir, 'topics', 'describe', 'live']).code).toBe(0)
    expect(runCli(['--data-dir', dir, 'topics', 'create', 'other']).stderr).toContain('[LOCKED]')
    expect(files()).toEqual(before)
    await spool.close()
  })
})
