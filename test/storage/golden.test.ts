/**
 * The compatibility test: spool must read the golden partition directory written by
 * format v1 (segments/golden/v1, made by scripts/make-golden-segments.ts) exactly as
 * expected.json describes it. A format change that breaks old files fails here.
 *
 * The committed fixture is never opened for writing in place (a writable open records
 * recovery state): writable opens work on a copy, and the one in-place open is read-only
 * and must leave every byte as it was.
 */
import crypto from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import CRC32 from 'crc-32'
import { describe, expect, it } from 'vitest'
import { batchCrcValid, decodeRecords, headerProblem, readBatchHeader } from '../../src/record/batch-decoder.js'
import { BATCH_HEADER_BYTES, CRC_START } from '../../src/record/batch-format.js'
import type { StoredRecord } from '../../src/record/types.js'
import { nodeIO } from '../../src/storage/io.js'
import { readLogPosition } from '../../src/storage/log-files.js'
import type { Logger } from '../../src/storage/logger.js'
import { OffsetIndex } from '../../src/storage/offset-index.js'
import { PartitionLog } from '../../src/storage/partition-log.js'
import { CLEAN_SHUTDOWN_FILE, RECOVERY_CHECKPOINT_FILE, offsetFileStem } from '../../src/storage/paths.js'
import { TimeIndex } from '../../src/storage/time-index.js'
import { tempDir } from '../helpers/temp-dir.js'
import type { ExpectedBatch, ExpectedRecord, ExpectedSegment } from '../../scripts/golden-expected.js'

const GOLDEN_DIR = fileURLToPath(new URL('../../segments/golden/v1/', import.meta.url))
const EXPECTED_FILE = path.join(GOLDEN_DIR, 'expected.json')

/**
 * The sha256 of v1's expected.json, which itself holds the sha256 of every other file of
 * the fixture. v1 is frozen: if this fails because the fixture was regenerated, restore
 * segments/golden/v1 from git; a new format gets a new fixture (v2) beside v1.
 */
const V1_EXPECTED_JSON_SHA256 = '330857515018306472c3ec371eef52b612b166b8469dfd0465137282352121b0'


interface Expected {
  formatVersion: number
  writtenWith: { clock: number }
  startOffset: number
  endOffset: number
  records: ExpectedRecord[]
  segments: ExpectedSegment[]
  files: Record<string, string>
}

const expected = JSON.parse(fs.readFileSync(EXPECTED_FILE, 'utf8')) as Expected

const b64 = (bytes: Buffer | null): string | null => (bytes === null ? null : bytes.toString('base64'))

function asExpected(record: StoredRecord): ExpectedRecord {
  return {
    offset: record.offset,
    timestamp: record.timestamp,
    key: b64(record.key),
    value: b64(record.value),
    headers: record.headers.map((h) => ({ key: h.key, value: b64(h.value) })),
  }
}

function sha256(bytes: Buffer): string {
  return crypto.createHash('sha256').update(bytes).digest('hex')
}

/** Every file of a directory (it has no subdirectories) with its sha256. */
function hashDir(dir: string): Record<string, string> {
  const out: Record<string, string> = {}
  for (const name of fs.readdirSync(dir).sort()) out[name] = sha256(fs.readFileSync(path.join(dir, name)))
  return out
}

function collectingLogger(): Logger & { warnings: string[] } {
  const warnings: string[] = []
  return { warnings, warn: (message) => void warnings.push(message) }
}

/** Reads the whole log, one small read at a time so that every batch boundary is crossed. */
async function readEverything(log: PartitionLog, maxBytes: number): Promise<ExpectedRecord[]> {
  const all: ExpectedRecord[] = []
  let offset = log.startOffset
  while (offset < log.endOffset) {
    const { records, nextOffset } = await log.read(offset, { maxBytes })
    expect(nextOffset).toBeGreaterThan(offset)
    all.push(...records.map(asExpected))
    offset = nextOffset
  }
  return all
}

/** What offsetForTimestamp must answer, from the records alone: the first offset with timestamp ≥ t. */
function firstOffsetAtOrAfter(t: number): number | null {
  let best: number | null = null
  for (const record of expected.records) {
    if (record.timestamp >= t && (best === null || record.offset < best)) best = record.offset
  }
  return best
}

/** Every timestamp in the fixture, one below and one above, and the extremes. */
function probeTimestamps(): number[] {
  const probes = new Set<number>([0, 1, Number.MAX_SAFE_INTEGER])
  for (const { timestamp } of expected.records) {
    probes.add(timestamp - 1)
    probes.add(timestamp)
    probes.add(timestamp + 1)
  }
  return [...probes].sort((a, b) => a - b)
}

