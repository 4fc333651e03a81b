import { spawn, spawnSync } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { openTestSpool } from '../helpers/open-spool.js'
import { CLI_TEST_TIMEOUT_MS } from '../helpers/run-cli.js'
import { tempDir } from '../helpers/temp-dir.js'

const CLI = path.join(import.meta.dirname, '../../dist/cli/main.js')

/** Runs the CLI with its stdout a pipe whose reader has already gone (as after `| head` exits): its status and stderr. */
function withClosedStdout(args: string[]): Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
    child.stdout.destroy() // closes this end: the child's first write gets EPIPE
    let stderr = ''
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
    child.on('error', reject).on('close', (code, signal) => resolve({ code, signal, stderr }))
  })
}

async function bigTopic(): Promise<string> {
  const dir = tempDir()
  const spool = await openTestSpool(dir)
  await spool.createTopic('big', { partitions: 2 })
  const producer = spool.producer()
  for (let i = 0; i < 20; i++) await producer.sendBatch(Array.from({ length: 1000 }, (_, j) => ({ topic: 'big', key: `k${j}`, value: `record ${i}-${j} ${'x'.repeat(60)}` })))
  await spool.close()
  return dir
}

describe('a closed stdout ends a command quietly, as cat does (the built CLI, as a subprocess)', { timeout: CLI_TEST_TIMEOUT_MS }, () => {
  it('exits 141 (128 + SIGPIPE) with nothing on stderr, whatever the command', async () => {
    const dir = await bigTopic()
    const log = path.join(dir, 'big-0', '00000000000000000000.log')
    const commands: string[][] = [
      ['topics', 'list'],
      ['--json', 'topics', 'list'],
      ['topics', 'describe', 'big'],
      ['consume', 'big'],
      ['--json', 'consume', 'big', '--format', 'json'],
      ['replay', 'big', '--from-offset', '0'],
      ['groups', 'list'],
      ['segments', 'dump', '--records', log],
      ['segments', 'verify'],
      ['--help'],
      ['--version'],
    ]
    const results = await Promise.all(commands.map((args) => withClosedStdout(['--data-dir', dir, ...args])))
    results.forEach((result, i) => expect(result, commands[i]!.join(' ')).toEqual({ code: 141, signal: null, stderr: '' }))
  })

  it('`consume big | head -2` prints two records and ends at once; the shell sees 141 for spool, as for cat', async () => {
    const dir = await bigTopic()
    const script = `"${process.execPath}" "${CLI}" --data-dir "${dir}" consume big | head -2; echo "status \${PIPESTATUS[0]}"`
    const result = spawnSync('bash', ['-c', script], { encoding: 'utf8', timeout: 60_000 })
    expect(result.stderr).toBe('')
    expect(result.stdout).toMatch(/^record 0-\d+ x+\nrecord 0-\d+ x+\nstatus 141\n$/)
  })

  it('an output that fails otherwise (a full disk) is one error line, exit 1', async () => {
    const dir = await bigTopic()
    const full = fs.openSync('/dev/full', 'w')
    try {
      for (const json of [false, true]) {
        const result = spawnSync(process.execPath, [CLI, '--data-dir', dir, ...(json ? ['--json'] : []), 'topics', 'list'], { stdio: ['ignore', full, 'pipe'], encoding: 'utf8' })
        expect(result.status).toBe(1)
        if (json) expect(JSON.parse(result.stderr)).toMatchObject({ error: { code: 'DISK_FULL' } })
        else expect(result.stderr).toBe('spool: writing stdout failed: the disk is full; free space and retry [DISK_FULL]\n')
      }
    } finally {
      fs.closeSync(full)
    }
  })
})
