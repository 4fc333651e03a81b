import { spawnSync } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { PassThrough } from 'node:stream'
import { Help } from 'commander'
import { describe, expect, it } from 'vitest'
import { defaultDataDir as engineDefault } from '../../src/client/spool.js'
import { defaultDataDir as cliDefault } from '../../src/cli/data-dir.js'
import { COMMANDS, invokedCommand } from '../../src/cli/program.js'
import { CLI_TEST_TIMEOUT_MS } from '../helpers/run-cli.js'
import { tempDir } from '../helpers/temp-dir.js'

const ROOT = path.resolve(import.meta.dirname, '../..')
const CLI = path.join(ROOT, 'dist/cli/main.js')

/** The package's own modules (under dist/) that one run of the built CLI loads, as paths relative to dist/. */
function modulesLoaded(args: string[], dataDir: string): string[] {
  const dir = tempDir('spool-modules-')
  const log = path.join(dir, 'loaded.txt')
  fs.writeFileSync(
    path.join(dir, 'hooks.mjs'),
    `import fs from 'node:fs'\nexport async function load(url, context, next) {\n  fs.appendFileSync(${JSON.stringify(log)}, url + '\\n')\n  return next(url, context)\n}\n`,
  )
  fs.writeFileSync(path.join(dir, 'register.mjs'), `import { register } from 'node:module'\nregister(${JSON.stringify(`file://${path.join(dir, 'hooks.mjs')}`)})\n`)
  const result = spawnSync(process.execPath, ['--import', path.join(dir, 'register.mjs'), CLI, '--data-dir', dataDir, ...args], { encoding: 'utf8', timeout: 60_000 })
  expect(result.status, result.stderr).toBe(0)
  const dist = `file://${path.join(ROOT, 'dist')}/`
  return fs
    .readFileSync(log, 'utf8')
    .split('\n')
    .filter((url) => url.startsWith(dist))
    .map((url) => url.slice(dist.length))
}

describe('start-up: a command loads only what it uses', { timeout: CLI_TEST_TIMEOUT_MS }, () => {
  it('--version and --help load no command module and no engine; topics list loads topics, not the other commands', () => {
    const dir = tempDir()
    const light = ['cli/main.js', 'cli/program.js', 'cli/output.js', 'cli/open.js', 'cli/data-dir.js', 'errors.js'].sort()
    expect(modulesLoaded(['--version'], dir).sort()).toEqual(light)
    expect(modulesLoaded(['--help'], dir).sort()).toEqual(light)
    expect(modulesLoaded(['help'], dir).sort()).toEqual(light)

    expect(spawnSync(process.execPath, [CLI, '--data-dir', dir, 'init']).status).toBe(0)
    const list = modulesLoaded(['topics', 'list'], dir)
    expect(list).toContain('cli/topics.js')
    expect(list).toContain('client/spool.js')
    for (const other of ['cli/produce.js', 'cli/consume.js', 'cli/groups.js', 'cli/segments.js', 'cli/init.js']) expect(list).not.toContain(other)
  })

  it("the root help's stub of each command says what the command's module says", async () => {
    const out = { stdout: new PassThrough(), stderr: new PassThrough(), stdoutClosed: new AbortController().signal }
    const help = new Help()
    for (const entry of COMMANDS) {
      const command = (await entry.load())(out, () => ({ dataDir: 'unused', json: false }))
      expect({ name: command.name(), description: command.description(), term: help.subcommandTerm(command) }).toEqual({
        name: entry.name,
        description: entry.description,
        term: entry.term,
      })
    }
  })

  it('finds the command a command line invokes past the global options', () => {
    expect(invokedCommand(['--data-dir', 'topics', 'produce', 't'])).toBe('produce')
    expect(invokedCommand(['--json', 'topics', 'list', '--data-dir', 'x'])).toBe('topics')
    expect(invokedCommand(['--data-dir=x', 'consume', 't'])).toBe('consume')
    expect(invokedCommand(['help', 'groups'])).toBe('groups')
    expect(invokedCommand(['--version'])).toBeUndefined()
    expect(invokedCommand([])).toBeUndefined()
  })

  it("the CLI's default data directory is the engine's", () => {
    const saved = process.env['SPOOL_DATA_DIR']
    try {
      delete process.env['SPOOL_DATA_DIR']
      expect(cliDefault()).toBe(engineDefault())
      process.env['SPOOL_DATA_DIR'] = '/somewhere/else'
      expect(cliDefault()).toBe(engineDefault())
    } finally {
      if (saved === undefined) delete process.env['SPOOL_DATA_DIR']
      else process.env['SPOOL_DATA_DIR'] = saved
    }
  })
})
