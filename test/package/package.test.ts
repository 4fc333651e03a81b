/**
 * The package as npm packs it and as other projects load it, checked against the built
 * tree (npm test builds dist/ first): what `npm pack` ships, what `import('spool')` and
 * `require('spool')` give through package.json's `exports`, and what TypeScript says to a
 * project compiling to ES modules or to CommonJS.
 *
 * The end-to-end check (a clean clone, `npm ci`, `npm pack`, a fresh project installing
 * the tarball, the folder and a git URL) needs the registry or a warm npm cache and takes
 * a minute or more: scripts/check-package.sh, run here when SPOOL_CHECK_PACKAGE=1.
 */
import { spawnSync, type SpawnSyncOptions } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { CHILD_SAFETY_TIMEOUT_MS } from '../helpers/safety-timeout.js'
import { tempDir } from '../helpers/temp-dir.js'

const ROOT = path.resolve(import.meta.dirname, '../..')
const CONSUMER = path.join(import.meta.dirname, 'consumer')
const TSC = path.join(ROOT, 'node_modules/typescript/bin/tsc')
/** scripts/check-package.sh: minutes on a loaded machine (a guard against hangs, not a speed check). */
const CHECK_PACKAGE_TIMEOUT_MS = 30 * 60_000

interface PackageJson {
  version: string
  main: string
  types: string
  bin: Record<string, string>
  exports: Record<string, string | Record<string, Record<string, string>>>
  files: string[]
}
const PACKAGE = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as PackageJson

function run(command: string, args: string[], options: SpawnSyncOptions = {}): { code: number; stdout: string; stderr: string } {
  const result = spawnSync(command, args, { cwd: ROOT, encoding: 'utf8', timeout: CHILD_SAFETY_TIMEOUT_MS, ...options })
  if (result.error) throw result.error
  return { code: result.status ?? -1, stdout: String(result.stdout), stderr: String(result.stderr) }
}

/** Runs a script with node from the repository's root, where `spool` names the package itself (self-reference). */
function node(args: string[]): string {
  const result = run(process.execPath, args)
  expect(result.stderr, `node ${args.join(' ')}`).toBe('')
  expect(result.code).toBe(0)
  return result.stdout
}

/** Every file path that `exports`, `main`, `types` and `bin` point to. */
function entryPoints(): string[] {
  const targets: string[] = [PACKAGE.main, PACKAGE.types, ...Object.values(PACKAGE.bin)]
  const walk = (value: unknown): void => {
    if (typeof value === 'string') targets.push(value)
    else if (value !== null && typeof value === 'object') Object.values(value).forEach(walk)
  }
  walk(PACKAGE.exports)
  return [...new Set(targets.map((target) => path.posix.normalize(target)))]
}

