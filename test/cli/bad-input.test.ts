import crypto from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { CLI_TEST_TIMEOUT_MS, runCli } from '../helpers/run-cli.js'
import { tempDir } from '../helpers/temp-dir.js'

/** Every file under `dir` with a hash of its bytes (the lock file aside: a writer's, not data). */
function snapshot(dir: string): Record<string, string> {
  const files: Record<string, string> = {}
  for (const entry of fs.readdirSync(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile() || entry.name === '.lock') continue
    const file = path.join(entry.parentPath, entry.name)
    files[path.relative(dir, file)] = crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex')
  }
  return files
}

describe('the CLI on bad input: one line, a non-zero exit, the data untouched', { timeout: CLI_TEST_TIMEOUT_MS }, () => {
  it('unknown topic, unknown group, offset beyond the end, malformed date, not a data directory, a corrupt file', () => {
    const dir = tempDir()
    const cli = (args: string[], input?: string) => runCli(['--data-dir', dir, ...args], input)
    expect(cli(['topics', 'create', 'orders']).code).toBe(0)
    expect(cli(['produce', 'orders', '--quiet'], 'one\ntwo\nthree\n').code).toBe(0)
    const notSpool = tempDir()
    fs.writeFileSync(path.join(notSpool, 'notes.txt'), 'mine')

    // An INVALID_ARGUMENT is something the user typed: exit 2, as a bad command line.
    const cases: [string[], string, string, number][] = [
      [['consume', 'nope'], dir, 'UNKNOWN_TOPIC', 1],
      [['groups', 'describe', 'nobody'], dir, 'UNKNOWN_GROUP', 1],
      [['consume', 'orders', '--partition', '0', '--offset', '99'], dir, 'OFFSET_OUT_OF_RANGE', 1],
      [['replay', 'orders', '--from-time', 'last tuesday'], dir, 'INVALID_ARGUMENT', 2],
      [['topics', 'list', '--data-dir', notSpool], notSpool, 'INVALID_ARGUMENT', 2],
      [['produce', 'orders', '--data-dir', notSpool], notSpool, 'INVALID_ARGUMENT', 2],
    ]
    for (const [args, touched, code, status] of cases) {
      const before = snapshot(touched)
      const result = cli(args, 'x\n')
      expect(result.code, args.join(' ')).toBe(status)
      expect(result.stderr.trim().split('\n'), args.join(' ')).toEqual([expect.stringMatching(new RegExp(`^spool: .*\\[${code}\\]$`))])
      expect(snapshot(touched), args.join(' ')).toEqual(before)
    }

    // A byte flipped inside the only batch: reading it is refused, naming where.
    const log = path.join(dir, 'orders-0', '00000000000000000000.log')
    const bytes = fs.readFileSync(log)
    const at = bytes.length - 3
    bytes.writeUInt8(bytes.readUInt8(at) ^ 0xff, at)
    fs.writeFileSync(log, bytes)
    const before = snapshot(dir)
    const corrupt = cli(['consume', 'orders'])
    expect(corrupt.code).toBe(1)
    expect(corrupt.stderr.trim().split('\n')).toEqual([expect.stringMatching(new RegExp(`^spool: corrupt batch in .*00000000000000000000\\.log at byte 0 \\(offset 0\\).*\\[CORRUPT_BATCH\\]$`))])
    expect(corrupt.stdout).toBe('')
    expect(snapshot(dir)).toEqual(before)
  })

  it("a writable command on someone else's folder refuses, and touches none of its files (folders named like partitions included)", () => {
    const victim = tempDir()
    for (const folder of ['report-2024', 'python-3']) {
      fs.mkdirSync(path.join(victim, folder))
      fs.writeFileSync(path.join(victim, folder, 'keep.txt'), folder)
    }
    const before = snapshot(victim)
    const names = fs.readdirSync(victim).sort()
    for (const args of [['topics', 'create', 'x'], ['produce', 'x']]) {
      const result = runCli(['--data-dir', victim, ...args], 'x\n')
      expect(result.code, args.join(' ')).toBe(2) // INVALID_ARGUMENT: check --data-dir
      expect(result.stderr, args.join(' ')).toMatch(/is not a spool data directory.*\[INVALID_ARGUMENT\]/)
    }
    expect(snapshot(victim)).toEqual(before)
    expect(fs.readdirSync(victim).sort()).toEqual(names) // no lock, no catalog, nothing added
  })
})
