/**
 * Writes the golden partition directories of segment format v2, `segments/golden/v2/` and
 * `segments/golden/v2-log-append/`, each with its `expected.json`.
 *
 *   npx tsx scripts/make-golden-segments.ts      (or: npm run golden)
 *
 * It refuses to replace a directory that exists unless given --overwrite.
 *
 * The fixtures are a compatibility contract: every later version of spool must still read
 * them (test/storage/golden.test.ts). Do not regenerate a fixture after a format change:
 * add the next version beside it and keep the old one as it is.
 *
 * `segments/golden/v1/` was written by this script before format v2 and is frozen. It can
 * no longer be produced: the encoder now stamps every batch with a CRC-32C (Kafka's), where
 * format v1 held a CRC-32. The v1 batches are kept below, unchanged, as the first part of
 * v2 (their bytes are v1's but for the CRC), and v2 adds what it introduced: one batch per
 * codec, an idempotent producer's batches, records without a timestamp (-1), and, in the
 * separate directory v2-log-append/ (a partition opened with timestampType 'logAppend'),
 * batches stamped with their log append time.
 *
 * Reproducibility. The clock is injected (fixed in v2; in v2-log-append it moves by a fixed
 * step after each append), and appends are made one at a time, so batch boundaries, segment
 * rolls, index entries and the producer state snapshot do not depend on timing. The
 * uncompressed batches are byte-for-byte reproducible. The compressed ones are
 * deterministic for given compressor versions only, and expected.json's
 * `writtenWith.codecs` records which ones wrote them:
 * - gzip: node:zlib at level 6. Node bundles Chromium's zlib fork, whose output may change
 *   with Node's version (and the gzip header's OS byte is the platform's: 3 on Unix);
 * - snappy: the `snappy` package (Rust's snap crate) where its binary loads, snappyjs
 *   otherwise: the two do not write the same bytes;
 * - lz4: spool's own frame around lz4-napi's blocks (lz4_flex) where it loads, spool's
 *   TypeScript block compressor otherwise: not the same bytes either;
 * - zstd: node:zlib's zstd on Node >= 22.15, @bokuweb/zstd-wasm before: different
 *   libzstd builds, possibly different bytes.
 * That does not weaken the fixture: it is read by the test, never regenerated there, and
 * every reader must decode any valid stream, whoever compressed it.
 *
 * Checks made before expected.json is written: every batch's CRC-32C is computed with both
 * the `crc-32` package's crc32c and @node-rs/crc32's (when installed), called directly
 * whatever the size, so that each batch is checked by at least one implementation other
 * than the one src/record/crc32c.ts picked for it, and its CRC-32 must NOT match (a v1
 * reader would take it for v1); v2's first 26 batches must be v1's but for the CRC; a
 * fresh read-only open reads back exactly the records appended; and every batch is
 * decoded by the foreign Kafka libraries available here (test/helpers/foreign-batches.ts:
 * kafka-python, kafkajs, @platformatic/kafka, each for the codecs and snappy framing it
 * reads), which must find its CRC-32C valid and the same header fields and records
 * (@platformatic/kafka ignores LogAppendTime: its record timestamps are not compared for
 * such batches). A codec no library here reads is reported, not refused.
 */
import crypto from 'node:crypto'
import fs from 'node:fs'
import { createRequire } from 'node:module'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import CRC32 from 'crc-32'
import CRC32C from 'crc-32/crc32c.js'
import { batchChecksumFormat, batchCodec, readBatchHeader } from '../src/record/batch-decoder.js'
import { ATTRIBUTES_LOG_APPEND_TIME, BATCH_HEADER_BYTES, CRC_START, NO_TIMESTAMP, OFFSET_CRC } from '../src/record/batch-format.js'
import { type CompressionCodec, codecImplementations } from '../src/record/compression/index.js'
import { isXerial } from '../src/record/compression/xerial.js'
import type { RecordHeader, RecordInput, StoredRecord } from '../src/record/types.js'
import { silentLogger } from '../src/storage/logger.js'
import { OFFSET_INDEX_ENTRY_BYTES } from '../src/storage/offset-index.js'
import { type AppendOptions, PartitionLog } from '../src/storage/partition-log.js'
import { parseSegmentFileName } from '../src/storage/paths.js'
import { TIME_INDEX_ENTRY_BYTES } from '../src/storage/time-index.js'
import type { TimestampType } from '../src/storage/timestamp-policy.js'
import { canRead, comparableHeaders, probeForeignLibraries, type DecodedBatch, type ForeignLibrary } from '../test/helpers/foreign-batches.js'
import type { ExpectedBatchV2, ExpectedFixtureV2, ExpectedRecord, ExpectedSegment } from './golden-expected.js'

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const GOLDEN_ROOT = path.join(ROOT, 'segments', 'golden')

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

