/**
 * The compatibility test: spool must read every golden partition directory under
 * segments/golden/ (made by scripts/make-golden-segments.ts) exactly as its expected.json
 * describes it. A format change that breaks old files fails here.
 *
 * - v1: format v1, batches checksummed with CRC-32 (frozen; no longer producible);
 * - v2: format v2, CRC-32C (Kafka's): v1's records first, then one batch per codec,
 *   idempotent producers' batches, records without a timestamp;
 * - v2-log-append: format v2 written with timestampType 'logAppend'.
 * Every fixture goes through the same tests; what differs is in golden-fixtures.ts.
 *
 * The committed fixtures are never opened for writing in place (a writable open records
 * recovery state): writable opens work on a copy, and the one in-place open is read-only
 * and must leave every byte as it was.
 */
import crypto from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import CRC32 from 'crc-32'
import { describe, expect, it } from 'vitest'
import { batchChecksumFormat, batchCodec, decodeRecords, headerProblem, readBatchHeader } from '../../src/record/batch-decoder.js'
import { ATTRIBUTES_COMPRESSION_MASK, BATCH_HEADER_BYTES, BATCH_LOG_OVERHEAD_BYTES, CRC_START, OFFSET_ATTRIBUTES, OFFSET_BATCH_LENGTH } from '../../src/record/batch-format.js'
import type { StoredRecord } from '../../src/record/types.js'
import { nodeIO } from '../../src/storage/io.js'
import { readLogPosition } from '../../src/storage/log-files.js'
import type { Logger } from '../../src/storage/logger.js'
import { OffsetIndex } from '../../src/storage/offset-index.js'
import { PartitionLog } from '../../src/storage/partition-log.js'
import { CLEAN_SHUTDOWN_FILE, PRODUCER_STATE_FILE, RECOVERY_CHECKPOINT_FILE, offsetFileStem } from '../../src/storage/paths.js'
import { decodeProducerSnapshot } from '../../src/storage/producer-state-snapshot.js'
import { TimeIndex } from '../../src/storage/time-index.js'
import { tempDir } from '../helpers/temp-dir.js'
import type { ExpectedRecord } from '../../scripts/golden-expected.js'
import { type AnyExpectedBatch, type AnyExpectedFixture, GOLDEN_FIXTURES, type GoldenFixture, independentDecompress } from './golden-fixtures.js'

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
function firstOffsetAtOrAfter(expected: AnyExpectedFixture, t: number): number | null {
  let best: number | null = null
  for (const record of expected.records) {
    if (record.timestamp >= t && (best === null || record.offset < best)) best = record.offset
  }
  return best
}

/** Every timestamp in the fixture, one below and one above, and the extremes. */
function probeTimestamps(expected: AnyExpectedFixture): number[] {
  const probes = new Set<number>([0, 1, Number.MAX_SAFE_INTEGER])
  for (const { timestamp } of expected.records) {
    probes.add(timestamp - 1)
    probes.add(timestamp)
    probes.add(timestamp + 1)
  }
  return [...probes].sort((a, b) => a - b)
}

async function checkTimeLookups(log: PartitionLog, expected: AnyExpectedFixture): Promise<void> {
  for (const t of probeTimestamps(expected)) {
    expect({ t, offset: await log.offsetForTimestamp(t) }).toEqual({ t, offset: firstOffsetAtOrAfter(expected, t) })
  }
}

/** The batch's fields as expected.json records them: v2's only for a v2 fixture. */
function describeBatch(fixture: GoldenFixture, bytes: Buffer, position: number): AnyExpectedBatch {
  const header = readBatchHeader(bytes, position)
  const base = {
    baseOffset: header.baseOffset,
    lastOffset: header.baseOffset + header.lastOffsetDelta,
    position,
    sizeBytes: header.sizeBytes,
    recordCount: header.recordCount,
    baseTimestamp: header.baseTimestamp,
    maxTimestamp: header.maxTimestamp,
    crc: header.crc.toString(16).padStart(8, '0'),
  }
  if (fixture.format === 1) return base
  return {
    ...base,
    format: 2,
    codec: batchCodec(header),
    attributes: header.attributes,
    producerId: header.producerId,
    producerEpoch: header.producerEpoch,
    baseSequence: header.baseSequence,
  }
}

