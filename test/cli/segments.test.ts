import crypto from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { OFFSET_CRC } from '../../src/record/batch-format.js'
import { acquireDirLock } from '../../src/storage/dir-lock.js'
import { nodeIO } from '../../src/storage/io.js'
import type { ExpectedRecord, ExpectedSegment } from '../../scripts/golden-expected.js'
import { asAfterCrash, damage, layoutOf } from '../fault/damage.js'
import { expectCode } from '../helpers/expect-code.js'
import { openTestSpool } from '../helpers/open-spool.js'
import { CLI_TEST_TIMEOUT_MS, runCli } from '../helpers/run-cli.js'
import { tempDir } from '../helpers/temp-dir.js'

const GOLDEN = path.join(import.meta.dirname, '../../segments/golden/v1')
const golden = JSON.parse(fs.readFileSync(path.join(GOLDEN, 'expected.json'), 'utf8')) as { segments: ExpectedSegment[]; records: ExpectedRecord[] }

function hashTree(dir: string): Record<string, string> {
  const out: Record<string, string> = {}
  for (const entry of fs.readdirSync(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue
    const file = path.join(entry.parentPath, entry.name)
    const name = path.relative(dir, file)
    if (name.split(path.sep).some((part) => part === '.writer-lock' || part === '.lock')) continue // the lock's own files
    out[name] = crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex')
  }
  return out
}

interface DumpedBatch {
  baseOffset: number
  lastOffset: number
  position: number
  sizeBytes: number
  recordCount: number
  crc: string
  crcOk: boolean
  records: ExpectedRecord[]
}

/** A data directory with one topic of several sealed segments, written and closed. */
async function writtenDataDir(): Promise<string> {
  const dir = tempDir()
  const spool = await openTestSpool(dir)
  await spool.createTopic('events', { segmentBytes: 2048, indexIntervalBytes: 256 })
  const producer = spool.producer()
  for (let i = 0; i < 40; i++) await producer.sendBatch([0, 1, 2].map((k) => ({ topic: 'events', key: `k${k}`, value: `event ${i}-${k} ${'x'.repeat(40)}` })))
  await spool.close()
  return dir
}

describe('spool segments (the built CLI, as a subprocess)', { timeout: CLI_TEST_TIMEOUT_MS }, () => {
  it('dump --json --records prints exactly what segments/FORMAT.md and expected.json say the golden segments hold', () => {
    for (const segment of golden.segments) {
      const result = runCli(['--json', 'segments', 'dump', '--records', path.join(GOLDEN, segment.log)])
      expect(result.code, result.stderr).toBe(0)
      const dumped = JSON.parse(result.stdout) as { batches: DumpedBatch[]; unreadable: unknown }
      expect(dumped.unreadable).toBeNull()
      const shape = (b: { baseOffset: number; lastOffset: number; position: number; sizeBytes: number; recordCount: number; crc: string }): unknown[] => [
        b.baseOffset,
        b.lastOffset,
        b.position,
        b.sizeBytes,
        b.recordCount,
        b.crc,
      ]
      expect(dumped.batches.map(shape)).toEqual(segment.batches.map(shape))
      expect(dumped.batches.every((b) => b.crcOk)).toBe(true)
      const records = dumped.batches.flatMap((b) => b.records)
      expect(records).toEqual(golden.records.filter((r) => records.some((d) => d.offset === r.offset)))
    }
    const human = runCli(['segments', 'dump', path.join(GOLDEN, golden.segments[0]!.log)])
    expect(human.code).toBe(0)
    expect(human.stdout).toMatch(/baseOffset\s+lastOffset\s+position\s+size\s+records\s+crc/)
  })

  it('verify exits 0 on a clean directory and 1 naming segment, position and offset of one flipped byte', async () => {
    const dataDir = await writtenDataDir()
    const clean = runCli(['--data-dir', dataDir, 'segments', 'verify'])
    expect(clean.code, clean.stdout + clean.stderr).toBe(0)
    expect(clean.stdout).toMatch(/: OK$/m)

    const dumped = JSON.parse(runCli(['--json', 'segments', 'dump', path.join(dataDir, 'events-0', '00000000000000000000.log')]).stdout) as { batches: DumpedBatch[] }
    const victim = dumped.batches[3]!
    const file = path.join(dataDir, 'events-0', '00000000000000000000.log')
    const bytes = fs.readFileSync(file)
    bytes[victim.position + OFFSET_CRC + 40] = bytes[victim.position + OFFSET_CRC + 40]! ^ 0x10
    fs.writeFileSync(file, bytes)

    for (const target of [[], ['events'], [path.join(dataDir, 'events-0')]]) {
      const result = runCli(['--data-dir', dataDir, 'segments', 'verify', ...target])
      expect(result.code).toBe(1)
      expect(result.stdout).toContain(`CORRUPT: ${file}: at byte ${victim.position} (offset ${victim.baseOffset}): CRC mismatch`)
    }
    const json = JSON.parse(runCli(['--data-dir', dataDir, '--json', 'segments', 'verify']).stdout) as { ok: boolean; problems: Array<{ file: string; position: number; offset: number }> }
    expect(json.ok).toBe(false)
    expect(json.problems).toEqual([expect.objectContaining({ file, position: victim.position, offset: victim.baseOffset })])
  })

  it('inspects while an application holds the write lock, and never changes a byte', async () => {
    const dataDir = await writtenDataDir()
    const spool = await openTestSpool(dataDir) // holds the lock, as a running application would
    const before = hashTree(dataDir)
    const log = path.join(dataDir, 'events-0', '00000000000000000000.log')
    expect(runCli(['--data-dir', dataDir, 'segments', 'verify']).code).toBe(0)
    expect(runCli(['segments', 'dump', '--records', log]).code).toBe(0)
    expect(runCli(['segments', 'index', log.replace('.log', '.index')]).code).toBe(0)
    expect(hashTree(dataDir)).toEqual(before)
    await spool.close()
  })

  it('index checks each entry against the log and reports entries that point elsewhere', async () => {
    const dataDir = await writtenDataDir()
    const index = path.join(dataDir, 'events-0', '00000000000000000000.index')
    const good = JSON.parse(runCli(['--json', 'segments', 'index', index]).stdout) as { entries: Array<{ ok: boolean }> }
    expect(good.entries.length).toBeGreaterThan(2)
    expect(good.entries.every((e) => e.ok)).toBe(true)
    const bytes = fs.readFileSync(index)
    bytes.writeUInt32BE(bytes.readUInt32BE(4) + 3, 4) // first entry's position, off by 3
    fs.writeFileSync(index, bytes)
    const bad = runCli(['segments', 'index', index])
    expect(bad.code).toBe(1)
    expect(bad.stdout).toMatch(/BAD: no batch of base offset \d+ starts at byte \d+/)
  })

  it('prints one line for a user error, a stack only with --debug, and exit 2 for a bad command line', () => {
    const missing = runCli(['segments', 'dump', '/nonexistent/00000000000000000000.log'])
    expect(missing.code).toBe(2)
    expect(missing.stderr.trim().split('\n')).toEqual(['spool: /nonexistent/00000000000000000000.log does not exist [INVALID_ARGUMENT]'])
    const debug = runCli(['--debug', 'segments', 'dump', '/nonexistent/00000000000000000000.log'])
    expect(debug.stderr).toMatch(/\n\s+at /)
    expect(runCli(['segments', 'frobnicate']).code).toBe(2)
    expect(runCli(['--version']).code).toBe(0)
  })

  it('verify after a clean shutdown calls a damaged last batch CORRUPT, never a torn tail (nothing truncates it at open)', async () => {
    const dataDir = await writtenDataDir()
    const dir = path.join(dataDir, 'events-0')
    const last = layoutOf(dir).at(-1)!
    damage(dir, last, 'a bit flip in a record')
    const file = path.join(dir, last.file)
    const result = runCli(['--data-dir', dataDir, 'segments', 'verify'])
    expect(result.stdout).toContain(`CORRUPT: ${file}: at byte ${last.position} (offset ${last.baseOffset}): CRC mismatch`)
    expect(result.stdout).not.toContain('torn tail')
    expect(result.code).toBe(1)
  })

  it('verify after a crash: a cut last batch is a torn tail (exit 0); damage with valid data after it is CORRUPT', async () => {
    const dataDir = await writtenDataDir()
    const dir = path.join(dataDir, 'events-0')
    asAfterCrash(dir)
    const layout = layoutOf(dir)
    const last = layout.at(-1)!
    fs.truncateSync(path.join(dir, last.file), last.position + 30)
    const torn = runCli(['--data-dir', dataDir, 'segments', 'verify'])
    expect(torn.stdout).toMatch(new RegExp(`^torn tail: ${path.join(dir, last.file)}: at byte ${last.position} .*recovery truncates it on the next open$`, 'm'))
    expect(torn.code, torn.stdout).toBe(0)

    const inLast = layout.filter((b) => b.segment === last.segment)
    const victim = inLast.at(-3)!
    damage(dir, victim, 'a bit flip in a record')
    const corrupt = JSON.parse(runCli(['--data-dir', dataDir, '--json', 'segments', 'verify']).stdout) as { ok: boolean; problems: Array<{ position: number; verdict: string }> }
    expect(corrupt.ok).toBe(false)
    expect(corrupt.problems.map((p) => [p.position, p.verdict])).toEqual([
      [victim.position, 'corrupt'],
      [last.position, 'torn-tail'],
    ])
  })

  it('repair: a dry run changes nothing, --execute is refused while a writer holds the lock, then quarantines; the topic reopens without the damaged batch', async () => {
    const dataDir = await writtenDataDir()
    const dir = path.join(dataDir, 'events-0')
    const spool = await openTestSpool(dataDir)
    const written = new Map<number, string>()
    for await (const record of spool.read('events', { partition: 0, fromOffset: 0 })) written.set(record.offset, record.value!.toString())
    await spool.close()
    asAfterCrash(dir)
    const layout = layoutOf(dir)
    const victim = layout.filter((b) => b.segment === 0)[2]!
    damage(dir, victim, 'a bit flip in the batch length')
    // The spool opens (a topic's partitions open on its first use); the damaged partition refuses to.
    const refusing = await openTestSpool(dataDir)
    await expectCode(refusing.describeTopic('events'), 'CORRUPT_BATCH')
    await refusing.close()
    const quarantine = path.join(dir, `${victim.file}.quarantine-${victim.position}`)

    const before = hashTree(dataDir)
    const dry = runCli(['--data-dir', dataDir, 'segments', 'repair', 'events'])
    expect(dry.code, dry.stderr).toBe(0)
    expect(dry.stdout).toContain(`${victim.sizeBytes} bytes at byte ${victim.position}; offsets ${victim.baseOffset}..${victim.lastOffset} become a gap`)
    expect(dry.stdout).toContain(`would move to ${quarantine}`)
    expect(dry.stdout).toMatch(/^dry run: nothing changed/m)
    expect(hashTree(dataDir)).toEqual(before)

    const lock = await acquireDirLock(dataDir, nodeIO) // as a running application holds it
    const locked = runCli(['--data-dir', dataDir, 'segments', 'repair', '--execute'])
    await lock.release()
    expect(locked.code).toBe(1)
    expect(locked.stderr).toMatch(/\[LOCKED\]$/m)
    expect(hashTree(dataDir)).toEqual(before)

    const done = runCli(['--data-dir', dataDir, '--json', 'segments', 'repair', '--execute', dir])
    expect(done.code, done.stderr).toBe(0)
    expect(JSON.parse(done.stdout)).toMatchObject({ executed: true, partitions: [{ dir, ranges: [{ position: victim.position, firstOffset: victim.baseOffset, endOffset: victim.lastOffset + 1, file: quarantine }] }] })
    expect(fs.existsSync(quarantine)).toBe(true)

    const verify = runCli(['--data-dir', dataDir, 'segments', 'verify'])
    expect(verify.code, verify.stdout).toBe(0)
    expect(verify.stdout).toContain(`quarantined: ${dir}: offsets ${victim.baseOffset}..${victim.lastOffset}`)

    const reopened = await openTestSpool(dataDir)
    const read = new Map<number, string>()
    for await (const record of reopened.read('events', { partition: 0, fromOffset: 0 })) read.set(record.offset, record.value!.toString())
    await reopened.close()
    expect([...read]).toEqual([...written].filter(([offset]) => offset < victim.baseOffset || offset > victim.lastOffset))
  })
})