/** Text that compresses very well: one sentence over and over, after a label, `bytes` long. */
function repeated(label: string, bytes: number): Buffer {
  let text = `${label}:`
  while (text.length < bytes) text += ' all work and no play makes a dull log.'
  return utf8(text.slice(0, bytes))
}

/** Compressible text: numbered lines of an ordinary sentence, `bytes` long. */
function prose(label: string, bytes: number): Buffer {
  let text = ''
  for (let line = 0; text.length < bytes; line++) text += `${label} line ${line}: the quick brown fox jumps over the lazy dog.\n`
  return utf8(text.slice(0, bytes))
}

interface GoldenBatch {
  records: RecordInput[]
  options?: AppendOptions
}

const plain = (records: RecordInput[]): GoldenBatch => ({ records })

/**
 * The batches of format v1's fixture, in its order. They stay the first batches of v2
 * (same records, same offsets, same positions: only the CRCs differ), each covering
 * something a decoder must get right; the comments say what.
 */
function v1Batches(): GoldenBatch[] {
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
  ].map(plain)
}

/**
 * Four records, compressed as a whole by `codec`: compressible values, headers (one null),
 * a null key, a tombstone, a timestamp that goes back, and one append-time timestamp.
 */
function codecBatch(codec: CompressionCodec, t: number): GoldenBatch {
  return {
    records: [
      { key: utf8(`${codec}-1`), value: prose(`${codec} 1`, 300), headers: [header('codec', codec), header('n', '1')], timestamp: t },
      { key: utf8(`${codec}-2`), value: prose(`${codec} 2`, 200), headers: [header('codec', codec), header('trace', null)], timestamp: t + 1 },
      { key: null, value: prose(`${codec} 3`, 150), timestamp: t - 2_000 },
      { key: utf8(`${codec}-tombstone`), value: null, headers: [header('codec', codec)] },
    ],
    options: { compression: codec },
  }
}

/**
 * Idempotent producers. The first has an id above 2^32 (both words of the int64 matter) and
 * a non-zero epoch; the second's sequence wraps past 2^31 − 1 to 0 inside its batch.
 */
const PRODUCER_A = { producerId: 0x12_3456_789a, producerEpoch: 3 }
const PRODUCER_B = { producerId: 1, producerEpoch: 0 }

