/**
 * Writes the golden partition directory `segments/golden/v1/` and its `expected.json`.
 *
 *   npx tsx scripts/make-golden-segments.ts      (or: npm run golden)
 *
 * The fixture is a compatibility contract: every later version of spool must still read
 * these files (test/storage/golden.test.ts). Do not regenerate v1 after a format change —
 * add a v2 beside it and keep v1 as it is. The output is byte-for-byte reproducible: the
 * clock is fixed, appends are made one at a time (so batch boundaries, segment rolls and
 * index entries do not depend on timing), and expected.json is built from the inputs.
 */
import crypto from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import CRC32 from 'crc-32'
import { readBatchHeader, batchCrcValid } from '../src/record/batch-decoder.js'
import { BATCH_HEADER_BYTES, CRC_START } from '../src/record/batch-format.js'
import type { RecordHeader, RecordInput, StoredRecord } from '../src/record/types.js'
import { silentLogger } from '../src/storage/logger.js'
import { OFFSET_INDEX_ENTRY_BYTES } from '../src/storage/offset-index.js'
import { PartitionLog } from '../src/storage/partition-log.js'
import { parseSegmentFileName } from '../src/storage/paths.js'
import { TIME_INDEX_ENTRY_BYTES } from '../src/storage/time-index.js'
import type { ExpectedBatch, ExpectedRecord } from './golden-expected.js'

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const GOLDEN_DIR = path.join(ROOT, 'segments', 'golden', 'v1')

/** 2023-11-14T22:13:20.000Z: the append time of every record without its own timestamp. */
const CLOCK_MS = 1_700_000_000_000
const SEGMENT_BYTES = 1024
const INDEX_INTERVAL_BYTES = 128

const utf8 = (text: string): Buffer => Buffer.from(text, 'utf8')
const header = (key: string, value: string | null): RecordHeader => ({ key, value: value === null ? null : utf8(value) })

/** A record whose bytes are easy to recognise in a hex dump: `<label>-<n>` repeated. */
function filler(n: number, valueBytes: number, timestamp?: number): RecordInput {
  const value = Buffer.alloc(valueBytes)
  const text = `filler-${n}|`
  for (let i = 0; i < valueBytes; i++) value[i] = text.charCodeAt(i % text.length)
  return {
    key: utf8(`f${n}`),
    value,
    headers: [header('seq', String(n))],
    ...(timestamp === undefined ? {} : { timestamp }),
  }
}

/**
 * The batches, appended in this order, one at a time. Each covers something a decoder
 * must get right; the comments say what.
 */
function goldenBatches(): RecordInput[][] {
  const t = CLOCK_MS
  return [
    // 0: the smallest ordinary record (the worked example in FORMAT.md); append-time timestamp.
    [{ key: utf8('k'), value: utf8('v') }],
    // 1: null key.
    [{ key: null, value: utf8('no key') }],
    // 2: null value (a tombstone).
    [{ key: utf8('tombstone'), value: null }],
    // 3: empty value and empty key: length 0, not null.
    [{ key: Buffer.alloc(0), value: Buffer.alloc(0) }],
    // 4: null key and null value together.
    [{ key: null, value: null, timestamp: t + 1 }],
    // 5: headers: a repeated key (order kept), a null value, an empty value, an empty key.
    [
      {
        key: utf8('with-headers'),
        value: utf8('h'),
        headers: [header('trace', 'a'), header('trace', 'b'), header('flag', null), header('empty', ''), header('', 'no key')],
      },
    ],
    // 6: multi-byte UTF-8 in key, value, header key and header value (2-, 3- and 4-byte sequences).
    [
      {
        key: utf8('ключ-日本-🙂'),
        value: utf8('naïve café — 東京 🚀'),
        headers: [header('ü-header', 'ø∑😀')],
      },
    ],
    // 7: several records with explicit timestamps that go back and forth inside the batch
    //    (negative timestamp deltas), one of them decades back (a long varlong delta).
    [
      { key: utf8('a'), value: utf8('first, +5s'), timestamp: t + 5_000 },
      { key: utf8('b'), value: utf8('second, +1s'), timestamp: t + 1_000 },
      { key: utf8('c'), value: utf8('third, +9s'), timestamp: t + 9_000 },
      { key: utf8('d'), value: utf8('fourth, 2000-01-01'), timestamp: 946_684_800_000 },
      { key: utf8('e'), value: utf8('fifth, +7s'), timestamp: t + 7_000 },
    ],
    // 8: a batch whose timestamps all lie before the previous batch's maximum.
    [
      { key: utf8('late-1'), value: utf8('+2s'), timestamp: t + 2_000 },
      { key: utf8('late-2'), value: utf8('+3s'), timestamp: t + 3_000 },
    ],
    // 9: a value of 200 bytes (two-byte varint lengths), append time.
    [filler(9, 200)],
    // 10..: enough batches to roll segments (segmentBytes 1024) and fill sparse index
    //       entries (indexIntervalBytes 128), with timestamps rising and falling.
    [filler(10, 150, t + 20_000), filler(11, 40, t + 15_000)],
    [filler(12, 180, t + 12_000)],
    [filler(13, 120, t + 30_000), filler(14, 10, t + 30_000), filler(15, 10, t + 29_999)],
    [filler(16, 160, t + 25_000)],
    [filler(17, 90, t + 40_000), filler(18, 90, t + 41_000)],
    [filler(19, 200, t + 35_000)],
    [filler(20, 100, t + 50_000)],
    [filler(21, 100, t + 45_000), filler(22, 60, t + 60_000), filler(23, 5, t + 55_000)],
    [filler(24, 210, t + 70_000)],
    [filler(25, 130, t + 65_000)],
    [filler(26, 130)],
    [filler(27, 140, t + 80_000), filler(28, 20, t + 75_000)],
    [filler(29, 150, t + 90_000)],
    [filler(30, 100, t + 85_000), filler(31, 100, t + 95_000)],
    [filler(32, 50, t + 92_000)],
    [filler(33, 50, t + 99_000)],
  ]
}

