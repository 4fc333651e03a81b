import fs from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { expectCode } from '../helpers/expect-code.js'
import { openTestSpool } from '../helpers/open-spool.js'
import { tempDir } from '../helpers/temp-dir.js'

describe('opening a data directory that is not there (what the CLI relies on)', () => {
  it('openSpool creates it by default; create: false and readOnly fail with DATA_DIR_NOT_FOUND and make nothing', async () => {
    const parent = tempDir()
    const missing = path.join(parent, 'a', 'b')
    for (const options of [{ create: false }, { readOnly: true }, { readOnly: true, create: true }]) {
      const error = await expectCode(openTestSpool(missing, options), 'DATA_DIR_NOT_FOUND')
      expect(error.message).toBe(`the data directory ${missing} does not exist; check --data-dir (or $SPOOL_DATA_DIR)`)
      expect(error.details).toMatchObject({ dir: missing, errno: 'ENOENT' })
    }
    expect(fs.readdirSync(parent)).toEqual([])
    const file = path.join(parent, 'file')
    fs.writeFileSync(file, '')
    await expectCode(openTestSpool(file, { readOnly: true }), 'DATA_DIR_NOT_FOUND')
    await expectCode(openTestSpool(missing, { create: 'yes' as unknown as boolean }), 'INVALID_ARGUMENT')

    const spool = await openTestSpool(missing) // the library's default: mkdir -p
    await spool.close()
    expect(fs.statSync(missing).isDirectory()).toBe(true)
    const again = await openTestSpool(missing, { create: false })
    await again.close()
  })
})