/** What format v2 adds, appended after the v1 batches. */
function v2Additions(): GoldenBatch[] {
  const t = CLOCK_MS
  return [
    // 26..29: one batch per codec.
    codecBatch('gzip', t + 100_000),
    codecBatch('snappy', t + 101_000),
    codecBatch('lz4', t + 102_000),
    codecBatch('zstd', t + 103_000),
    // 30: producer A's first batch (sequences 0-1).
    {
      records: [
        { key: utf8('order-1'), value: utf8('created'), timestamp: t + 110_000 },
        { key: utf8('order-2'), value: utf8('created'), timestamp: t + 110_001 },
      ],
      options: { producer: { ...PRODUCER_A, baseSequence: 0 } },
    },
    // 31: producer B, sequences 2147483646, 2147483647, 0: the sequence wraps within the batch.
    {
      records: [
        { key: utf8('wrap-1'), value: utf8('sequence 2147483646'), timestamp: t + 110_500 },
        { key: utf8('wrap-2'), value: utf8('sequence 2147483647'), timestamp: t + 110_501 },
        { key: utf8('wrap-3'), value: utf8('sequence 0'), timestamp: t + 110_502 },
      ],
      options: { producer: { ...PRODUCER_B, baseSequence: 2_147_483_646 } },
    },
    // 32: producer A's second batch (sequences 2-4), after B's.
    {
      records: [
        { key: utf8('order-1'), value: utf8('paid'), timestamp: t + 111_000 },
        { key: utf8('order-3'), value: utf8('created'), timestamp: t + 111_001 },
        { key: utf8('order-2'), value: null, timestamp: t + 111_002 },
      ],
      options: { producer: { ...PRODUCER_A, baseSequence: 2 } },
    },
    // 33: producer A's third batch (sequences 5-6), gzip: a producer's batch compressed.
    {
      records: [
        { key: utf8('order-3'), value: prose('order-3 paid', 120), headers: [header('producer', 'A')], timestamp: t + 112_000 },
        { key: utf8('order-1'), value: prose('order-1 shipped', 120), headers: [header('producer', 'A')], timestamp: t + 112_001 },
      ],
      options: { producer: { ...PRODUCER_A, baseSequence: 5 }, compression: 'gzip' },
    },
    // 34: records without a timestamp (-1) only: baseTimestamp and maxTimestamp are -1.
    plain([
      { key: utf8('no-time-1'), value: utf8('timestamp -1'), timestamp: NO_TIMESTAMP },
      { key: utf8('no-time-2'), value: null, timestamp: NO_TIMESTAMP },
    ]),
    // 35: -1 first (baseTimestamp -1, so the next record's delta is its whole timestamp + 1), then a time, then -1.
    plain([
      { key: utf8('mixed-1'), value: utf8('timestamp -1'), timestamp: NO_TIMESTAMP },
      { key: utf8('mixed-2'), value: utf8('+120s'), timestamp: t + 120_000 },
      { key: utf8('mixed-3'), value: utf8('timestamp -1 again'), timestamp: NO_TIMESTAMP },
    ]),
    // 36: an lz4 batch whose records take more than one 64 KiB frame block (25 records of 2,700 bytes).
    {
      records: Array.from({ length: 25 }, (_, i) => ({
        key: utf8(`bulk-${i}`),
        value: repeated(`bulk ${i}`, 2_700),
        timestamp: t + 130_000 + i,
      })),
      options: { compression: 'lz4' },
    },
    // 37, 38: two last batches, so that the last segment has index entries.
    plain([{ key: utf8('end-1'), value: repeated('next to last v2 batch', 150), timestamp: t + 140_000 }]),
    plain([{ key: utf8('end-2'), value: utf8('last v2 batch'), timestamp: t + 141_000 }]),
  ]
}

/**
 * The log-append-time partition: the records' own timestamps (old, ahead, -1, none) are
 * ignored by readers, which give every record its batch's maxTimestamp, the time the log
 * appended it. The clock moves 1 s after each append, so the times differ per batch.
 */
function logAppendBatches(): GoldenBatch[] {
  const t = CLOCK_MS
  return [
    // 0: create timestamps far in the past and a day ahead: both replaced by the append time.
    plain([
      { key: utf8('old'), value: utf8('created 2000-01-01'), timestamp: 946_684_800_000 },
      { key: utf8('ahead'), value: utf8('created a day ahead'), timestamp: t + 86_400_000 },
    ]),
    // 1: no timestamp given.
    plain([{ key: utf8('none'), value: utf8('no timestamp given') }]),
    // 2: timestamp -1.
    plain([{ key: utf8('minus-one'), value: utf8('timestamp -1'), timestamp: NO_TIMESTAMP }]),
    // 3: compressed and stamped: the stamp (attributes bit 3, maxTimestamp, CRC) is applied after compression.
    codecBatch('gzip', t - 3_600_000),
    codecBatch('zstd', t - 1_800_000),
    // 5..: enough to roll segments and fill the indexes.
    plain([filler(100, 150, t + 1), filler(101, 40, t - 1)]),
    plain([filler(102, 180, t + 5_000)]),
    plain([filler(103, 120, 0), filler(104, 10, 1)]),
    plain([filler(105, 160)]),
    plain([filler(106, 200, t)]),
    plain([filler(107, 90), filler(108, 90)]),
    plain([filler(109, 210, t + 9)]),
    plain([filler(110, 130, t + 8)]),
    plain([filler(111, 140), filler(112, 20)]),
    plain([filler(113, 60, t)]),
  ]
}

