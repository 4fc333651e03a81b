import fs from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { readInt64, writeInt64 } from '../../src/record/int64.js'
import { asAfterCrash, layoutOf } from '../fault/damage.js'
import { openTestSpool } from '../helpers/open-spool.js'
import { CLI_TEST_TIMEOUT_MS, runCli } from '../helpers/run-cli.js'
import { tempDir } from '../helpers/temp-dir.js'

const T0 = 1_700_000_000_000

/** A data directory with one single-partition topic of several sealed segments, written and closed. */
async function writtenDataDir(): Promise<{ dataDir: string; dir: string; written: number }> {
  const dataDir = tempDir()
  const spool = await openTestSpool(dataDir)
  await spool.createTopic('events', { segmentBytes: 2048, indexIntervalBytes: 256 })
  const producer = spool.producer()
  for (let i = 0; i < 40; i++) {
    await producer.sendBatch([0, 1, 2].map((k) => ({ topic: 'events', key: `k${k}`, value: `event ${i}-${k} ${'x'.repeat(40)}`, timestamp: T0 + i * 1000 + k })))
  }
  await spool.close()
  return { dataDir, dir: path.join(dataDir, 'events-0'), written: 120 }
}

/** Every value of the partition, read from `fromOffset` by a writable open (which repairs what it finds wrong). */
async function readFrom(dataDir: string, fromOffset: number): Promise<number[]> {
  const spool = await openTestSpool(dataDir)
  const offsets: number[] = []
  for await (const record of spool.read('events', { partition: 0, fromOffset })) offsets.push(record.offset)
  await spool.close()
  return offsets
}

interface VerifyJson {
  ok: boolean
  problems: Array<{ file: string; verdict: string }>
  warnings: Array<{ file: string; offset: number | null; why: string; action: string }>
}

