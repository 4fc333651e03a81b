import fs from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { CLI_TEST_TIMEOUT_MS, runCli } from '../helpers/run-cli.js'
import { tempDir } from '../helpers/temp-dir.js'

interface JsonError {
  error: { code: string; message: string; details?: Record<string, unknown> }
}

/** stderr as the one JSON line --json promises. */
function jsonError(stderr: string): JsonError {
  const lines = stderr.trim().split('\n')
  expect(lines, stderr).toHaveLength(1)
  return JSON.parse(lines[0]!) as JsonError
}

describe('the command line (the built CLI, as a subprocess)', { timeout: CLI_TEST_TIMEOUT_MS }, () => {
  it('numbers are plain decimal integers; every usage error exits 2', () => {
    const dir = tempDir()
    const cli = (...args: string[]): ReturnType<typeof runCli> => runCli(['--data-dir', dir, ...args])
    expect(cli('init').code).toBe(0)
    for (const bad of ['0x10', '1e3', '1.0', '+3', ' 3', '3 ', '', 'Infinity', '9007199254740993']) {
      const result = cli('topics', 'create', 'orders', '--partitions', bad)
      expect(result.code, JSON.stringify(bad)).toBe(2)
      expect(result.stderr, JSON.stringify(bad)).toBe(`spool: --partitions must be a decimal integer of at least 1, not "${bad}" [INVALID_ARGUMENT]\n`)
    }
    expect(cli('topics', 'create', 'orders', '--partitions', '0').code).toBe(2)
    expect(cli('topics', 'list').stdout).toBe('no topics\n') // nothing was created
    expect(cli('topics', 'create', 'orders', '--partitions', '03').stdout).toBe('created topic orders with 3 partitions\n')
    expect(cli('topics', 'add-partitions', 'orders', '0x10').stderr).toBe('spool: <total> must be a decimal integer of at least 1, not "0x10" [INVALID_ARGUMENT]\n')
    expect(cli('topics', 'add-partitions', 'orders', '2').code).toBe(2) // fewer than it has: the engine's INVALID_ARGUMENT
    expect(cli('topics', 'add-partitions', 'orders', '4').code).toBe(0)

    const usage: string[][] = [
      ['consume', 'orders', '--format', 'xml'],
      ['consume', 'orders', '--max', '1e3'],
      ['consume', 'orders', '--partition', '0x1'],
      ['replay', 'orders', '--from-time', 'tuesday 5'],
      ['replay', 'orders', '--from-offset', '0', '--to-time', '2026-11-23 noon'],
      ['produce', 'orders', '--partition', '-1'],
      ['produce', 'orders', '--header', 'novalue'],
      ['topics', 'create', 'other', '--cleanup', 'sometimes'],
      ['topics', 'create', 'other', '--segment-bytes', '64k'],
      ['consume', 'orders', '--frobnicate'], // commander's own errors
      ['topics', 'create'],
      ['nosuchcommand'],
    ]
    for (const args of usage) {
      const result = cli(...args)
      expect(result.code, args.join(' ')).toBe(2)
      expect(result.stderr.trim().split('\n'), args.join(' ')).toHaveLength(1)
    }
    expect(cli('replay', 'orders', '--from-time', '2026-11-23T21:54:35.277Z').code).toBe(0)
    expect(cli('replay', 'orders', '--from-time', '2026-11-23').code).toBe(0)
  })

  it('with --json, errors are one JSON line on stderr: a failure, a usage error, a parse error', () => {
    const dir = tempDir()
    const cli = (...args: string[]): ReturnType<typeof runCli> => runCli(['--json', '--data-dir', dir, ...args])
    expect(cli('init').code).toBe(0)
    const unknown = cli('topics', 'describe', 'nope')
    expect(unknown.code).toBe(1)
    expect(jsonError(unknown.stderr)).toEqual({ error: { code: 'UNKNOWN_TOPIC', message: expect.stringContaining('topic "nope" does not exist'), details: { topic: 'nope' } } })
    const format = cli('consume', 'nope', '--format', 'xml', '--max', '1')
    expect(format.code).toBe(2)
    expect(jsonError(format.stderr).error.code).toMatch(/^(INVALID_ARGUMENT|UNKNOWN_TOPIC)$/)
    const option = cli('topics', 'list', '--bogus')
    expect(option.code).toBe(2)
    expect(jsonError(option.stderr)).toEqual({ error: { code: 'INVALID_ARGUMENT', message: "unknown option '--bogus'" } })
    const missing = cli('topics', 'create')
    expect(jsonError(missing.stderr)).toEqual({ error: { code: 'INVALID_ARGUMENT', message: "missing required argument 'name'" } })
    expect(missing.stdout).toBe('')
    const debug = cli('--debug', 'topics', 'describe', 'nope')
    expect(jsonError(debug.stderr).error).toMatchObject({ code: 'UNKNOWN_TOPIC', stack: expect.stringContaining('\n    at ') })
    // Help and --version are not errors.
    expect(cli('--version')).toMatchObject({ code: 0, stdout: '0.1.0\n', stderr: '' })
    expect(cli('--help')).toMatchObject({ code: 0, stderr: '' })
  })

  it('a data directory that is not there: DATA_DIR_NOT_FOUND for reads and writes, and nothing created; spool init and --create make one', () => {
    const parent = tempDir()
    const dir = path.join(parent, 'mistyped', 'spool-data')
    const cli = (...args: string[]): ReturnType<typeof runCli> => runCli(['--data-dir', dir, ...args], 'a line\n')
    const attempts: string[][] = [
      ['topics', 'list'],
      ['topics', 'describe', 'orders'],
      ['consume', 'orders'],
      ['replay', 'orders', '--from-offset', '0'],
      ['groups', 'list'],
      ['topics', 'create', 'orders'],
      ['topics', 'delete', 'orders'],
      ['topics', 'add-partitions', 'orders', '3'],
      ['produce', 'orders'],
      ['groups', 'delete', 'g'],
    ]
    for (const args of attempts) {
      const result = cli(...args)
      expect(result.code, args.join(' ')).toBe(1)
      expect(result.stderr, args.join(' ')).toMatch(new RegExp(`^spool: the data directory ${dir} does not exist; check --data-dir \\(or \\$SPOOL_DATA_DIR\\).*\\[DATA_DIR_NOT_FOUND\\]\\n$`))
    }
    expect(cli('topics', 'create', 'orders').stderr).toContain('to start a new data directory there, run spool init')
    expect(fs.readdirSync(parent)).toEqual([]) // not even the parent was made

    const file = path.join(parent, 'a-file')
    fs.writeFileSync(file, 'not a directory')
    expect(runCli(['--data-dir', file, 'topics', 'list']).stderr).toMatch(/is not a directory.*\[DATA_DIR_NOT_FOUND\]$/m)

    expect(cli('init').stdout).toBe(`created the data directory ${dir}\n`)
    expect(cli('topics', 'list').stdout).toBe('no topics\n')
    expect(cli('init').stdout).toBe(`${dir} is a spool data directory already (0 topics); nothing changed\n`)
    expect(JSON.parse(cli('--json', 'init').stdout)).toEqual({ dataDir: dir, created: false, topics: 0 })

    const other = path.join(parent, 'other', 'spool-data')
    expect(runCli(['--data-dir', other, 'topics', 'create', 'orders', '--create']).stdout).toBe('created topic orders with 1 partitions\n')
    expect(runCli(['--data-dir', other, 'topics', 'list']).stdout).toMatch(/^topic.*\norders\s+1\s+0/)

    const foreign = path.join(parent, 'photos')
    fs.mkdirSync(foreign)
    fs.writeFileSync(path.join(foreign, 'cat.jpg'), 'meow')
    const refused = runCli(['--data-dir', foreign, 'init'])
    expect(refused.code).toBe(2)
    expect(refused.stderr).toMatch(/is not a spool data directory.*\[INVALID_ARGUMENT\]\n$/)
    expect(fs.readdirSync(foreign)).toEqual(['cat.jpg'])
    const empty = path.join(parent, 'empty')
    fs.mkdirSync(empty)
    expect(runCli(['--data-dir', empty, 'init']).stdout).toBe(`${empty} is now a spool data directory (it was empty)\n`)
  })
})