const b64 = (bytes: Buffer | Uint8Array | null): string | null => (bytes === null ? null : Buffer.from(bytes).toString('base64'))


function expectedRecord(offset: number, record: RecordInput | StoredRecord): ExpectedRecord {
  return {
    offset,
    timestamp: record.timestamp ?? CLOCK_MS,
    key: b64(record.key),
    value: b64(record.value),
    headers: (record.headers ?? []).map((h) => ({ key: h.key, value: b64(h.value) })),
  }
}


/** Parses a `.log` directly (not through PartitionLog) and checks each CRC independently. */
function batchesOf(file: string): ExpectedBatch[] {
  const bytes = fs.readFileSync(file)
  const batches: ExpectedBatch[] = []
  let position = 0
  while (position < bytes.length) {
    if (position + BATCH_HEADER_BYTES > bytes.length) throw new Error(`${file}: torn header at ${position}`)
    const h = readBatchHeader(bytes, position)
    if (position + h.sizeBytes > bytes.length) throw new Error(`${file}: torn batch at ${position}`)
    const crc = CRC32.buf(bytes.subarray(position + CRC_START, position + h.sizeBytes)) >>> 0
    if (crc !== h.crc || !batchCrcValid(bytes, position, h)) throw new Error(`${file}: bad CRC at ${position}`)
    batches.push({
      baseOffset: h.baseOffset,
      lastOffset: h.baseOffset + h.lastOffsetDelta,
      position,
      sizeBytes: h.sizeBytes,
      recordCount: h.recordCount,
      baseTimestamp: h.baseTimestamp,
      maxTimestamp: h.maxTimestamp,
      crc: h.crc.toString(16).padStart(8, '0'),
    })
    position += h.sizeBytes
  }
  return batches
}

function offsetIndexOf(file: string, baseOffset: number): Array<{ offset: number; position: number }> {
  const bytes = fs.readFileSync(file)
  const entries = []
  for (let at = 0; at + OFFSET_INDEX_ENTRY_BYTES <= bytes.length; at += OFFSET_INDEX_ENTRY_BYTES) {
    entries.push({ offset: baseOffset + bytes.readUInt32BE(at), position: bytes.readUInt32BE(at + 4) })
  }
  return entries
}

function timeIndexOf(file: string, baseOffset: number): Array<{ timestamp: number; offset: number }> {
  const bytes = fs.readFileSync(file)
  const entries = []
  for (let at = 0; at + TIME_INDEX_ENTRY_BYTES <= bytes.length; at += TIME_INDEX_ENTRY_BYTES) {
    entries.push({ timestamp: Number(bytes.readBigInt64BE(at)), offset: baseOffset + bytes.readUInt32BE(at + 8) })
  }
  return entries
}

function sha256(file: string): string {
  return crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex')
}

function fail(message: string): never {
  throw new Error(`make-golden-segments: ${message}`)
}

