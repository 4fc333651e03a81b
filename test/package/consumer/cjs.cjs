// A CommonJS module of a project that installed spool: require('spool') gives load(),
// which imports the ES module; the ES module's names throw, saying how to get them.
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const assert = require('node:assert/strict')

const spoolPackage = require('spool')
assert.throws(() => spoolPackage.openSpool, (error) => error.code === 'ERR_REQUIRE_ESM' && /await require\('spool'\)\.load\(\)/.test(error.message))

async function main() {
  const { openSpool } = await spoolPackage.load()
  assert.equal(openSpool, (await import('spool')).openSpool, 'load() gives the same module as import()')
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'spool-package-cjs-'))
  try {
    const spool = await openSpool({ dir })
    await spool.createTopic('orders')
    const { offset } = await spool.producer().send({ topic: 'orders', value: 'hello' })
    assert.equal(offset, 0)
    await spool.close()
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
  console.log('cjs ok')
}
main().catch((error) => {
  console.error(error)
  process.exit(1)
})
