/**
 * The CommonJS entry of the package: what `require('spool')` gets.
 *
 * spool is an ES module, and no Node version can `require()` it: Node 20 refuses ES
 * modules (`ERR_REQUIRE_ESM`), and Node 22 and later refuse one whose graph has a
 * top-level await (`ERR_REQUIRE_ASYNC_MODULE`; the zstd codec compiles its WebAssembly at
 * load). So CommonJS code gets `load()`, which imports the ES module:
 *
 *   const { openSpool } = await require('spool').load()
 *
 * (`await import('spool')` works as well, where the compiler leaves `import()` alone.)
 * Every other name the ES module exports throws here, saying so, with the code
 * `ERR_REQUIRE_ESM`. This file's declarations (`dist/cjs.d.cts`, which the `require`
 * condition of package.json's `exports` points TypeScript at) hold only `load`: a
 * TypeScript project that compiles to CommonJS is told at type-check time that
 * `import { openSpool } from 'spool'` has no such export, instead of emitting a
 * `require('spool')` that fails at run time.
 */

/** The spool module (what `import * as spool from 'spool'` gives an ES module). */
export type SpoolModule = typeof import('./index.js')

/** Imports spool's ES module from CommonJS: `const { openSpool } = await require('spool').load()`. */
export function load(): Promise<SpoolModule> {
  return import('./index.js')
}

/** The ES module's exports (test/package checks that the list is complete). */
const ESM_EXPORTS = [
  'Consumer',
  'DATA_DIR_ENV',
  'DEFAULT_DATA_DIR',
  'ERROR_CODES',
  'PartitionLog',
  'Producer',
  'Spool',
  'SpoolError',
  'isSpoolError',
  'murmur2',
  'openSpool',
  'partitionForKey',
  'toPositive',
] as const satisfies readonly (keyof SpoolModule)[]

function esmOnly(name: string): Error {
  const error = new Error(
    `spool is an ES module: require('spool') cannot give '${name}'. ` +
      `In CommonJS, use "const { ${name} } = await require('spool').load()" (or "await import('spool')"); ` +
      `in an ES module, "import { ${name} } from 'spool'".`,
  )
  return Object.assign(error, { code: 'ERR_REQUIRE_ESM' })
}

for (const name of ESM_EXPORTS) {
  Object.defineProperty(exports, name, {
    enumerable: false,
    get: () => {
      throw esmOnly(name)
    },
  })
}