async function main(): Promise<void> {
  fs.rmSync(GOLDEN_DIR, { recursive: true, force: true })
  fs.mkdirSync(GOLDEN_DIR, { recursive: true })

  const options = {
    clock: () => CLOCK_MS,
    flush: 'always' as const,
    segmentBytes: SEGMENT_BYTES,
    indexIntervalBytes: INDEX_INTERVAL_BYTES,
    logger: silentLogger,
  }
  const records: ExpectedRecord[] = []
  const log = await PartitionLog.open(GOLDEN_DIR, options)
  try {
    for (const batch of goldenBatches()) {
      // One at a time: concurrent appends would be grouped by timing.
      const { baseOffset, lastOffset } = await log.append(batch)
      if (lastOffset - baseOffset + 1 !== batch.length || baseOffset !== records.length) fail(`unexpected offsets ${baseOffset}..${lastOffset}`)
      batch.forEach((record, i) => records.push(expectedRecord(baseOffset + i, record)))
    }
  } finally {
    await log.close()
  }

  // Read it back through a fresh read-only open: what we wrote is what a reader gets.
  const check = await PartitionLog.open(GOLDEN_DIR, { readOnly: true, logger: silentLogger })
  try {
    const readBack: ExpectedRecord[] = []
    for (let offset = check.startOffset; offset < check.endOffset; ) {
      const result = await check.read(offset, { maxBytes: 1 })
      for (const record of result.records) readBack.push(expectedRecord(record.offset, record))
      offset = result.nextOffset
    }
    if (JSON.stringify(readBack) !== JSON.stringify(records)) fail('the records read back differ from the records appended')
  } finally {
    await check.close()
  }

  const names = fs.readdirSync(GOLDEN_DIR).sort()
  const stray = names.filter((name) => name === '.lock' || name.endsWith('.tmp'))
  if (stray.length > 0) fail(`left behind: ${stray.join(', ')}`)

  const segments = names
    .map((name) => ({ name, parsed: parseSegmentFileName(name) }))
    .filter((s) => s.parsed?.kind === 'log')
    .map(({ name, parsed }) => {
      const baseOffset = parsed!.baseOffset
      const stem = name.slice(0, -'.log'.length)
      const segment = {
        baseOffset,
        log: name,
        index: `${stem}.index`,
        timeIndex: `${stem}.timeindex`,
        sizeBytes: fs.statSync(path.join(GOLDEN_DIR, name)).size,
        batches: batchesOf(path.join(GOLDEN_DIR, name)),
        indexEntries: offsetIndexOf(path.join(GOLDEN_DIR, `${stem}.index`), baseOffset),
        timeIndexEntries: timeIndexOf(path.join(GOLDEN_DIR, `${stem}.timeindex`), baseOffset),
      }
      if (segment.indexEntries.length === 0 || segment.timeIndexEntries.length === 0) {
        fail(`segment ${name} has an empty index; add or enlarge batches so that every segment has index entries`)
      }
      return segment
    })
  if (segments.length < 3) fail(`only ${segments.length} segments; the fixture must hold at least 3`)
  const batchRecords = segments.flatMap((s) => s.batches).reduce((sum, b) => sum + b.recordCount, 0)
  if (batchRecords !== records.length) fail(`the .log files hold ${batchRecords} records, not ${records.length}`)

  const expected = {
    description:
      'Golden partition directory written by scripts/make-golden-segments.ts with spool format v1. ' +
      'Every later version of spool must read it exactly like this. Keys, values and header values are base64; ' +
      'CRCs are CRC-32 (crc-32 package) as 8 hex digits.',
    formatVersion: 1,
    writtenWith: {
      clock: CLOCK_MS,
      flush: 'always',
      segmentBytes: SEGMENT_BYTES,
      indexIntervalBytes: INDEX_INTERVAL_BYTES,
    },
    startOffset: 0,
    endOffset: records.length,
    records,
    segments,
    files: Object.fromEntries(names.map((name) => [name, sha256(path.join(GOLDEN_DIR, name))])),
  }
  fs.writeFileSync(path.join(GOLDEN_DIR, 'expected.json'), JSON.stringify(expected, null, 2) + '\n')

  console.log(`wrote ${path.relative(ROOT, GOLDEN_DIR)}: ${records.length} records in ${segments.length} segments`)
  for (const s of segments) {
    console.log(
      `  ${s.log}  ${s.sizeBytes} bytes, ${s.batches.length} batches, ` +
        `${s.indexEntries.length} index / ${s.timeIndexEntries.length} time-index entries`,
    )
  }
}

await main()
