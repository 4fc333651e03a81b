import fs from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { expectCode } from '../helpers/expect-code.js'
import { openTestSpool } from '../helpers/open-spool.js'
import { tempDir } from '../helpers/temp-dir.js'

/** LevelDB's own diagnostics: it writes its info log (and the lock file) on every attempt to open. */
const INFO_FILES = new Set(['LOG', 'LOG.old', 'LOCK'])

/** A data directory with a topic of 3 records and a group that committed offset 2. */
async function withGroup(): Promise<string> {
  const dir = tempDir()
  const spool = await openTestSpool(dir)
  await spool.createTopic('orders')
  const producer = spool.producer()
  for (const value of ['a', 'b', 'c']) await producer.send({ topic: 'orders', value })
  const consumer = spool.consumer({ group: 'workers', topics: ['orders'], autoCommit: false })
  await consumer.poll({ maxRecords: 2 })
  await consumer.commit()
  await spool.close()
  return dir
}

const damages: [string, (groups: string) => void][] = [
  ['CURRENT names a manifest that does not exist', (groups) => fs.writeFileSync(path.join(groups, 'CURRENT'), 'MANIFEST-999999\n')],
  ['a file where the store directory should be', (groups) => {
    fs.rmSync(groups, { recursive: true })
    fs.writeFileSync(groups, 'not a database')
  }],
]

describe('hostile directory: a group offset store that will not open', () => {
  it.each(damages)('%s: groups fail with CORRUPT_GROUP_STORE, topics still work, nothing is changed', async (_, damage) => {
    const dir = await withGroup()
    const groups = path.join(dir, 'groups')
    damage(groups)
    const snapshot = (): string => JSON.stringify(fs.statSync(groups).isDirectory() ? fs.readdirSync(groups).filter((f) => !INFO_FILES.has(f)).sort().map((f) => [f, fs.readFileSync(path.join(groups, f)).toString('base64')]) : fs.readFileSync(groups, 'base64'))
    const before = snapshot()

    const spool = await openTestSpool(dir)
    const values: string[] = []
    for await (const record of spool.read('orders')) values.push(record.value!.toString())
    expect(values).toEqual(['a', 'b', 'c'])
    const error = await expectCode(spool.describeGroup('workers'), 'CORRUPT_GROUP_STORE')
    expect(error.message).toContain(groups)
    const consumer = spool.consumer({ group: 'workers', topics: ['orders'] })
    await expectCode(consumer.poll({ timeoutMs: 2_000 }), 'CORRUPT_GROUP_STORE')
    await spool.close()
    expect(snapshot()).toBe(before)
  })
})