/** The batch at `position` with its records decompressed independently of spool's codecs, as an uncompressed batch; null when no such decoder loads here. */
function decompressedCopy(bytes: Buffer, position: number): Buffer | null {
  const header = readBatchHeader(bytes, position)
  const records = independentDecompress(batchCodec(header), bytes.subarray(position + BATCH_HEADER_BYTES, position + header.sizeBytes))
  if (records === null) return null
  const copy = Buffer.concat([bytes.subarray(position, position + BATCH_HEADER_BYTES), records])
  copy.writeInt32BE(copy.length - BATCH_LOG_OVERHEAD_BYTES, OFFSET_BATCH_LENGTH)
  copy.writeInt16BE(header.attributes & ~ATTRIBUTES_COMPRESSION_MASK, OFFSET_ATTRIBUTES)
  return copy
}

/** The clock at the append of the `index`-th batch (0-based) of the fixture. */
function appendClock(expected: AnyExpectedFixture, index: number): number {
  return expected.writtenWith.clock + index * (expected.writtenWith.clockStepMs ?? 0)
}

describe.each(GOLDEN_FIXTURES)('golden segments $name', (fixture) => {
  const { dir, expected } = fixture
  const expectedFile = path.join(dir, 'expected.json')
  /**
   * The clock of writable opens of a copy: shortly after the fixture's. Not the wall clock:
   * the fixture's segments were started in 2023, so today's clock would roll the active
   * segment (segmentMs, 7 days) before the first append.
   */
  const appendClockMs = expected.writtenWith.clock + 10_000_000
  const openOptions = { flush: 'always' as const, clock: () => appendClockMs, timestampType: expected.writtenWith.timestampType ?? 'create' }

  it('is the frozen fixture, with no stray files', () => {
    expect(sha256(fs.readFileSync(expectedFile)), `segments/golden/${fixture.name} was regenerated or edited; it is frozen`).toBe(
      fixture.expectedSha256,
    )
    const { 'expected.json': _ignored, ...files } = hashDir(dir)
    expect(files).toEqual(expected.files)
    expect(Object.keys(files).filter((name) => name.startsWith('.') || name.endsWith('.tmp'))).toEqual([])
    expect(expected.formatVersion).toBe(fixture.format)
  })

  it('covers what it claims to', () => {
    const records = expected.records
    expect(expected.segments.length).toBeGreaterThanOrEqual(fixture.minSegments)
    for (const segment of expected.segments) {
      expect(segment.indexEntries.length, segment.index).toBeGreaterThan(0)
      expect(segment.timeIndexEntries.length, segment.timeIndex).toBeGreaterThan(0)
    }
    expect(records.map((r) => r.offset)).toEqual(records.map((_, i) => i))
    fixture.claims(expected)
  })

  it(`parses each .log directly: batch positions, sizes, CRC-${fixture.format === 1 ? '32' : '32C'}s and records`, () => {
    const fromBatches: ExpectedRecord[] = []
    for (const segment of expected.segments) {
      expect(segment.log).toBe(`${offsetFileStem(segment.baseOffset)}.log`)
      const bytes = fs.readFileSync(path.join(dir, segment.log))
      expect(bytes.length).toBe(segment.sizeBytes)
      const found: AnyExpectedBatch[] = []
      for (let position = 0; position < bytes.length; ) {
        expect(position + BATCH_HEADER_BYTES).toBeLessThanOrEqual(bytes.length)
        const header = readBatchHeader(bytes, position)
        expect(headerProblem(header, 1024 * 1024)).toBeNull()
        // The CRC field holds the format's checksum of the bytes from the attributes to the
        // end of the batch, computed here independently of spool, and not the other one.
        const covered = bytes.subarray(position + CRC_START, position + header.sizeBytes)
        expect(fixture.checksum(covered)).toBe(header.crc)
        expect(fixture.otherChecksum(covered)).not.toBe(header.crc)
        expect(batchChecksumFormat(bytes, position, header)).toBe(fixture.format)
        found.push(describeBatch(fixture, bytes, position))
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

  it.runIf(fixture.format === 2)('decompresses every compressed batch with another decoder than spool’s, to the same records', () => {
    let checked = 0
    for (const segment of expected.segments) {
      const bytes = fs.readFileSync(path.join(dir, segment.log))
      for (const batch of segment.batches.filter((b) => b.codec !== 'none')) {
        const copy = decompressedCopy(bytes, batch.position)
        if (copy === null) continue // that library does not load on this platform
        const records: StoredRecord[] = []
        decodeRecords(copy, 0, readBatchHeader(copy, 0), 0, records)
        const inBatch = expected.records.filter((r) => r.offset >= batch.baseOffset && r.offset <= batch.lastOffset)
        expect(records.map(asExpected), `${batch.codec} batch at offset ${batch.baseOffset}`).toEqual(inBatch)
        checked++
      }
    }
    expect(checked).toBeGreaterThan(0)
  })

  it.runIf(fixture.name === 'v2')("starts with v1's batches, byte for byte but for the CRC", () => {
    const v1 = GOLDEN_FIXTURES.find((f) => f.name === 'v1')!
    for (const segment of v1.expected.segments) {
      const old = fs.readFileSync(path.join(v1.dir, segment.log))
      const now = fs.readFileSync(path.join(dir, segment.log)).subarray(0, old.length)
      for (const batch of segment.batches) {
        const at = batch.position
        expect(old.subarray(at + CRC_START, at + batch.sizeBytes).equals(now.subarray(at + CRC_START, at + batch.sizeBytes))).toBe(true)
        expect(old.subarray(at, at + CRC_START - 4).equals(now.subarray(at, at + CRC_START - 4))).toBe(true)
        expect(now.readUInt32BE(at + CRC_START - 4)).toBe(v1.otherChecksum(old.subarray(at + CRC_START, at + batch.sizeBytes)))
      }
    }
  })

  it('parses each .index and .timeindex with the current decoders', () => {
    for (const segment of expected.segments) {
      const indexBytes = fs.readFileSync(path.join(dir, segment.index))
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

      const timeBytes = fs.readFileSync(path.join(dir, segment.timeIndex))
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
    const firstBatchOfLast = expected.segments.slice(0, -1).reduce((sum, s) => sum + s.batches.length, 0)
    const end = {
      segmentBase: last.baseOffset,
      position: last.sizeBytes,
      nextOffset: expected.endOffset,
      maxTimestamp: Math.max(...inLast.map((r) => r.timestamp)),
      rollStartMs: appendClock(expected, firstBatchOfLast),
    }
    expect(await readLogPosition(nodeIO, path.join(dir, CLEAN_SHUTDOWN_FILE))).toEqual(end)
    expect(await readLogPosition(nodeIO, path.join(dir, RECOVERY_CHECKPOINT_FILE))).toEqual(end)
  })

  it('a writable open of a copy reads every record, finds offsets by time, and appends in the current format', async () => {
    const copy = tempDir('spool-golden-')
    fs.cpSync(dir, copy, { recursive: true })
    const logger = collectingLogger()
    const log = await PartitionLog.open(copy, { logger, ...openOptions })
    const activeBase = expected.segments[expected.segments.length - 1]!.baseOffset
    try {
      expect(log.startOffset).toBe(expected.startOffset)
      expect(log.endOffset).toBe(expected.endOffset)
      expect(log.segmentCount).toBe(expected.segments.length)
      expect(await readEverything(log, 1)).toEqual(expected.records)
      expect(await readEverything(log, 1024 * 1024)).toEqual(expected.records)
      const middle = expected.records[17]!
      expect((await log.read(middle.offset, { maxBytes: 1 })).records.map(asExpected)[0]).toEqual(middle)
      await checkTimeLookups(log, expected)

      // New appends continue the old log: into the active segment when it is of the current
      // format (v2), into a new segment after rolling one written in v1.
      const appended = await log.append([{ key: Buffer.from('after'), value: Buffer.from('golden'), timestamp: 1 }])
      expect(appended).toMatchObject({ baseOffset: expected.endOffset, lastOffset: expected.endOffset })
      expect(log.segmentCount).toBe(expected.segments.length + fixture.segmentsAddedByFirstAppend)
    } finally {
      await log.close()
    }
    expect(logger.warnings).toEqual([])
    // The appended batch is v2 (CRC-32C), whatever the fixture's format; the fixture's own bytes are untouched.
    const newLog = fixture.segmentsAddedByFirstAppend === 0 ? `${offsetFileStem(activeBase)}.log` : `${offsetFileStem(expected.endOffset)}.log`
    const bytes = fs.readFileSync(path.join(copy, newLog))
    const from = fixture.segmentsAddedByFirstAppend === 0 ? expected.segments[expected.segments.length - 1]!.sizeBytes : 0
    expect(batchChecksumFormat(bytes, from, readBatchHeader(bytes, from))).toBe(2)
    expect(from + readBatchHeader(bytes, from).sizeBytes).toBe(bytes.length)
    for (const segment of expected.segments) {
      const original = fs.readFileSync(path.join(dir, segment.log))
      expect(fs.readFileSync(path.join(copy, segment.log)).subarray(0, original.length).equals(original), segment.log).toBe(true)
    }

    const reopened = await PartitionLog.open(copy, { logger, ...openOptions })
    try {
      const all = await readEverything(reopened, 4096)
      expect(all.slice(0, -1)).toEqual(expected.records)
      // Under logAppend, the record takes the append time, not its own.
      const timestamp = expected.writtenWith.timestampType === 'logAppend' ? appendClockMs : 1
      expect(all[all.length - 1]).toMatchObject({ offset: expected.endOffset, timestamp, key: b64(Buffer.from('after')) })
    } finally {
      await reopened.close()
    }
    expect(logger.warnings).toEqual([])
  })

  const producerBatches = expected.segments.flatMap((s) => s.batches).filter((b) => (b.producerId ?? -1) >= 0)

  it.runIf(producerBatches.length > 0)('holds the idempotent producers’ state snapshot, laid out as FORMAT.md says', () => {
    // Decoded here by hand, from the layout alone: magic, version, coversUpTo, count, producers, CRC-32.
    const bytes = fs.readFileSync(path.join(dir, PRODUCER_STATE_FILE))
    expect(bytes.readUInt32BE(0)).toBe(0x53505053)
    expect(bytes.readUInt16BE(4)).toBe(1)
    expect(Number(bytes.readBigInt64BE(6))).toBe(expected.endOffset)
    expect(bytes.readUInt32BE(bytes.length - 4)).toBe(CRC32.buf(bytes.subarray(0, bytes.length - 4)) >>> 0)
    const producers: Array<{ producerId: number; epoch: number; batches: unknown[] }> = []
    let at = 18
    for (let i = 0; i < bytes.readUInt32BE(14); i++) {
      const producerId = Number(bytes.readBigInt64BE(at))
      const epoch = bytes.readInt16BE(at + 8)
      const count = bytes.readUInt8(at + 10)
      at += 11
      const batches = []
      for (let b = 0; b < count; b++, at += 32) {
        batches.push({
          firstSeq: bytes.readInt32BE(at),
          lastSeq: bytes.readInt32BE(at + 4),
          firstOffset: Number(bytes.readBigInt64BE(at + 8)),
          lastOffset: Number(bytes.readBigInt64BE(at + 16)),
          timestamp: Number(bytes.readBigInt64BE(at + 24)),
        })
      }
      producers.push({ producerId, epoch, batches })
    }
    expect(at).toBe(bytes.length - 4)

    // What it must hold, from the batches: per producer (least recently written first) its
    // epoch and its last five batches, each with its sequence range (wrapping past 2^31 - 1).
    const ids = [...new Set(producerBatches.map((b) => b.producerId!))]
    const lastWrite = (id: number): number => Math.max(...producerBatches.filter((b) => b.producerId === id).map((b) => b.baseOffset))
    const wanted = ids
      .sort((a, b) => lastWrite(a) - lastWrite(b))
      .map((producerId) => {
        const own = producerBatches.filter((b) => b.producerId === producerId)
        return {
          producerId,
          epoch: own[own.length - 1]!.producerEpoch!,
          batches: own.slice(-5).map((b) => ({
            firstSeq: b.baseSequence!,
            lastSeq: (b.baseSequence! + b.lastOffset - b.baseOffset) % 2 ** 31,
            firstOffset: b.baseOffset,
            lastOffset: b.lastOffset,
            timestamp: b.maxTimestamp,
          })),
        }
      })
    expect(producers).toEqual(wanted)
    const decoded = decodeProducerSnapshot(bytes)
    expect(decoded?.coversUpTo).toBe(expected.endOffset)
    expect([...decoded!.producers].map(([producerId, entry]) => ({ producerId, ...entry }))).toEqual(wanted)
  })

  it.runIf(producerBatches.length > 0)('recognises a retry of the fixture’s idempotent producers, from the snapshot or from the log', async () => {
    for (const snapshot of ['kept', 'deleted'] as const) {
      const copy = tempDir('spool-golden-')
      fs.cpSync(dir, copy, { recursive: true })
      if (snapshot === 'deleted') fs.rmSync(path.join(copy, PRODUCER_STATE_FILE))
      const logger = collectingLogger()
      const log = await PartitionLog.open(copy, { logger, ...openOptions })
      try {
        let end = expected.endOffset
        // Each producer's last batch, sent again with the same sequences: answered with its offsets, not stored.
        for (const producerId of new Set(producerBatches.map((b) => b.producerId!))) {
          const last = producerBatches.filter((b) => b.producerId === producerId).at(-1)!
          const records = Array.from({ length: last.lastOffset - last.baseOffset + 1 }, () => ({ key: null, value: Buffer.from('retry') }))
          const producer = { producerId, producerEpoch: last.producerEpoch!, baseSequence: last.baseSequence! }
          expect(await log.append(records, { producer }), `${snapshot}: producer ${producerId}`).toEqual({
            baseOffset: last.baseOffset,
            lastOffset: last.lastOffset,
          })
          expect(log.endOffset).toBe(end)
          // The next sequence is accepted and stored.
          const next = { ...producer, baseSequence: (last.baseSequence! + records.length) % 2 ** 31 }
          const stored = await log.append([{ key: null, value: Buffer.from('next') }], { producer: next })
          expect(stored, `${snapshot}: producer ${producerId}`).toEqual({ baseOffset: end, lastOffset: end })
          end++
        }
      } finally {
        await log.close()
      }
      expect(logger.warnings, snapshot).toEqual([])
    }
  })

  it('a read-only open in place reads everything and changes no byte', async () => {
    const before = hashDir(dir)
    const logger = collectingLogger()
    const log = await PartitionLog.open(dir, { readOnly: true, logger })
    try {
      expect(log.endOffset).toBe(expected.endOffset)
      expect(await readEverything(log, 1)).toEqual(expected.records)
      await checkTimeLookups(log, expected)
      await expect(log.append([{ key: null, value: null }])).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' })
    } finally {
      await log.close()
    }
    expect(logger.warnings).toEqual([])
    expect(hashDir(dir)).toEqual(before)
  })
})