describe('the package', () => {
  it('npm pack ships dist/, its sources and FORMAT.md, with every entry point, and nothing of the tests', () => {
    // --ignore-scripts: pack the tree as built, without running prepare (a build) again.
    const result = run('npm', ['pack', '--dry-run', '--json', '--ignore-scripts', '--loglevel=error'])
    expect(result.code, result.stderr).toBe(0)
    const [packed] = JSON.parse(result.stdout) as [{ files: { path: string }[] }]
    const files = new Set(packed.files.map((file) => file.path))

    for (const entry of entryPoints()) expect(files, `entry point ${entry}`).toContain(entry)
    for (const file of ['package.json', 'README.md', 'segments/FORMAT.md', 'dist/index.d.ts', 'src/index.ts', 'src/cjs.cts']) {
      expect(files, file).toContain(file)
    }
    const outside = [...files].filter((file) => !/^(dist|src)\//.test(file) && !['package.json', 'README.md', 'segments/FORMAT.md'].includes(file))
    expect(outside).toEqual([])
    // The source maps point at the shipped sources.
    const map = JSON.parse(fs.readFileSync(path.join(ROOT, 'dist/index.js.map'), 'utf8')) as { sources: string[] }
    for (const source of map.sources) expect(files).toContain(path.posix.join('dist', source))
  })

  it("import('spool') gives the whole API; require('spool') gives load(), which gives the same module", () => {
    const esm = JSON.parse(node(['--input-type=module', '-e', "console.log(JSON.stringify(Object.keys(await import('spool'))))"])) as string[]
    expect(esm).toEqual(expect.arrayContaining(['openSpool', 'Spool', 'PartitionLog', 'SpoolError', 'ERROR_CODES']))

    const cjs = JSON.parse(
      node([
        '-e',
        `const spool = require('spool')
        const thrown = {}
        for (const name of Object.getOwnPropertyNames(spool)) {
          try { spool[name] } catch (error) { thrown[name] = error.code + ': ' + error.message }
        }
        spool.load().then(async (loaded) => {
          const same = loaded === await import('spool')
          console.log(JSON.stringify({ enumerable: Object.keys(spool), thrown, same }))
        })`,
      ]),
    ) as { enumerable: string[]; thrown: Record<string, string>; same: boolean }
    expect(cjs.enumerable).toEqual(['load'])
    expect(cjs.same).toBe(true)
    // Every name of the ES module is there in CommonJS, and throws, saying how to get it.
    expect(Object.keys(cjs.thrown).sort()).toEqual([...esm].sort())
    expect(cjs.thrown.openSpool).toBe(
      `ERR_REQUIRE_ESM: spool is an ES module: require('spool') cannot give 'openSpool'. ` +
        `In CommonJS, use "const { openSpool } = await require('spool').load()" (or "await import('spool')"); ` +
        `in an ES module, "import { openSpool } from 'spool'".`,
    )
  })

  it('TypeScript: ES modules get the full types; CommonJS gets load(), and `import { openSpool }` fails at type-check time', () => {
    // A project beside the repository, with spool linked in as npm links a folder.
    const project = tempDir('spool-package-ts-')
    fs.cpSync(CONSUMER, project, { recursive: true })
    fs.writeFileSync(path.join(project, 'package.json'), JSON.stringify({ name: 'consumer', version: '1.0.0', type: 'commonjs' }))
    fs.mkdirSync(path.join(project, 'node_modules'))
    fs.symlinkSync(ROOT, path.join(project, 'node_modules/spool'), 'dir')
    fs.symlinkSync(path.join(ROOT, 'node_modules/@types'), path.join(project, 'node_modules/@types'), 'dir')
    fs.writeFileSync(path.join(project, 'tsconfig.all.json'), JSON.stringify({ extends: './tsconfig.json', compilerOptions: { noEmit: true }, files: ['typed-esm.mts', 'typed-cjs.ts', 'wrong-cjs.ts'] }))
    /** The errors tsc reports, one a line. */
    const errors = (args: string[]): string[] => {
      const result = run(process.execPath, [TSC, ...args], { cwd: project })
      expect(result.stderr).toBe('')
      return result.stdout.split('\n').filter((line) => line.includes('error TS'))
    }
    const onlyWrongImport = [`wrong-cjs.ts(4,10): error TS2305: Module '"spool"' has no exported member 'openSpool'.`]

    // module nodenext: typed-esm.mts (ES module) and typed-cjs.ts (CommonJS, load()) type-check.
    expect(errors(['-p', 'tsconfig.all.json'])).toEqual(onlyWrongImport)
    // module commonjs resolves with package.json's `types`, not `exports`: the same answer.
    const node10 = ['--module', 'commonjs', '--moduleResolution', 'node10', '--target', 'es2022', '--lib', 'es2022', '--types', 'node', '--strict', '--noEmit']
    expect(errors([...node10, 'typed-cjs.ts', 'wrong-cjs.ts'])).toEqual(onlyWrongImport)
  })

  it.runIf(process.env.SPOOL_CHECK_PACKAGE === '1')(
    'end to end: a clean clone packs, and fresh projects install the tarball, the folder and a git URL (scripts/check-package.sh)',
    () => {
      const result = run('bash', [path.join(ROOT, 'scripts/check-package.sh')], { timeout: CHECK_PACKAGE_TIMEOUT_MS })
      expect(result.code, result.stdout + result.stderr).toBe(0)
    },
    CHECK_PACKAGE_TIMEOUT_MS + 60_000,
  )
})
