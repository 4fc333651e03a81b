/**
 * The README's examples run as written: each ```ts block as a module of its own (each
 * ```js block as a CommonJS script) in a fresh project directory where `spool` resolves to this package (its exports, so the
 * built dist/), and each ```sh block of `spool` commands line by line in a shell where
 * `spool` is the built CLI. A block that must not run (the quickstart's `npm install`)
 * is preceded by an HTML comment `<!-- not run: why -->`.
 */
import { spawnSync } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { CLI_TEST_TIMEOUT_MS } from '../helpers/run-cli.js'
import { tempDir } from '../helpers/temp-dir.js'

const ROOT = path.resolve(import.meta.dirname, '../..')
const README = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8')
const TSX = path.join(ROOT, 'node_modules/.bin/tsx')

interface Block {
  language: string
  code: string
  line: number
  skipped: string | null
}

function blocks(markdown: string): Block[] {
  const out: Block[] = []
  const lines = markdown.split('\n')
  for (let i = 0; i < lines.length; i++) {
    const open = /^```(\w+)\s*$/.exec(lines[i]!)
    if (open === null) continue
    const start = i
    const body: string[] = []
    for (i++; i < lines.length && lines[i] !== '```'; i++) body.push(lines[i]!)
    const before = lines.slice(Math.max(0, start - 2), start).join('\n')
    const skipped = /<!-- not run: (.*?) -->/.exec(before)?.[1] ?? null
    out.push({ language: open[1]!, code: body.join('\n'), line: start + 1, skipped })
  }
  return out
}

/** A project directory in which `import 'spool'` is this package, and a `spool` command on PATH. */
function project(): { dir: string; env: NodeJS.ProcessEnv } {
  const dir = tempDir('spool-readme-')
  fs.mkdirSync(path.join(dir, 'node_modules'))
  fs.symlinkSync(ROOT, path.join(dir, 'node_modules', 'spool'), 'dir')
  const bin = path.join(dir, 'bin')
  fs.mkdirSync(bin)
  fs.writeFileSync(path.join(bin, 'spool'), `#!/bin/sh\nexec "${process.execPath}" "${path.join(ROOT, 'dist/cli/main.js')}" "$@"\n`, { mode: 0o755 })
  return { dir, env: { ...process.env, PATH: `${bin}:${process.env['PATH'] ?? ''}`, SPOOL_DATA_DIR: path.join(dir, 'spool-data') } }
}

const all = blocks(README)
const runnable = all.filter((b) => b.skipped === null && ['ts', 'js', 'sh'].includes(b.language))

describe('README examples run as written', { timeout: CLI_TEST_TIMEOUT_MS }, () => {
  it('has examples to run, and says why for each one it does not run', () => {
    expect(runnable.filter((b) => b.language === 'ts').length).toBeGreaterThanOrEqual(2)
    expect(runnable.filter((b) => b.language === 'sh').length).toBeGreaterThanOrEqual(1)
    for (const block of all.filter((b) => b.skipped !== null)) expect(block.skipped!.length, `README line ${block.line}`).toBeGreaterThan(5)
  })

  it('the quickstart\'s demo (npm start) runs and checks its claims, in a data directory of its own', () => {
    const { dir, env } = project()
    const result = spawnSync(process.execPath, [path.join(ROOT, 'dist/demo.js')], { cwd: dir, env, encoding: 'utf8', timeout: CLI_TEST_TIMEOUT_MS })
    expect(result.status, `${result.stdout}\n${result.stderr}`).toBe(0)
    expect(result.stdout).toContain(`spool demo: data in ${env['SPOOL_DATA_DIR']}`)
  })

  for (const block of runnable) {
    it(`${block.language} block at README line ${block.line}`, () => {
      const { dir, env } = project()
      let result
      if (block.language === 'ts') {
        const file = path.join(dir, `example-${block.line}.mts`)
        fs.writeFileSync(file, block.code)
        result = spawnSync(TSX, [file], { cwd: dir, env, encoding: 'utf8', timeout: CLI_TEST_TIMEOUT_MS })
      } else if (block.language === 'js') {
        const file = path.join(dir, `example-${block.line}.cjs`)
        fs.writeFileSync(file, block.code)
        result = spawnSync(process.execPath, [file], { cwd: dir, env, encoding: 'utf8', timeout: CLI_TEST_TIMEOUT_MS })
      } else {
        // One command a line, as a user pastes them: the first that fails stops the block.
        result = spawnSync('bash', ['-e', '-o', 'pipefail', '-c', block.code], { cwd: dir, env, encoding: 'utf8', timeout: CLI_TEST_TIMEOUT_MS })
      }
      expect(result.status, `README line ${block.line}:\n${result.stdout}\n${result.stderr}`).toBe(0)
    })
  }
})