async function checkTimeLookups(log: PartitionLog): Promise<void> {
  for (const t of probeTimestamps()) {
    expect({ t, offset: await log.offsetForTimestamp(t) }).toEqual({ t, offset: firstOffsetAtOrAfter(t) })
  }
}

describe('golden segments v1', () => {
  it('is the frozen v1 fixture, with no stray files', () => {
    expect(sha256(fs.readFileSync(EXPECTED_FILE)), 'segments/golden/v1 was regenerated or edited; it is frozen').toBe(
      V1_EXPECTED_JSON_SHA256,
    )
    const { 'expected.json': _ignored, ...files } = hashDir(GOLDEN_DIR)
    expect(files).toEqual(expected.files)
    expect(Object.keys(files).filter((name) => name === '.lock' || name.endsWith('.tmp'))).toEqual([])
    expect(expected.formatVersion).toBe(1)
  })

  it('covers what it claims to', () => {
    const records = expected.records
    expect(expected.segments.length).toBeGreaterThanOrEqual(3)
    for (const segment of expected.segments) {
      expect(segment.indexEntries.length, segment.index).toBeGreaterThan(0)
      expect(segment.timeIndexEntries.length, segment.timeIndex).toBeGreaterThan(0)
    }
    expect(records.map((r) => r.offset)).toEqual(records.map((_, i) => i))
    expect(records.some((r) => r.key === null)).toBe(true)
    expect(records.some((r) => r.value === null)).toBe(true)
    expect(records.some((r) => r.value === '')).toBe(true)
    expect(records.some((r) => r.headers.some((h) => h.value === null))).toBe(true)
    expect(records.some((r) => new Set(r.headers.map((h) => h.key)).size < r.headers.length)).toBe(true)
    expect(records.some((r) => r.key !== null && /[^\x00-\x7f]/.test(Buffer.from(r.key, 'base64').toString('utf8')))).toBe(true)
    expect(records.some((r, i) => i > 0 && r.timestamp < records[i - 1]!.timestamp)).toBe(true)
    expect(expected.segments.some((s) => s.batches.some((b) => b.recordCount > 2))).toBe(true)
  })

  it('parses each .log directly: batch positions, sizes, CRCs and records', () => {
    const fromBatches: ExpectedRecord[] = []
    for (const segment of expected.segments) {
      expect(segment.log).toBe(`${offsetFileStem(segment.baseOffset)}.log`)
      const bytes = fs.readFileSync(path.join(GOLDEN_DIR, segment.log))
      expect(bytes.length).toBe(segment.sizeBytes)
      const found: ExpectedBatch[] = []
      for (let position = 0; position < bytes.length; ) {
        expect(position + BATCH_HEADER_BYTES).toBeLessThanOrEqual(bytes.length)
        const header = readBatchHeader(bytes, position)
        expect(headerProblem(header, 1024 * 1024)).toBeNull()
        expect(batchCrcValid(bytes, position, header)).toBe(true)
        // The CRC is plain CRC-32 of the bytes from the attributes to the end of the batch.
        expect(CRC32.buf(bytes.subarray(position + CRC_START, position + header.sizeBytes)) >>> 0).toBe(header.crc)
        found.push({
          baseOffset: header.baseOffset,
          lastOffset: header.baseOffset + header.lastOffsetDelta,
          position,
          sizeBytes: header.sizeBytes,
          recordCount: header.recordCount,
          baseTimestamp: header.baseTimestamp,
          maxTimestamp: header.maxTimestamp,
          crc: header.crc.toString(16).padStart(8, '0'),
        })
        const records: StoredRecord[] = []
        decodeRecords(bytes, position, header, 0, records)
        expect(records.length).toBe(header.recordCount)
        fromBatches.push(...records.map(asExpected))
        position += header.sizeBytes
      }
      expect(found).toEqual(segment.batches)
    }
    expect(fromBatches).toEqual(expected.records)
  })

  it('parses each .index and .timeindex with the current decoders', () => {
    for (const segment of expected.segments) {
      const indexBytes = fs.readFileSync(path.join(GOLDEN_DIR, segment.index))
      const offsetIndex = OffsetIndex.decode(segment.baseOffset, indexBytes, segment.sizeBytes)
      if (typeof offsetIndex === 'string') throw new Error(`${segment.index}: ${offsetIndex}`)
      const entries = Array.from({ length: offsetIndex.entries.length }, (_, i) => ({
        offset: segment.baseOffset + offsetIndex.entries.keyAt(i),
        position: offsetIndex.entries.valueAt(i),
      }))
      expect(entries).toEqual(segment.indexEntries)
      // Every entry points at the start of the batch with that base offset.
      for (const entry of entries) {
        expect(segment.batches.find((b) => b.position === entry.position)?.baseOffset).toBe(entry.offset)
      }

      const timeBytes = fs.readFileSync(path.join(GOLDEN_DIR, segment.timeIndex))
      const timeIndex = TimeIndex.decode(segment.baseOffset, timeBytes, 2 ** 32 - 1)
      if (typeof timeIndex === 'string') throw new Error(`${segment.timeIndex}: ${timeIndex}`)
      const times = Array.from({ length: timeIndex.entries.length }, (_, i) => ({
        timestamp: timeIndex.entries.keyAt(i),
        offset: segment.baseOffset + timeIndex.entries.valueAt(i),
      }))
      expect(times).toEqual(segment.timeIndexEntries)
      // Every record at or before an entry's offset has a timestamp at or below the entry's.
      for (const entry of times) {
        const before = expected.records.filter((r) => r.offset >= segment.baseOffset && r.offset <= entry.offset)
        expect(Math.max(...before.map((r) => r.timestamp))).toBe(entry.timestamp)
      }
    }
  })

  it('holds a clean-shutdown marker and a recovery point at the end of the log', async () => {
    const last = expected.segments[expected.segments.length - 1]!
    const inLast = expected.records.filter((r) => r.offset >= last.baseOffset)
    const end = {
      segmentBase: last.baseOffset,
      position: last.sizeBytes,
      nextOffset: expected.endOffset,
      maxTimestamp: Math.max(...inLast.map((r) => r.timestamp)),
      rollStartMs: expected.writtenWith.clock,
    }
    expect(await readLogPosition(nodeIO, path.join(GOLDEN_DIR, CLEAN_SHUTDOWN_FILE))).toEqual(end)
    expect(await readLogPosition(nodeIO, path.join(GOLDEN_DIR, RECOVERY_CHECKPOINT_FILE))).toEqual(end)
  })

  it('a writable open of a copy reads every record and finds offsets by time', async () => {
    const dir = tempDir('spool-golden-')
    fs.cpSync(GOLDEN_DIR, dir, { recursive: true })
    const logger = collectingLogger()
    const log = await PartitionLog.open(dir, { logger, flush: 'always' })
    try {
      expect(log.startOffset).toBe(expected.startOffset)
      expect(log.endOffset).toBe(expected.endOffset)
      expect(log.segmentCount).toBe(expected.segments.length)
      expect(await readEverything(log, 1)).toEqual(expected.records)
      expect(await readEverything(log, 1024 * 1024)).toEqual(expected.records)
      const middle = expected.records[17]!
      expect((await log.read(middle.offset, { maxBytes: 1 })).records.map(asExpected)[0]).toEqual(middle)
      await checkTimeLookups(log)

      // New appends continue the old log.
      const appended = await log.append([{ key: Buffer.from('after'), value: Buffer.from('golden'), timestamp: 1 }])
      expect(appended).toEqual({ baseOffset: expected.endOffset, lastOffset: expected.endOffset })
    } finally {
      await log.close()
    }
    expect(logger.warnings).toEqual([])

    const reopened = await PartitionLog.open(dir, { logger })
    try {
      const all = await readEverything(reopened, 4096)
      expect(all.slice(0, -1)).toEqual(expected.records)
      expect(all[all.length - 1]).toMatchObject({ offset: expected.endOffset, timestamp: 1, key: b64(Buffer.from('after')) })
    } finally {
      await reopened.close()
    }
    expect(logger.warnings).toEqual([])
  })

  it('a read-only open in place reads everything and changes no byte', async () => {
    const before = hashDir(GOLDEN_DIR)
    const logger = collectingLogger()
    const log = await PartitionLog.open(GOLDEN_DIR, { readOnly: true, logger })
    try {
      expect(log.endOffset).toBe(expected.endOffset)
      expect(await readEverything(log, 1)).toEqual(expected.records)
      await checkTimeLookups(log)
      await expect(log.append([{ key: null, value: null }])).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' })
    } finally {
      await log.close()
    }
    expect(logger.warnings).toEqual([])
    expect(hashDir(GOLDEN_DIR)).toEqual(before)
  })
})
