import crypto from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { OFFSET_CRC } from '../../src/record/batch-format.js'
import type { ExpectedRecord, ExpectedSegment } from '../../scripts/golden-expected.js'
import { openTestSpool } from '../helpers/open-spool.js'
import { runCli } from '../helpers/run-cli.js'
import { tempDir } from '../helpers/temp-dir.js'

const GOLDEN = path.join(import.meta.dirname, '../../segments/golden/v1')
const golden = JSON.parse(fs.readFileSync(path.join(GOLDEN, 'expected.json'), 'utf8')) as { segments: ExpectedSegment[]; records: ExpectedRecord[] }

function hashTree(dir: string): Record<string, string> {
  const out: Record<string, string> = {}
  for (const entry of fs.readdirSync(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue
    const file = path.join(entry.parentPath, entry.name)
    out[path.relative(dir, file)] = crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex')
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

describe('spool segments (the built CLI, as a subprocess)', () => {
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
    expect(missing.code).toBe(1)
    expect(missing.stderr.trim().split('\n')).toEqual(['spool: /nonexistent/00000000000000000000.log does not exist [INVALID_ARGUMENT]'])
    const debug = runCli(['--debug', 'segments', 'dump', '/nonexistent/00000000000000000000.log'])
    expect(debug.stderr).toMatch(/\n\s+at /)
    expect(runCli(['segments', 'frobnicate']).code).toBe(2)
    expect(runCli(['--version']).code).toBe(0)
  })
})
