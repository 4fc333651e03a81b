import crypto from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import { lastOffsetOf, readBatchHeader } from '../../src/record/batch-decoder.js'
import { OFFSET_BATCH_LENGTH, OFFSET_CRC, OFFSET_MAGIC } from '../../src/record/batch-format.js'
import { writeInt64 } from '../../src/record/int64.js'
import type { StoredRecord } from '../../src/record/types.js'
import { openLog } from '../helpers/open-log.js'
import { batchOf, plain } from '../helpers/records.js'
import { tempDir } from '../helpers/temp-dir.js'

/** One batch as written: its file (name), place, and offsets. */
export interface LaidBatch {
  file: string
  /** Index of its segment, oldest first. */
  segment: number
  position: number
  sizeBytes: number
  baseOffset: number
  lastOffset: number
}

export function layoutOf(dir: string): LaidBatch[] {
  const logs = fs
    .readdirSync(dir)
    .filter((name) => /^\d{20}\.log$/.test(name))
    .sort()
  return logs.flatMap((file, segment) => layoutOfLog(path.join(dir, file), segment, file))
}

/** The batches (headers only) of one `.log`, named `name` in what it returns. */
export function layoutOfLog(logFile: string, segment: number, name = logFile): LaidBatch[] {
  const bytes = fs.readFileSync(logFile)
  const out: LaidBatch[] = []
  for (let position = 0; position < bytes.length; ) {
    const header = readBatchHeader(bytes, position)
    out.push({ file: name, segment, position, sizeBytes: header.sizeBytes, baseOffset: header.baseOffset, lastOffset: lastOffsetOf(header) })
    position += header.sizeBytes
  }
  return out
}

export const DAMAGE_OPTIONS = { segmentBytes: 1024, indexIntervalBytes: 128 }

/** A closed partition of `batches` batches of 3 records (several segments at DAMAGE_OPTIONS), and what each offset holds. */
export async function writtenPartition(batches = 24, options: { segmentBytes?: number; indexIntervalBytes?: number } = DAMAGE_OPTIONS): Promise<{ dir: string; written: Map<number, unknown> }> {
  const dir = tempDir('spool-damage-')
  const log = await openLog(dir, options)
  const written = new Map<number, unknown>()
  for (let b = 0; b < batches; b++) {
    const records = batchOf(b * 3, 3, 20)
    const { baseOffset } = await log.append(records)
    records.forEach((r, k) => written.set(baseOffset + k, plain(r)))
  }
  await log.close()
  return { dir, written }
}

/**
 * The directory as a crash leaves it: no clean-shutdown marker, and the recovery point
 * where an open of the empty log put it (the start of the first segment), so that the
 * next open scans every batch.
 */
export function asAfterCrash(dir: string): void {
  fs.rmSync(path.join(dir, 'clean-shutdown.json'), { force: true })
  fs.writeFileSync(path.join(dir, 'recovery-point.json'), '{"version":1,"segmentBase":0,"position":0,"nextOffset":0,"maxTimestamp":-1,"rollStartMs":-1}')
}

function flip(bytes: Buffer, at: number, mask: number): void {
  bytes[at] = bytes[at]! ^ mask
}

/** Ways a batch in the middle of a log gets damaged (none of them a torn write). */
export const DAMAGES: Record<string, (bytes: Buffer, batch: LaidBatch, previous: LaidBatch | undefined) => void> = {
  'a bit flip in a record': (bytes, b) => {
    flip(bytes, b.position + 61 + 4, 0x10)
  },
  'a bit flip in the CRC': (bytes, b) => {
    flip(bytes, b.position + OFFSET_CRC + 1, 0x01)
  },
  'a bit flip in the batch length': (bytes, b) => {
    flip(bytes, b.position + OFFSET_BATCH_LENGTH + 2, 0x01)
  },
  'a wrong magic byte': (bytes, b) => {
    bytes[b.position + OFFSET_MAGIC] = 0
  },
  'a base offset sent back': (bytes, b, previous) => {
    writeInt64(bytes, b.position, previous?.baseOffset ?? 0)
  },
  '40 bytes zeroed from inside the header': (bytes, b) => {
    bytes.fill(0, b.position + 5, b.position + 45)
  },
}

export function damage(dir: string, batch: LaidBatch, how: keyof typeof DAMAGES, previous?: LaidBatch): void {
  const file = path.join(dir, batch.file)
  const bytes = fs.readFileSync(file)
  DAMAGES[how]!(bytes, batch, previous)
  fs.writeFileSync(file, bytes)
}

/** Every file under `dir` by content hash, but the writer lock's own files (taken and released by an open). */
export function hashTree(dir: string): Record<string, string> {
  const out: Record<string, string> = {}
  for (const entry of fs.readdirSync(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue
    const file = path.join(entry.parentPath, entry.name)
    const name = path.relative(dir, file)
    if (name === '.lock' || name.split(path.sep).includes('.writer-lock')) continue
    out[name] = crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex')
  }
  return out
}

/** Records as [offset, plain record], to compare with what was written. */
export function asWritten(records: readonly StoredRecord[]): Array<[number, unknown]> {
  return records.map((r) => [r.offset, plain(r)])
}