interface FixtureSpec {
  /** Directory name under segments/golden/. */
  name: string
  description: string
  timestampType: TimestampType
  clockStepMs: number
  batches: GoldenBatch[]
  minSegments: number
  /** Whether the fixture starts with v1's batches, whose bytes must then be v1's but for the CRC. */
  sameAsV1?: boolean
}

const b64 = (bytes: Buffer | Uint8Array | null): string | null => (bytes === null ? null : Buffer.from(bytes).toString('base64'))

function storedRecord(offset: number, record: StoredRecord): ExpectedRecord {
  return {
    offset,
    timestamp: record.timestamp,
    key: b64(record.key),
    value: b64(record.value),
    headers: record.headers.map((h) => ({ key: h.key, value: b64(h.value) })),
  }
}

/** A record as a reader must return it: its own timestamp (or the append time), or the batch's append time under logAppend. */
function expectedRecord(offset: number, record: RecordInput, appendedAt: number, timestampType: TimestampType): ExpectedRecord {
  return {
    offset,
    timestamp: timestampType === 'logAppend' ? appendedAt : (record.timestamp ?? appendedAt),
    key: b64(record.key),
    value: b64(record.value),
    headers: (record.headers ?? []).map((h) => ({ key: h.key, value: b64(h.value) })),
  }
}

const requireHere = createRequire(import.meta.url)

/** @node-rs/crc32's crc32c called directly (SIMD), or null where the optional package is missing. */
const nodeRsCrc32c = ((): ((bytes: Uint8Array) => number) | null => {
  try {
    const { crc32c } = requireHere('@node-rs/crc32') as { crc32c: (input: Uint8Array) => number }
    return (bytes) => crc32c(bytes) >>> 0
  } catch {
    return null
  }
})()

/** What the batch must be, from the append that wrote it. */
interface BatchIntent {
  codec: CompressionCodec
  producerId: number
  producerEpoch: number
  baseSequence: number
  logAppend: boolean
}

