import { spawn } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterAll, describe, it } from 'vitest'
import { openTestSpool } from '../helpers/open-spool.js'
import type { CliResult } from '../helpers/run-cli.js'

interface PartitionReport {
  topic: string
  partition: number
  committedOffset: number | null
  endOffset: number
  records: number
}

interface GroupReport {
  group: string
  state: string
  members: unknown[]
  partitions: PartitionReport[]
}

const CLI = path.join(import.meta.dirname, '../../dist/cli/main.js')

// The tests run concurrently (each CLI run is a process that mostly waits on Node's
// start-up), so each keeps its own directory rather than tempDir()'s, which afterEach
// would remove under the others.
const dirs: string[] = []
afterAll(() => {
  for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true })
})

/** The built CLI on a fresh data directory, run as a subprocess without blocking the other tests. */
function freshCli(): { dir: string; cli: (args: string[], input?: string) => Promise<CliResult> } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'spool-groups-cli-'))
  dirs.push(dir)
  const cli = (args: string[], input = ''): Promise<CliResult> =>
    new Promise((resolve, reject) => {
      const child = spawn(process.execPath, [CLI, '--data-dir', dir, ...args], { timeout: 60_000 })
      let stdout = ''
      let stderr = ''
      child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()))
      child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
      child.on('error', reject).on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }))
      child.stdin.end(input)
    })
  return { dir, cli }
}

/** An error's exit code and the lines it printed (it should print one). */
const failure = ({ code, stderr }: CliResult): { code: number; lines: string[] } => ({ code, lines: stderr.trim().split('\n') })
const values = (stdout: string): string[] => stdout.split('\n').filter(Boolean)

