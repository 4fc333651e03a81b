import fs from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { isSpoolError } from '../../src/errors.js'
import type { PartitionLog } from '../../src/storage/partition-log.js'
import { openLog } from '../helpers/open-log.js'
import { readAll } from '../helpers/read-all.js'
import { batchOf, plain } from '../helpers/records.js'
import { tempDir } from '../helpers/temp-dir.js'

const OPTIONS = { segmentBytes: 700 }
const stem = (offset: number): string => String(offset).padStart(20, '0')

/** A closed partition of several segments; returns the directory and every record written. */
async function partition(): Promise<{ dir: string; written: unknown[]; bases: number[] }> {
  const dir = tempDir()
  const log = await openLog(dir, OPTIONS)
  const written: unknown[] = []
  for (let i = 0; i < 12; i++) {
    await log.append(batchOf(i * 3, 3, 50))
    written.push(...batchOf(i * 3, 3, 50).map(plain))
  }
  const bases = log.segmentList.map((s) => s.baseOffset)
  await log.close()
  expect(bases.length).toBeGreaterThan(3)
  return { dir, written, bases }
}

/** Opens with a collecting logger; returns the log (or the error) and the warnings. */
async function open(dir: string): Promise<{ log: PartitionLog | null; error: unknown; warnings: string[] }> {
  const warnings: string[] = []
  try {
    return { log: await openLog(dir, { ...OPTIONS, logger: { warn: (m) => warnings.push(m) } }), error: null, warnings }
  } catch (error) {
    return { log: null, error, warnings }
  }
}

describe('hostile directory contents: recovered with a warning or refused precisely, never silent loss', () => {
  it('ignores stray files and removes index files that have no log, with a warning', async () => {
    const { dir, written, bases } = await partition()
    fs.writeFileSync(path.join(dir, 'notes.txt'), 'hello')
    fs.writeFileSync(path.join(dir, `${stem(99999)}.index`), Buffer.alloc(8))
    fs.writeFileSync(path.join(dir, `${stem(bases[1]!)}.log.tmp`), 'half a file')
    const { log, warnings } = await open(dir)
    expect((await readAll(log!)).map(plain)).toEqual(written)
    expect(fs.existsSync(path.join(dir, 'notes.txt'))).toBe(true)
    expect(fs.existsSync(path.join(dir, `${stem(99999)}.index`))).toBe(false)
    expect(warnings.some((w) => w.includes(`${stem(99999)}.index`))).toBe(true)
    await log!.close()
  })

  it('a zero-length sealed segment, or one whose name does not match its first batch, fails reads of it precisely', async () => {
    const { dir, bases } = await partition()
    fs.truncateSync(path.join(dir, `${stem(bases[1]!)}.log`), 0)
    const { log, warnings } = await open(dir)
    // Offsets of the emptied segment are gone: reading them returns the next records that
    // exist, under their own offsets, never others in their place; and the loss is reported.
    const { records } = await log!.read(bases[1]!, { maxBytes: 1 })
    expect(records[0]!.offset).toBe(bases[2]!)
    expect(warnings.some((w) => w.includes(`${stem(bases[1]!)}.log`) || w.includes(`${stem(bases[1]!)}.index`))).toBe(true)
    await log!.close()
  })

  it('overlapping segments never serve a record at an offset it was not written at', async () => {
    const { dir, written, bases } = await partition()
    // A copy of segment 1 under a name inside segment 0's range: two files claim the same offsets.
    fs.copyFileSync(path.join(dir, `${stem(bases[1]!)}.log`), path.join(dir, `${stem(bases[1]! - 1)}.log`))
    const { log, error } = await open(dir)
    if (log === null) {
      expect(isSpoolError(error)).toBe(true)
      return
    }
    const seen = new Map<number, unknown>()
    try {
      for (const record of await readAll(log)) seen.set(record.offset, plain(record))
    } catch (readError) {
      expect(isSpoolError(readError)).toBe(true)
    }
    for (const [offset, record] of seen) expect(record, `offset ${offset}`).toEqual(written[offset])
    await log.close()
  })
})
