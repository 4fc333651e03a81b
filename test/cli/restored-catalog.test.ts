import fs from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { expectKept, fileHashes } from '../helpers/file-hashes.js'
import { CLI_TEST_TIMEOUT_MS, runCli } from '../helpers/run-cli.js'
import { tempDir } from '../helpers/temp-dir.js'

function spoolWith(topics: string[]): { dir: string; cli: (args: string[], input?: string) => ReturnType<typeof runCli> } {
  const dir = tempDir()
  const cli = (args: string[], input?: string) => runCli(['--data-dir', dir, ...args], input)
  for (const topic of topics) {
    expect(cli(['topics', 'create', topic]).code).toBe(0)
    expect(cli(['produce', topic, '--quiet'], 'one\ntwo\nthree\n').code).toBe(0)
  }
  return { dir, cli }
}

const topicIdOf = (dir: string, topic: string): string =>
  (JSON.parse(fs.readFileSync(path.join(dir, 'topics.json'), 'utf8')) as { topics: { name: string; topicId: string }[] }).topics.find((t) => t.name === topic)!.topicId

describe('partition directories are deleted only by a recorded delete', { timeout: CLI_TEST_TIMEOUT_MS }, () => {
  it('a topics.json restored from an older backup deletes nothing: the topic it does not name is kept and reported', () => {
    const { dir, cli } = spoolWith(['older'])
    const backup = fs.readFileSync(path.join(dir, 'topics.json'))
    expect(cli(['topics', 'create', 'newer']).code).toBe(0)
    expect(cli(['produce', 'newer', '--quiet'], 'a\nb\n').code).toBe(0)
    fs.writeFileSync(path.join(dir, 'topics.json'), backup) // the advice of CORRUPT_CATALOG, followed
    const before = fileHashes(dir)

    const created = cli(['topics', 'create', 'third']) // a writable open
    expect(created.code).toBe(0)
    expectKept(before, fileHashes(dir), (file) => file === 'topics.json')
    expect(created.stderr).toMatch(/partition directories the topic catalog does not name: newer-0; they are kept/)

    // Creating the unnamed topic again would hand its old records to a new topic: refused, and nothing changes.
    const again = fileHashes(dir)
    const refused = cli(['topics', 'create', 'newer'])
    expect(refused.code).not.toBe(0)
    expect(refused.stderr).toMatch(/newer-0 already exists/)
    expect(fileHashes(dir)).toEqual(again)
  })

  it('finishes a delete the catalog recorded, and undoes one it did not', () => {
    const { dir, cli } = spoolWith(['kept', 'gone', 'back'])
    // `gone`: marked and dropped from the catalog, the crash came before the removal.
    const goneMarked = `gone-0.${topicIdOf(dir, 'gone')}.deleted`
    fs.renameSync(path.join(dir, 'gone-0'), path.join(dir, goneMarked))
    const catalog = JSON.parse(fs.readFileSync(path.join(dir, 'topics.json'), 'utf8')) as { topics: { name: string }[] }
    catalog.topics = catalog.topics.filter((t) => t.name !== 'gone')
    fs.writeFileSync(path.join(dir, 'topics.json'), JSON.stringify(catalog))
    // `back`: marked, but the crash came before the catalog write that commits the delete.
    const backMarked = `back-0.${topicIdOf(dir, 'back')}.deleted`
    fs.renameSync(path.join(dir, 'back-0'), path.join(dir, backMarked))
    const before = fileHashes(dir)

    const produced = cli(['produce', 'kept', '--quiet'], 'four\n')
    expect(produced.code).toBe(0)
    expect(produced.stderr).toMatch(/finishing the delete of gone-0/)
    expect(fs.existsSync(path.join(dir, goneMarked))).toBe(false)
    expect(fs.existsSync(path.join(dir, backMarked))).toBe(false)
    const restored = (file: string): string => file.replace(backMarked, 'back-0')
    // The produce writes `kept-0`, and its producer takes an id (producer-ids.json).
    const gone = (file: string): boolean => file.startsWith(goneMarked) || file.startsWith('kept-0') || file === 'producer-ids.json'
    expectKept(Object.fromEntries(Object.entries(before).map(([file, hash]) => [restored(file), hash])), fileHashes(dir), gone)
    expect(cli(['consume', 'back']).stdout.trim().split('\n')).toHaveLength(3)
  })
})