/** Parses a `.log` directly (not through PartitionLog) and checks each CRC independently. */
function batchesOf(file: string, intents: Map<number, BatchIntent>): ExpectedBatchV2[] {
  const bytes = fs.readFileSync(file)
  const batches: ExpectedBatchV2[] = []
  let position = 0
  while (position < bytes.length) {
    if (position + BATCH_HEADER_BYTES > bytes.length) fail(`${file}: torn header at ${position}`)
    const h = readBatchHeader(bytes, position)
    if (position + h.sizeBytes > bytes.length) fail(`${file}: torn batch at ${position}`)
    const covered = bytes.subarray(position + CRC_START, position + h.sizeBytes)
    if ((CRC32C.buf(covered) >>> 0) !== h.crc) fail(`${file}: the CRC at ${position} is not the CRC-32C (crc-32/crc32c.js) of the batch`)
    if (nodeRsCrc32c !== null && nodeRsCrc32c(covered) !== h.crc) fail(`${file}: the CRC at ${position} is not the CRC-32C (@node-rs/crc32) of the batch`)
    if ((CRC32.buf(covered) >>> 0) === h.crc) fail(`${file}: the CRC at ${position} is also the CRC-32: a v1 reader would take it for v1`)
    if (batchChecksumFormat(bytes, position, h) !== 2) fail(`${file}: spool does not take the batch at ${position} for format v2`)
    const codec = batchCodec(h)
    const intent = intents.get(h.baseOffset) ?? fail(`${file}: no append made the batch at offset ${h.baseOffset}`)
    const actual: BatchIntent = {
      codec,
      producerId: h.producerId,
      producerEpoch: h.producerEpoch,
      baseSequence: h.baseSequence,
      logAppend: (h.attributes & ATTRIBUTES_LOG_APPEND_TIME) !== 0,
    }
    if (JSON.stringify(actual) !== JSON.stringify(intent)) fail(`batch at offset ${h.baseOffset}: ${JSON.stringify(actual)}, appended as ${JSON.stringify(intent)}`)
    batches.push({
      baseOffset: h.baseOffset,
      lastOffset: h.baseOffset + h.lastOffsetDelta,
      position,
      sizeBytes: h.sizeBytes,
      recordCount: h.recordCount,
      baseTimestamp: h.baseTimestamp,
      maxTimestamp: h.maxTimestamp,
      crc: h.crc.toString(16).padStart(8, '0'),
      format: 2,
      codec,
      attributes: h.attributes,
      producerId: h.producerId,
      producerEpoch: h.producerEpoch,
      baseSequence: h.baseSequence,
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

function packageVersion(name: string): string {
  try {
    return (JSON.parse(fs.readFileSync(path.join(ROOT, 'node_modules', name, 'package.json'), 'utf8')) as { version: string }).version
  } catch {
    return 'not installed'
  }
}

/** Which implementation compressed each codec here, with its version: the compressed bytes depend on it. */
function codecsUsed(): Record<string, string> {
  const names = codecImplementations()
  const version = (name: string): string => {
    if (name.startsWith('node:zlib')) return `node ${process.versions.node}, zlib ${process.versions.zlib}`
    if (name.startsWith('snappy ')) return `snappy ${packageVersion('snappy')}`
    if (name.startsWith('snappyjs')) return `snappyjs ${packageVersion('snappyjs')}`
    if (name.startsWith('lz4-napi')) return `lz4-napi ${packageVersion('lz4-napi')}`
    if (name.startsWith('@bokuweb/zstd-wasm')) return `@bokuweb/zstd-wasm ${packageVersion('@bokuweb/zstd-wasm')}`
    return 'spool'
  }
  return {
    gzip: `${names.gzip}; ${version(names.gzip)}`,
    snappy: `${names.snappy}; ${version(names.snappy)}`,
    lz4: `${names.lz4}; ${version(names.lz4)}`,
    zstd: `${names.zstd}; ${version(names.zstd)}`,
  }
}

/**
 * Every batch decoded by each foreign Kafka library that can read its codec (and, for
 * snappy, its framing): its CRC must be valid and it must hold the expected records.
 * Returns, per batch, the libraries that agreed.
 */
async function checkWithOracles(dir: string, segments: Array<ExpectedSegment<ExpectedBatchV2>>, records: ExpectedRecord[]): Promise<string[]> {
  const { available, unavailable } = await probeForeignLibraries()
  for (const u of unavailable) console.warn(`  foreign oracle ${u.name} unavailable: ${u.reason}`)
  const byOffset = new Map(records.map((r) => [r.offset, r]))
  const slices: Array<{ batch: ExpectedBatchV2; bytes: Buffer }> = []
  for (const segment of segments) {
    const bytes = fs.readFileSync(path.join(dir, segment.log))
    for (const batch of segment.batches) slices.push({ batch, bytes: bytes.subarray(batch.position, batch.position + batch.sizeBytes) })
  }
  const confirmedBy: string[][] = slices.map(() => [])
  for (const library of available) {
    const readable = slices.map(({ batch, bytes }) => readableBy(library, batch, bytes))
    const outcomes = await library.decodeAll(slices.filter((_, i) => readable[i]).map((s) => s.bytes))
    let k = 0
    for (let i = 0; i < slices.length; i++) {
      if (!readable[i]) continue
      const outcome = outcomes[k++]!
      const { batch } = slices[i]!
      const where = `${library.name} on the batch at offset ${batch.baseOffset}`
      if (!outcome.ok) fail(`${where}: ${outcome.error}`)
      if (outcome.batches.length !== 1) fail(`${where}: ${outcome.batches.length} batches`)
      const decoded = outcome.batches[0]!
      const problem = oracleProblem(library, decoded, batch, byOffset)
      if (problem !== null) fail(`${where}: ${problem}`)
      confirmedBy[i]!.push(library.name)
    }
  }
  return slices.map(({ batch }, i) => {
    const by = confirmedBy[i]!
    if (by.length === 0) console.warn(`  WARNING: no foreign library here reads the ${batch.codec} batch at offset ${batch.baseOffset}`)
    return `offset ${batch.baseOffset} (${batch.codec}): ${by.join(', ') || 'none'}`
  })
}

function readableBy(library: ForeignLibrary, batch: ExpectedBatchV2, bytes: Buffer): boolean {
  if (!library.decodeCodecs.includes(batch.codec)) return false
  if (batch.codec !== 'snappy') return true
  const framing = isXerial(bytes.subarray(BATCH_HEADER_BYTES)) ? 'xerial' : 'raw'
  return library.snappyFraming.reads.includes(framing)
}

function oracleProblem(library: ForeignLibrary, decoded: DecodedBatch, batch: ExpectedBatchV2, byOffset: Map<number, ExpectedRecord>): string | null {
  if (!decoded.crcValid) return `CRC-32C not valid (checked by ${decoded.crcCheckedBy})`
  const fields = {
    baseOffset: decoded.baseOffset,
    magic: decoded.magic,
    crc: decoded.crc.toString(16).padStart(8, '0'),
    codec: decoded.codec,
    timestampType: decoded.timestampType,
    transactional: decoded.transactional,
    control: decoded.control,
    lastOffset: decoded.baseOffset + decoded.lastOffsetDelta,
    maxTimestamp: decoded.maxTimestamp,
    producerId: decoded.producerId,
    producerEpoch: decoded.producerEpoch,
    baseSequence: decoded.baseSequence,
    recordCount: decoded.recordCount,
  }
  const wanted = {
    baseOffset: batch.baseOffset,
    magic: 2,
    crc: batch.crc,
    codec: batch.codec,
    timestampType: (batch.attributes & ATTRIBUTES_LOG_APPEND_TIME) !== 0 ? 'logAppend' : 'create',
    transactional: false,
    control: false,
    lastOffset: batch.lastOffset,
    maxTimestamp: batch.maxTimestamp,
    producerId: batch.producerId,
    producerEpoch: batch.producerEpoch,
    baseSequence: batch.baseSequence,
    recordCount: batch.recordCount,
  }
  if (JSON.stringify(fields) !== JSON.stringify(wanted)) return `header ${JSON.stringify(fields)}, expected ${JSON.stringify(wanted)}`
  if (decoded.records === null) return `records not read: ${decoded.error ?? 'no reason given'}`
  const got = decoded.records.map((r) => ({
    offset: r.offset,
    timestamp: r.timestamp,
    key: b64(r.key),
    value: b64(r.value),
    headers: comparableHeaders(r.headers, library.headerOrderPreserved),
  }))
  const want = decoded.records.map((r) => byOffset.get(r.offset)).map((r) =>
    r === undefined
      ? null
      : {
          offset: r.offset,
          timestamp: r.timestamp,
          key: r.key,
          value: r.value,
          headers: comparableHeaders(
            r.headers.map((h) => ({ key: h.key, value: h.value === null ? null : Buffer.from(h.value, 'base64') })),
            library.headerOrderPreserved,
          ),
        },
  )
  if (got.length !== batch.recordCount) return `${got.length} records, expected ${batch.recordCount}`
  if (JSON.stringify(got) === JSON.stringify(want)) return null
  // A library that ignores LogAppendTime gives each record its create time (baseTimestamp +
  // delta) where Kafka's consumer gives the batch's maxTimestamp: compare all but timestamps.
  const logAppend = (batch.attributes & ATTRIBUTES_LOG_APPEND_TIME) !== 0
  const untimed = (list: Array<{ timestamp: number } | null>): string => JSON.stringify(list.map((r) => (r === null ? null : { ...r, timestamp: 0 })))
  if (logAppend && untimed(got) === untimed(want)) {
    ignoresLogAppendTime.add(library.name)
    return null
  }
  return `records ${JSON.stringify(got).slice(0, 400)} differ from ${JSON.stringify(want).slice(0, 400)}`
}

/** Libraries seen to give log-append-time records their create time: their timestamps were not compared. */
const ignoresLogAppendTime = new Set<string>()

/**
 * The v1 batches at the start of v2 are v1's byte for byte, but for the CRC field: each of
 * v1's .log files is the start of v2's file of the same name, and the v1 CRC is the CRC-32
 * of the bytes v2's CRC-32C covers.
 */
function checkSameAsV1(dir: string): void {
  const v1 = path.join(GOLDEN_ROOT, 'v1')
  for (const name of fs.readdirSync(v1).filter((n) => n.endsWith('.log'))) {
    const old = fs.readFileSync(path.join(v1, name))
    const now = fs.readFileSync(path.join(dir, name)).subarray(0, old.length)
    for (let position = 0; position < old.length; ) {
      const h = readBatchHeader(old, position)
      if ((CRC32.buf(now.subarray(position + CRC_START, position + h.sizeBytes)) >>> 0) !== h.crc) fail(`v1 ${name}: the batch at ${position} differs from v2's`)
      old.copy(now, position + OFFSET_CRC, position + OFFSET_CRC, position + CRC_START) // now is a copy: readFileSync
      position += h.sizeBytes
    }
    if (!old.equals(now)) fail(`v1 ${name}: its bytes are not v2's but for the CRCs`)
  }
}

/** Regenerating a committed fixture breaks its frozen sha256 in the test: only on request. */
const OVERWRITE = process.argv.includes('--overwrite')

async function writeFixture(spec: FixtureSpec): Promise<void> {
  const dir = path.join(GOLDEN_ROOT, spec.name)
  if (fs.existsSync(dir) && !OVERWRITE) {
    fail(`${path.relative(ROOT, dir)} exists and is frozen once committed; pass --overwrite to write it again (npm run golden -- --overwrite)`)
  }
  fs.rmSync(dir, { recursive: true, force: true })
  fs.mkdirSync(dir, { recursive: true })

  let now = CLOCK_MS
  const options = {
    clock: () => now,
    flush: 'always' as const,
    segmentBytes: SEGMENT_BYTES,
    indexIntervalBytes: INDEX_INTERVAL_BYTES,
    timestampType: spec.timestampType,
    logger: silentLogger,
  }
  const records: ExpectedRecord[] = []
  const intents = new Map<number, BatchIntent>()
  const log = await PartitionLog.open(dir, options)
  try {
    for (const [i, batch] of spec.batches.entries()) {
      now = CLOCK_MS + i * spec.clockStepMs
      // One at a time: concurrent appends would be grouped by timing.
      const { baseOffset, lastOffset } = await log.append(batch.records, batch.options)
      if (lastOffset - baseOffset + 1 !== batch.records.length || baseOffset !== records.length) fail(`unexpected offsets ${baseOffset}..${lastOffset}`)
      batch.records.forEach((record, k) => records.push(expectedRecord(baseOffset + k, record, now, spec.timestampType)))
      const producer = batch.options?.producer
      intents.set(baseOffset, {
        codec: batch.options?.compression ?? 'none',
        producerId: producer?.producerId ?? -1,
        producerEpoch: producer?.producerEpoch ?? -1,
        baseSequence: producer?.baseSequence ?? -1,
        logAppend: spec.timestampType === 'logAppend',
      })
    }
  } finally {
    await log.close()
  }

  // Read it back through a fresh read-only open: what we wrote is what a reader gets.
  const check = await PartitionLog.open(dir, { readOnly: true, logger: silentLogger })
  try {
    const readBack: ExpectedRecord[] = []
    for (let offset = check.startOffset; offset < check.endOffset; ) {
      const result = await check.read(offset, { maxBytes: 1 })
      for (const record of result.records) readBack.push(storedRecord(record.offset, record))
      offset = result.nextOffset
    }
    if (JSON.stringify(readBack) !== JSON.stringify(records)) fail(`${spec.name}: the records read back differ from the records appended`)
  } finally {
    await check.close()
  }

  // The writer's lock is not data (FORMAT.md, section 7): a copied directory leaves it out.
  fs.rmSync(path.join(dir, '.writer-lock'), { recursive: true, force: true })
  const names = fs.readdirSync(dir).sort()
  const stray = names.filter((name) => name.startsWith('.') || name.endsWith('.tmp'))
  if (stray.length > 0) fail(`${spec.name}: left behind: ${stray.join(', ')}`)

  const segments = names
    .map((name) => ({ name, parsed: parseSegmentFileName(name) }))
    .filter((s) => s.parsed?.kind === 'log')
    .map(({ name, parsed }): ExpectedSegment<ExpectedBatchV2> => {
      const baseOffset = parsed!.baseOffset
      const stem = name.slice(0, -'.log'.length)
      const segment = {
        baseOffset,
        log: name,
        index: `${stem}.index`,
        timeIndex: `${stem}.timeindex`,
        sizeBytes: fs.statSync(path.join(dir, name)).size,
        batches: batchesOf(path.join(dir, name), intents),
        indexEntries: offsetIndexOf(path.join(dir, `${stem}.index`), baseOffset),
        timeIndexEntries: timeIndexOf(path.join(dir, `${stem}.timeindex`), baseOffset),
      }
      if (segment.indexEntries.length === 0 || segment.timeIndexEntries.length === 0) {
        fail(`${spec.name}: segment ${name} has an empty index; add or enlarge batches so that every segment has index entries`)
      }
      return segment
    })
  if (segments.length < spec.minSegments) fail(`${spec.name}: only ${segments.length} segments; the fixture must hold at least ${spec.minSegments}`)
  const batchRecords = segments.flatMap((s) => s.batches).reduce((sum, b) => sum + b.recordCount, 0)
  if (batchRecords !== records.length) fail(`${spec.name}: the .log files hold ${batchRecords} records, not ${records.length}`)

  if (spec.sameAsV1 === true) checkSameAsV1(dir)
  const confirmations = await checkWithOracles(dir, segments, records)

  const expected: ExpectedFixtureV2 = {
    description: spec.description,
    formatVersion: 2,
    writtenWith: {
      clock: CLOCK_MS,
      clockStepMs: spec.clockStepMs,
      flush: 'always',
      segmentBytes: SEGMENT_BYTES,
      indexIntervalBytes: INDEX_INTERVAL_BYTES,
      timestampType: spec.timestampType,
      codecs: codecsUsed(),
    },
    startOffset: 0,
    endOffset: records.length,
    records,
    segments,
    files: Object.fromEntries(names.map((name) => [name, sha256(path.join(dir, name))])),
  }
  fs.writeFileSync(path.join(dir, 'expected.json'), JSON.stringify(expected, null, 2) + '\n')

  console.log(`wrote ${path.relative(ROOT, dir)}: ${records.length} records in ${segments.length} segments`)
  for (const s of segments) {
    console.log(
      `  ${s.log}  ${s.sizeBytes} bytes, ${s.batches.length} batches, ` +
        `${s.indexEntries.length} index / ${s.timeIndexEntries.length} time-index entries`,
    )
    for (const b of s.batches) console.log(`      ${b.baseOffset}..${b.lastOffset} at ${b.position}: ${b.sizeBytes} bytes, ${b.codec}, max ${b.maxTimestamp}`)
  }
  console.log(`  read by foreign libraries (CRC-32C, header and records checked):`)
  for (const line of confirmations) console.log(`    ${line}`)
  if (ignoresLogAppendTime.size > 0) {
    console.log(`  (${[...ignoresLogAppendTime].join(', ')}: ignore LogAppendTime, so their record timestamps were not compared)`)
    ignoresLogAppendTime.clear()
  }
  console.log(`  expected.json sha256 ${sha256(path.join(dir, 'expected.json'))}`)
}

const COMMON_DESCRIPTION =
  'Keys, values and header values are base64; CRCs are CRC-32C (crc-32/crc32c.js) as 8 hex digits. ' +
  'Compressed batches were written by the implementations in writtenWith.codecs; another version may compress differently, ' +
  'but must read these bytes.'

async function main(): Promise<void> {
  if (nodeRsCrc32c === null) console.warn('@node-rs/crc32 is not installed: CRC-32C checked with crc-32/crc32c.js only')
  await writeFixture({
    name: 'v2',
    description:
      'Golden partition directory written by scripts/make-golden-segments.ts with spool format v2 (record batch v2 with CRC-32C, as Kafka). ' +
      "Its first 26 batches hold v1's records at v1's offsets and positions; then one batch per codec, idempotent producers' batches, " +
      'records with timestamp -1, and an lz4 batch of two frame blocks. Every later version of spool must read it exactly like this. ' +
      COMMON_DESCRIPTION,
    timestampType: 'create',
    clockStepMs: 0,
    batches: [...v1Batches(), ...v2Additions()],
    minSegments: 3,
    sameAsV1: true,
  })
  await writeFixture({
    name: 'v2-log-append',
    description:
      "Golden partition directory written by scripts/make-golden-segments.ts with spool format v2, timestampType 'logAppend': " +
      'every batch carries attributes bit 3 and its append time as maxTimestamp, which readers give each of its records; ' +
      'the clock moved clockStepMs after each append. Every later version of spool must read it exactly like this. ' +
      COMMON_DESCRIPTION,
    timestampType: 'logAppend',
    clockStepMs: 1_000,
    batches: logAppendBatches(),
    minSegments: 2,
  })
}

await main()
