#!/usr/bin/env node
// npm's `prepare` script: builds dist/ with TypeScript. npm runs it on `npm install` and
// `npm ci` in a clone, before `npm pack` and `npm publish`, and in the package's folder
// when another project installs spool from a git URL or from a folder (never for a
// tarball or the registry: those ship dist/ built).
//
// Plain JavaScript, no dependency: it must run where the devDependencies are missing.
//   - TypeScript installed: removes the files of dist/ whose source is gone (so that
//     `npm pack` never ships a stale module), then runs tsc.
//   - TypeScript missing, and another project is installing this folder
//     (`npm install /path/to/spool`, where npm neither installs the folder's
//     devDependencies nor, when it links it, its dependencies): runs `npm ci` here first,
//     which installs them and builds through this same script.
//   - TypeScript missing otherwise (`npm ci --omit=dev` in a clone): keeps an existing
//     build, or fails saying what to run.
import { spawnSync } from 'node:child_process'
import fs from 'node:fs'
import { createRequire } from 'node:module'
import path from 'node:path'

const root = path.resolve(import.meta.dirname, '..')
const dist = path.join(root, 'dist')
const BOOTSTRAPPED = 'SPOOL_PREPARE_BOOTSTRAPPED'

function typescriptCompiler() {
  try {
    return createRequire(path.join(root, 'package.json')).resolve('typescript/bin/tsc')
  } catch {
    return null
  }
}

/** The source a file of dist/ was compiled from: `cli/main.js` ← `src/cli/main.ts`. */
function sourcesOf(relative) {
  const match = /^(.*)\.d\.([cm]?)ts(?:\.map)?$/.exec(relative) ?? /^(.*)\.([cm]?)js(?:\.map)?$/.exec(relative)
  if (match === null) return null
  return [`${match[1]}.${match[2]}ts`, `${match[1]}.${match[2]}tsx`].map((file) => path.join(root, 'src', file))
}

/** Deletes the files of dist/ that no source of src/ compiles to any more (and emptied folders). */
function pruneOrphans(dir = dist) {
  if (!fs.existsSync(dir)) return
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const file = path.join(dir, entry.name)
    if (entry.isDirectory()) {
      pruneOrphans(file)
      if (fs.readdirSync(file).length === 0) fs.rmdirSync(file)
      continue
    }
    const sources = sourcesOf(path.relative(dist, file))
    if (sources !== null && !sources.some((source) => fs.existsSync(source))) {
      fs.rmSync(file)
      console.error(`prepare: removed dist/${path.relative(dist, file)} (its source is gone)`)
    }
  }
}

function run(command, args, options = {}) {
  const result = spawnSync(command, args, { cwd: root, stdio: 'inherit', ...options })
  if (result.error) throw result.error
  return result.status ?? 1
}

/**
 * `npm ci` in this folder, with the settings of the npm that runs this script except
 * those that would point it elsewhere (its project, global, omitted dependency types).
 */
function installHere() {
  const structural = /^npm_config_(local_prefix|prefix|global|global_prefix|location|omit|include|only|production|dev|also|save.*|workspaces?|include_workspace_root|install_links|install_strategy|package_lock.*|dry_run|ignore_scripts|lockfile_version|force)$/i
  const env = { [BOOTSTRAPPED]: '1' }
  for (const [name, value] of Object.entries(process.env)) {
    if (value === undefined || structural.test(name) || /^(npm_package_|npm_lifecycle_)/i.test(name) || name === 'npm_command' || name === 'INIT_CWD') continue
    env[name] = value
  }
  const command = fs.existsSync(path.join(root, 'package-lock.json')) ? 'ci' : 'install'
  const npmCli = process.env.npm_execpath
  const [file, args] = npmCli?.endsWith('.js') ? [process.execPath, [npmCli]] : [npmCli ?? 'npm', []]
  console.error(`prepare: spool is being installed from its folder ${root}, whose build tools are not installed: running npm ${command} there`)
  return run(file, [...args, command, '--include=dev', '--no-audit', '--no-fund'], { env })
}

const tsc = typescriptCompiler()
const installedFromElsewhere = process.env.INIT_CWD !== undefined && path.resolve(process.env.INIT_CWD) !== root

if (tsc !== null) {
  pruneOrphans()
  process.exitCode = run(process.execPath, [tsc, '-p', path.join(root, 'tsconfig.json')])
} else if (installedFromElsewhere && process.env[BOOTSTRAPPED] === undefined) {
  // The nested npm ci runs this script again, with TypeScript: that builds dist/.
  process.exitCode = installHere()
} else if (fs.existsSync(path.join(dist, 'index.js'))) {
  console.error('prepare: TypeScript is not installed (devDependencies omitted): keeping the build already in dist/')
} else {
  console.error(
    `prepare: cannot build spool: TypeScript is not installed in ${root}.\n` +
      '  Run `npm ci` there (it installs the devDependencies and builds dist/), or install spool\n' +
      '  from a packed tarball or a git URL (README, "Install").',
  )
  process.exitCode = 1
}
