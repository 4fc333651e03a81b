import { type ChildProcessWithoutNullStreams, spawn, spawnSync } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { CLI_TEST_TIMEOUT_MS, runCli } from '../helpers/run-cli.js'
import { tempDir } from '../helpers/temp-dir.js'

const CLI = path.join(import.meta.dirname, '../../dist/cli/main.js')

/** A running `spool produce` fed line by line, as a user types: its output as it comes. */
class LiveCli {
  readonly child: ChildProcessWithoutNullStreams
  stdout = ''
  stderr = ''
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>

  constructor(args: string[]) {
    this.child = spawn(process.execPath, [CLI, ...args])
    this.child.stdout.on('data', (chunk: Buffer) => (this.stdout += chunk.toString()))
    this.child.stderr.on('data', (chunk: Buffer) => (this.stderr += chunk.toString()))
    this.exited = new Promise((resolve) => this.child.on('exit', (code, signal) => resolve({ code, signal })))
  }

  type(text: string): void {
    this.child.stdin.write(text)
  }

  /** Resolves once stdout has `lines` lines. */
  async stdoutLines(lines: number, timeoutMs = 20_000): Promise<string[]> {
    const deadline = Date.now() + timeoutMs
    for (;;) {
      const got = this.stdout.split('\n').filter(Boolean)
      if (got.length >= lines) return got
      if (Date.now() > deadline) throw new Error(`waited for ${lines} lines of stdout, got: ${this.stdout}\nstderr: ${this.stderr}`)
      await new Promise((resolve) => setTimeout(resolve, 10))
    }
  }
}

function newSpool(topicArgs: string[] = []): { dir: string; cli: (args: string[], input?: string) => ReturnType<typeof runCli> } {
  const dir = tempDir()
  const cli = (args: string[], input?: string): ReturnType<typeof runCli> => runCli(['--data-dir', dir, ...args], input)
  expect(cli(['topics', 'create', 't', ...topicArgs]).code).toBe(0)
  return { dir, cli }
}