describe('spool segments verify: a damaged index is a warning (the built CLI, as a subprocess)', { timeout: CLI_TEST_TIMEOUT_MS }, () => {
  it('warns about a bad offset entry and an unusable index file, exits 0, and spool rebuilds both as the warnings say', async () => {
    const { dataDir, dir, written } = await writtenDataDir()
    const [first, second] = fs
      .readdirSync(dir)
      .filter((name) => name.endsWith('.index'))
      .sort()
      .map((name) => path.join(dir, name))
    // An entry that points 3 bytes off its batch, and a file whose size is no whole number of entries.
    const entries = fs.readFileSync(first!)
    const badOffset = Number(path.basename(first!).slice(0, 20)) + entries.readUInt32BE(0)
    entries.writeUInt32BE(entries.readUInt32BE(4) + 3, 4)
    fs.writeFileSync(first!, entries)
    fs.appendFileSync(second!, Buffer.from([1, 2, 3]))

    const result = runCli(['--data-dir', dataDir, 'segments', 'verify'])
    expect(result.code, result.stdout + result.stderr).toBe(0)
    const lines = result.stdout.trimEnd().split('\n')
    expect(lines).toContainEqual(
      expect.stringMatching(
        new RegExp(`^warning: ${first}: the entry for offset ${badOffset}: no batch of base offset ${badOffset} starts at byte \\d+ — spool rebuilds this index from the \\.log at the first read that uses the entry$`),
      ),
    )
    expect(lines).toContainEqual(expect.stringMatching(new RegExp(`^warning: ${second}: .+ — spool rebuilds it from the \\.log when it next loads the segment$`)))
    expect(lines.at(-1)).toMatch(/: OK, 2 index warnings$/)
    expect(result.stdout).not.toMatch(/CORRUPT/)

    const json = JSON.parse(runCli(['--data-dir', dataDir, '--json', 'segments', 'verify']).stdout) as VerifyJson
    expect(json.ok).toBe(true)
    expect(json.problems).toEqual([])
    expect(json.warnings.map((w) => [w.file, w.offset])).toEqual([
      [first, badOffset],
      [second, null],
    ])

    // What the warnings promise: every record reads, from the start and from the bad entry,
    // and the indexes are then rebuilt on disk.
    expect(await readFrom(dataDir, 0)).toEqual(Array.from({ length: written }, (_, i) => i))
    expect((await readFrom(dataDir, badOffset))[0]).toBe(badOffset)
    const after = runCli(['--data-dir', dataDir, 'segments', 'verify'])
    expect(after.code).toBe(0)
    expect(after.stdout).not.toMatch(/warning/)
    expect(after.stdout).toMatch(/: OK$/m)
  })

  it('warns about a time index entry, saying what it costs and how to have it rebuilt', async () => {
    const { dataDir, dir } = await writtenDataDir()
    const timeIndex = path.join(dir, fs.readdirSync(dir).filter((name) => name.endsWith('.timeindex')).sort()[0]!)
    const bytes = fs.readFileSync(timeIndex)
    writeInt64(bytes, 0, readInt64(bytes, 0) - 500) // earlier than a record it covers (still in order)
    fs.writeFileSync(timeIndex, bytes)
    const result = runCli(['--data-dir', dataDir, 'segments', 'verify'])
    expect(result.code, result.stdout).toBe(0)
    expect(result.stdout).toMatch(
      new RegExp(`^warning: ${timeIndex}: the entry for offset \\d+: a record up to offset \\d+ is stamped \\d+, later than the entry — lookups by time may answer a later offset until this index is rebuilt: delete the file, and spool rebuilds it from the \\.log when it next loads the segment$`, 'm'),
    )
    fs.rmSync(timeIndex)
    await readFrom(dataDir, 0) // loads every segment: the missing index is rebuilt
    expect(runCli(['--data-dir', dataDir, 'segments', 'verify']).stdout).not.toMatch(/warning/)
  })

  it('after a crash, a cut last batch with an index entry into it is a torn tail and a warning: exit 0', async () => {
    const { dataDir, dir } = await writtenDataDir()
    asAfterCrash(dir)
    const last = layoutOf(dir).at(-1)!
    const lastLog = path.join(dir, last.file)
    const index = lastLog.replace(/\.log$/, '.index')
    const base = Number(last.file.slice(0, 20))
    // The entry a checkpoint wrote for the last batch, before the crash cut it.
    const entry = Buffer.alloc(8)
    entry.writeUInt32BE(last.baseOffset - base, 0)
    entry.writeUInt32BE(last.position, 4)
    const entries = fs.readFileSync(index)
    if (entries.length < 8 || entries.readUInt32BE(entries.length - 8) < last.baseOffset - base) fs.appendFileSync(index, entry)
    fs.truncateSync(lastLog, last.position + 30)

    const result = runCli(['--data-dir', dataDir, 'segments', 'verify'])
    expect(result.code, result.stdout).toBe(0)
    expect(result.stdout).toMatch(new RegExp(`^torn tail: ${lastLog}: at byte ${last.position} .*recovery truncates it on the next open$`, 'm'))
    expect(result.stdout).toMatch(new RegExp(`^warning: ${index}: the entry for offset ${last.baseOffset}: `, 'm'))
    expect(result.stdout).not.toMatch(/CORRUPT/)
  })

  it('still exits 1 when a batch is damaged, with the index warnings beside it', async () => {
    const { dataDir, dir } = await writtenDataDir()
    const victim = layoutOf(dir)[3]!
    const log = path.join(dir, victim.file)
    const bytes = fs.readFileSync(log)
    bytes[victim.position + 70] = bytes[victim.position + 70]! ^ 0x10
    fs.writeFileSync(log, bytes)
    fs.appendFileSync(log.replace(/\.log$/, '.index'), Buffer.from([9]))
    const result = runCli(['--data-dir', dataDir, 'segments', 'verify'])
    expect(result.code).toBe(1)
    expect(result.stdout).toContain(`CORRUPT: ${log}: at byte ${victim.position} (offset ${victim.baseOffset}): CRC mismatch`)
    expect(result.stdout.trimEnd().split('\n').at(-1)).toMatch(/: 1 CORRUPT, 1 index warning$/)
  })
})

describe('spool segments index', { timeout: CLI_TEST_TIMEOUT_MS }, () => {
  it('refuses a .log as a usage error (exit 2), in one line', async () => {
    const { dir } = await writtenDataDir()
    const log = path.join(dir, '00000000000000000000.log')
    const result = runCli(['segments', 'index', log])
    expect(result.code).toBe(2)
    expect(result.stdout).toBe('')
    expect(result.stderr.trim().split('\n')).toEqual([`spool: ${log} is not a .index or .timeindex file; \`spool segments dump\` reads .log files [INVALID_ARGUMENT]`])
    const json = runCli(['--json', 'segments', 'index', log])
    expect(json.code).toBe(2)
    expect(JSON.parse(json.stderr)).toMatchObject({ error: { code: 'INVALID_ARGUMENT' } })
  })
})