// Generous: each CLI run is a real process start, slow on a loaded machine.
describe.concurrent('spool groups and consume --group (the built CLI, as a subprocess)', { timeout: 60_000 }, () => {
  it('consumes as a group member that continues where the last one stopped; lists and describes the group', async ({ expect }) => {
    const { cli } = freshCli()
    await cli(['topics', 'create', 'orders', '--partitions', '2'])
    // one writer at a time: the second would get LOCKED
    expect((await cli(['produce', 'orders', '--partition', '0', '--quiet'], 'a\nb\nc\nd\ne\n')).code).toBe(0)
    expect((await cli(['produce', 'orders', '--partition', '1', '--quiet'], 'x\ny\nz\n')).code).toBe(0)

    const first = await cli(['consume', 'orders', '--group', 'workers', '--max', '5'])
    expect(first.code).toBe(0)
    expect(values(first.stdout)).toHaveLength(5)
    const report = JSON.parse((await cli(['--json', 'groups', 'describe', 'workers'])).stdout) as GroupReport
    expect(report).toMatchObject({ group: 'workers', state: 'empty', members: [] })
    expect(report.partitions.map((p) => [p.partition, p.endOffset])).toEqual([
      [0, 5],
      [1, 3],
    ])
    // exactly the five printed records were committed, and the lag is what is left
    expect(report.partitions.reduce((sum, p) => sum + (p.committedOffset ?? 0), 0)).toBe(5)
    expect(report.partitions.map((p) => p.records)).toEqual(report.partitions.map((p) => p.endOffset - (p.committedOffset ?? 0)))

    const second = await cli(['consume', 'orders', '--group', 'workers'])
    expect(second.code).toBe(0)
    expect([...values(first.stdout), ...values(second.stdout)].sort()).toEqual(['a', 'b', 'c', 'd', 'e', 'x', 'y', 'z'])

    const [listJson, list, describe, unknown, withPartition] = await Promise.all([
      cli(['--json', 'groups', 'list']),
      cli(['groups', 'list']),
      cli(['groups', 'describe', 'workers']),
      cli(['groups', 'describe', 'nope']),
      cli(['consume', 'orders', '--group', 'workers', '--partition', '1']),
    ])
    const listed = JSON.parse(listJson.stdout) as GroupReport[]
    expect(listed.map((g) => g.group)).toEqual(['workers'])
    expect(listed[0]!.partitions.map((p) => [p.committedOffset, p.records])).toEqual([
      [5, 0],
      [3, 0],
    ])
    expect(list.stdout).toMatch(/^group\s+topics\s+partitions\s+lag\s+lagSize\s+lagTime\nworkers\s+orders\s+2\s+0\s+0 B\s+0s\n$/)
    expect(describe.stdout).toContain('a read-only view cannot see the members of a running application')
    expect(describe.stdout).toMatch(/\ntopic\s+partition\s+committed\s+endOffset\s+lag\s+lagSize\s+lagTime\s+owner\norders\s+0\s+5\s+5\s+0\s+0 B\s+0s\s+-\n/)
    expect(failure(unknown)).toEqual({ code: 1, lines: [expect.stringMatching(/^spool: group "nope" .*\[UNKNOWN_GROUP\]$/)] })
    expect(withPartition.code).toBe(2) // the group assigns the partitions
  })

  it('reset-offsets --to-datetime prints the plan and changes nothing; with --execute the next consume --group starts at that time', async ({ expect }) => {
    const { cli } = freshCli()
    const committed = async (): Promise<Array<number | null>> =>
      (JSON.parse((await cli(['--json', 'groups', 'describe', 'g'])).stdout) as GroupReport).partitions.map((p) => p.committedOffset)
    await cli(['topics', 'create', 't'])
    await cli(['produce', 't', '--quiet'], 'old1\nold2\nold3\n')
    const at = Date.now() + 1 // after the old records were stamped; the next process starts later
    await cli(['produce', 't', '--quiet'], 'new1\nnew2\n')
    expect(values((await cli(['consume', 't', '--group', 'g'])).stdout)).toEqual(['old1', 'old2', 'old3', 'new1', 'new2'])

    const [dryRunJson, dryRun] = await Promise.all([
      cli(['--json', 'groups', 'reset-offsets', 'g', '--to-datetime', String(at)]),
      cli(['groups', 'reset-offsets', 'g', '--to-datetime', String(at)]),
    ])
    expect(JSON.parse(dryRunJson.stdout)).toEqual({ group: 'g', executed: false, plan: [{ topic: 't', partition: 0, from: 5, to: 3 }] })
    expect(dryRun.stdout).toMatch(/^topic\s+partition\s+current\s+new\s+change\nt\s+0\s+5\s+3\s+-2\ndry run: nothing changed/)
    expect(await committed()).toEqual([5])

    const executed = await cli(['--json', 'groups', 'reset-offsets', 'g', '--to-datetime', new Date(at).toISOString(), '--execute'])
    expect(JSON.parse(executed.stdout)).toMatchObject({ executed: true, plan: [{ from: 5, to: 3 }] })
    expect(await committed()).toEqual([3])
    expect(values((await cli(['consume', 't', '--group', 'g'])).stdout)).toEqual(['new1', 'new2'])

    const [malformed, noTarget] = await Promise.all([
      cli(['groups', 'reset-offsets', 'g', '--to-datetime', '2026-13-45T99:00:00Z', '--execute']),
      cli(['groups', 'reset-offsets', 'g', '--execute']),
    ])
    expect(failure(malformed)).toEqual({ code: 2, lines: [expect.stringMatching(/^spool: --to-datetime must be an ISO date or milliseconds.*\[INVALID_ARGUMENT\]$/)] })
    expect(noTarget.code).toBe(2)
    expect(await committed()).toEqual([5])
  })

  it('deletes a group; while an application holds the lock, describes it but refuses to change it', async ({ expect }) => {
    const { dir, cli } = freshCli()
    const spool = await openTestSpool(dir)
    await spool.createTopic('t', { partitions: 1 })
    await spool.producer().sendBatch([{ topic: 't', value: 'one' }, { topic: 't', value: 'two' }])
    const consumer = spool.consumer({ group: 'app', topics: ['t'], autoCommit: false })
    expect((await consumer.poll({ maxRecords: 1, timeoutMs: 5_000 })).map((r) => r.offset)).toEqual([0])
    await consumer.commit()

    const [described, dryRun, execute, del, consume] = await Promise.all([
      cli(['--json', 'groups', 'describe', 'app']),
      cli(['groups', 'reset-offsets', 'app', '--to-earliest']),
      cli(['groups', 'reset-offsets', 'app', '--to-earliest', '--execute']),
      cli(['groups', 'delete', 'app']),
      cli(['consume', 't', '--group', 'app']),
    ])
    expect((JSON.parse(described.stdout) as GroupReport).partitions).toMatchObject([{ committedOffset: 1, endOffset: 2, records: 1 }])
    expect(dryRun.code).toBe(0) // a dry run takes no lock
    for (const refused of [execute, del]) expect(failure(refused)).toEqual({ code: 1, lines: [expect.stringMatching(/\[LOCKED\]$/)] })
    // Group consumption needs the owning process (test/cli/follow.test.ts).
    expect(failure(consume)).toEqual({ code: 1, lines: [expect.stringMatching(/^spool: group consumption needs the owning process.*\[NEEDS_OWNER\]$/)] })
    await consumer.close()
    await spool.close()

    expect((await cli(['groups', 'delete', 'app'])).stdout).toBe('deleted group app\n')
    const missing = freshCli()
    fs.rmSync(missing.dir, { recursive: true })
    const [list, again, mistyped] = await Promise.all([cli(['--json', 'groups', 'list']), cli(['groups', 'delete', 'app']), missing.cli(['groups', 'delete', 'app'])])
    expect(JSON.parse(list.stdout)).toEqual([])
    expect(failure(again)).toEqual({ code: 1, lines: [expect.stringMatching(/\[UNKNOWN_GROUP\]$/)] })
    expect(failure(mistyped)).toEqual({ code: 1, lines: [expect.stringMatching(/\[DATA_DIR_NOT_FOUND\]$/)] })
    expect(fs.existsSync(missing.dir)).toBe(false) // not created by the attempt
  })

  it('consume --group --follow stops on SIGTERM, exits 0 and has committed what it printed', async ({ expect }) => {
    const { dir, cli } = freshCli()
    await cli(['topics', 'create', 't'])
    await cli(['produce', 't', '--quiet'], 'one\ntwo\nthree\n')
    const child = spawn(process.execPath, [CLI, '--data-dir', dir, 'consume', 't', '--group', 'g', '--follow'], { stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)))
    await new Promise<void>((resolve) =>
      child.stdout.on('data', (chunk: Buffer) => {
        stdout += chunk.toString()
        if (values(stdout).length === 3) resolve()
      }),
    )
    child.kill('SIGTERM')
    expect(await exited).toBe(0)
    expect(stderr).toBe('')
    expect(values(stdout)).toEqual(['one', 'two', 'three'])
    expect((JSON.parse((await cli(['--json', 'groups', 'describe', 'g'])).stdout) as GroupReport).partitions).toMatchObject([{ committedOffset: 3, records: 0 }])
  })
})