describe('spool produce (the built CLI, as a subprocess)', { timeout: CLI_TEST_TIMEOUT_MS }, () => {
  it('sends each line as it is typed: its acknowledgement comes before the next line is written', async () => {
    const { dir, cli } = newSpool()
    const live = new LiveCli(['--data-dir', dir, 'produce', 't'])
    live.type('one\n')
    expect(await live.stdoutLines(1)).toEqual(['partition 0 offset 0'])
    live.type('two\n')
    expect(await live.stdoutLines(2)).toEqual(['partition 0 offset 0', 'partition 0 offset 1'])
    // Already on disk, before the input ends: a reader sees them.
    expect(cli(['consume', 't']).stdout).toBe('one\ntwo\n')
    live.child.stdin.end()
    expect(await live.exited).toEqual({ code: 0, signal: null })
    expect(live.stderr).toBe('')
  })

  it('Ctrl-C (SIGINT) sends every line read before it, reports what was written, and exits 130', async () => {
    const { dir, cli } = newSpool(['--partitions', '2'])
    const live = new LiveCli(['--data-dir', dir, 'produce', 't', '--partition', '1'])
    live.type('a\n')
    await live.stdoutLines(1)
    live.type('b\nc\nunfinished') // not yet acknowledged when the signal comes
    live.child.kill('SIGINT')
    expect(await live.exited).toEqual({ code: 130, signal: null })
    expect(live.stdout.split('\n').filter(Boolean)).toEqual(['partition 1 offset 0', 'partition 1 offset 1', 'partition 1 offset 2'])
    expect(live.stderr.trim().split('\n')).toEqual([
      'spool: interrupted by SIGINT: stopped reading stdin after 3 lines, and sent them all; wrote 3 records to t: partition 1 offsets 0..2; an unfinished last line (10 characters, no line end) was not sent',
    ])
    expect(cli(['consume', 't']).stdout).toBe('a\nb\nc\n')
  })

  it('piped input still forms large batches', () => {
    const { dir, cli } = newSpool()
    const lines = Array.from({ length: 20_000 }, (_, i) => `line ${i}`)
    expect(cli(['produce', 't', '--quiet'], `${lines.join('\n')}\n`).stdout).toBe('20000 records written\n')
    const dumped = runCli(['--json', 'segments', 'dump', path.join(dir, 't-0', '00000000000000000000.log')])
    const batches = (JSON.parse(dumped.stdout) as { batches: unknown[] }).batches.length
    expect(batches).toBeLessThan(100) // one a line would be 20,000
    expect(cli(['consume', 't']).stdout).toBe(`${lines.join('\n')}\n`)
  })

  it('a failure part-way says what was written and where; --json prints it as valid JSON', () => {
    const { cli } = newSpool(['--max-record-bytes', '64'])
    const big = 'x'.repeat(100)
    const text = cli(['produce', 't'], `one\ntwo\n${big}\nfour\n`)
    expect(text.code).toBe(1)
    expect(text.stderr.trim().split('\n')).toEqual([
      expect.stringMatching(/^spool: produce stopped at line 3 of stdin: a record of 100 bytes .* wrote [23] records to t: partition 0 offsets 0\.\.[12] \[RECORD_TOO_LARGE\]$/),
    ])
    const acks = text.stdout.trim().split('\n')
    expect(acks.slice(0, 2)).toEqual(['partition 0 offset 0', 'partition 0 offset 1'])

    const json = cli(['--json', 'produce', 't'], `five\n${big}\n`)
    expect(json.code).toBe(1)
    const written = JSON.parse(json.stdout) as Array<{ topic: string; partition: number; offset: number }>
    expect(written[0]).toEqual({ topic: 't', partition: 0, offset: acks.length })
    const error = JSON.parse(json.stderr) as { error: { code: string; message: string; details: { line: number; written: { records: number } } } }
    expect(error.error).toMatchObject({ code: 'RECORD_TOO_LARGE', details: { line: 2, written: { records: written.length } } })
    // What the reports say was written is what is there.
    expect(cli(['consume', 't']).stdout.trim().split('\n')).toEqual(['one', 'two', ...(acks.length === 3 ? ['four'] : []), 'five'])

    const quiet = cli(['--json', 'produce', 't', '--quiet', '--key-separator', ':'], 'k:v\nno separator\n')
    expect(quiet.code).toBe(2) // INVALID_ARGUMENT: the flag does not fit the input
    expect(JSON.parse(quiet.stdout)).toEqual({ records: 1 })
    expect(JSON.parse(quiet.stderr)).toMatchObject({ error: { code: 'INVALID_ARGUMENT', details: { line: 2, written: { records: 1 } } } })
  })

  it('--file that is not there: one line, exit 2, the data directory not opened', () => {
    const { dir, cli } = newSpool()
    const missing = cli(['produce', 't', '--file', path.join(dir, 'nope.txt')])
    expect(missing.code).toBe(2)
    expect(missing.stderr).toBe(`spool: --file ${path.join(dir, 'nope.txt')} does not exist [INVALID_ARGUMENT]\n`)
    expect(cli(['produce', 't', '--file', dir]).stderr).toMatch(/^spool: --file .* is a directory, not a file of lines \[INVALID_ARGUMENT\]\n$/)
    const file = path.join(dir, 'lines.txt')
    fs.writeFileSync(file, 'from\r\na file\rwithout an end')
    expect(cli(['produce', 't', '--file', file, '--quiet']).stdout).toBe('3 records written\n')
    expect(cli(['consume', 't']).stdout).toBe('from\na file\nwithout an end\n')
  })

  it('stdout closed by its reader: stops reading, sends what it read, says what it wrote, exits 141 without a stack', () => {
    const { dir, cli } = newSpool()
    const script = `seq 1 300000 | "${process.execPath}" "${CLI}" --data-dir "${dir}" produce t 2>"${dir}/err" | head -1; echo "\${PIPESTATUS[1]}"`
    const result = spawnSync('bash', ['-c', script], { encoding: 'utf8', timeout: 60_000 })
    const [first, status] = result.stdout.trim().split('\n')
    expect(first).toBe('partition 0 offset 0')
    expect(status).toBe('141')
    const stderr = fs.readFileSync(path.join(dir, 'err'), 'utf8')
    const said = /^spool: stdout closed: (?:stopped reading stdin after|read all) (\d+) lines(?: of stdin)?, and sent them all; wrote (\d+) records to t: partition 0 offsets 0\.\.(\d+)/.exec(stderr)
    expect(said, stderr).not.toBeNull()
    expect(stderr.trim().split('\n')).toHaveLength(1)
    const records = Number(said![2])
    expect(Number(said![1])).toBe(records)
    const described = JSON.parse(cli(['--json', 'topics', 'describe', 't']).stdout) as { partitions: Array<{ endOffset: number }> }
    expect(described.partitions[0]!.endOffset).toBe(records)
  })
})
