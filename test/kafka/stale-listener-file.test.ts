import fs from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { LISTENER_FILE } from '../../src/storage/paths.js'
import { openTestSpool } from '../helpers/open-spool.js'
import { tempDir } from '../helpers/temp-dir.js'

describe('a listener file left by a killed process', () => {
  it('is removed by the next writable open (its lock proves no listener runs), and left alone by a read-only one', async () => {
    const dir = tempDir()
    await (await openTestSpool(dir)).close()
    const file = path.join(dir, LISTENER_FILE)
    fs.writeFileSync(file, JSON.stringify({ host: '127.0.0.1', port: 1, advertisedHost: '127.0.0.1', pid: 999_999 }))
    await (await openTestSpool(dir, { readOnly: true })).close()
    expect(fs.existsSync(file)).toBe(true)
    await (await openTestSpool(dir)).close()
    expect(fs.existsSync(file)).toBe(false)
  })
})
