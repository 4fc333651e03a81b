/**
 * The golden fixtures under segments/golden/ and what is specific to each, for
 * test/storage/golden.test.ts: the frozen sha256 of its expected.json, its checksum, how a
 * writable open continues it, and the coverage it claims. Everything else is tested the
 * same way for every fixture.
 */
import fs from 'node:fs'
import { createRequire } from 'node:module'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import zlib from 'node:zlib'
import CRC32 from 'crc-32'
import CRC32C from 'crc-32/crc32c.js'
import { expect } from 'vitest'
import type { ExpectedBatch, ExpectedBatchV2, ExpectedFixture, ExpectedRecord, ExpectedWrittenWith, ExpectedWrittenWithV2 } from '../../scripts/golden-expected.js'

/** A batch of either version: v2's fields are absent from v1's expected.json. */
export type AnyExpectedBatch = ExpectedBatch & Partial<Omit<ExpectedBatchV2, keyof ExpectedBatch>>
export type AnyExpectedFixture = ExpectedFixture<AnyExpectedBatch, ExpectedWrittenWith & Partial<ExpectedWrittenWithV2>>

export interface GoldenFixture {
  /** Directory name under segments/golden/. */
  name: string
  dir: string
  expected: AnyExpectedFixture
  /**
   * The sha256 of its expected.json, which holds the sha256 of every other file. A fixture
   * is frozen once committed: if this fails because it was regenerated, restore it from
   * git; a new format gets a new fixture beside the old ones.
   */
  expectedSha256: string
  /** Which checksum every batch carries: 1 = CRC-32 (IEEE), 2 = CRC-32C (Castagnoli, Kafka's). */
  format: 1 | 2
  /** The checksum the CRC field must hold, and the one it must not. */
  checksum: (bytes: Uint8Array) => number
  otherChecksum: (bytes: Uint8Array) => number
  minSegments: number
  /** Segments a writable open adds before its first append: v1's active segment is rolled, v2's is appended to. */
  segmentsAddedByFirstAppend: number
  /** Checks the coverage the fixture claims, from expected.json alone. */
  claims(expected: AnyExpectedFixture): void
}

const crc32 = (bytes: Uint8Array): number => CRC32.buf(bytes) >>> 0
const crc32c = (bytes: Uint8Array): number => CRC32C.buf(bytes) >>> 0

function load(name: string): { dir: string; expected: AnyExpectedFixture } {
  const dir = fileURLToPath(new URL(`../../segments/golden/${name}/`, import.meta.url))
  return { dir, expected: JSON.parse(fs.readFileSync(path.join(dir, 'expected.json'), 'utf8')) as AnyExpectedFixture }
}

const decoded = (b64: string | null): string | null => (b64 === null ? null : Buffer.from(b64, 'base64').toString('utf8'))
const allBatches = (expected: AnyExpectedFixture): AnyExpectedBatch[] => expected.segments.flatMap((s) => s.batches)
const recordsOf = (expected: AnyExpectedFixture, batch: AnyExpectedBatch): ExpectedRecord[] =>
  expected.records.filter((r) => r.offset >= batch.baseOffset && r.offset <= batch.lastOffset)

/** What v1's records cover (v2 holds the same records first). */
function v1Claims(expected: AnyExpectedFixture): void {
  const records = expected.records
  expect(records.some((r) => r.key === null)).toBe(true)
  expect(records.some((r) => r.value === null)).toBe(true)
  expect(records.some((r) => r.value === '')).toBe(true)
  expect(records.some((r) => r.headers.some((h) => h.value === null))).toBe(true)
  expect(records.some((r) => new Set(r.headers.map((h) => h.key)).size < r.headers.length)).toBe(true)
  expect(records.some((r) => r.key !== null && /[^\x00-\x7f]/.test(decoded(r.key)!))).toBe(true)
  expect(records.some((r, i) => i > 0 && r.timestamp < records[i - 1]!.timestamp)).toBe(true)
  expect(allBatches(expected).some((b) => b.recordCount > 2)).toBe(true)
}

const INT32_RANGE = 2 ** 31

function v2Claims(expected: AnyExpectedFixture): void {
  v1Claims(expected)
  const batches = allBatches(expected)
  for (const batch of batches) expect(batch.attributes! & 0x08, `batch ${batch.baseOffset}: create time`).toBe(0)
  // One batch per codec, each of several records with headers.
  for (const codec of ['gzip', 'snappy', 'lz4', 'zstd'] as const) {
    const batch = batches.find((b) => b.codec === codec && b.recordCount >= 3 && b.producerId === -1)
    expect(batch, codec).toBeDefined()
    expect(recordsOf(expected, batch!).some((r) => r.headers.length > 0), codec).toBe(true)
  }
  // An lz4 batch whose records take more than one 64 KiB frame block.
  const lz4Bytes = batches
    .filter((b) => b.codec === 'lz4')
    .map((b) => recordsOf(expected, b).reduce((sum, r) => sum + Buffer.from(r.value ?? '', 'base64').length, 0))
  expect(Math.max(...lz4Bytes)).toBeGreaterThan(64 * 1024)
  // Idempotent producers: at least two batches of one producer in sequence, one of them
  // compressed, and a batch whose sequence wraps past 2^31 - 1.
  const produced = batches.filter((b) => b.producerId !== -1)
  const inSequence = produced.filter((b, i) =>
    produced.slice(0, i).some((a) => a.producerId === b.producerId && (a.baseSequence! + a.recordCount) % INT32_RANGE === b.baseSequence),
  )
  expect(inSequence.length).toBeGreaterThanOrEqual(2)
  expect(produced.some((b) => b.codec !== 'none')).toBe(true)
  expect(produced.some((b) => b.baseSequence! + b.lastOffset - b.baseOffset >= INT32_RANGE)).toBe(true)
  expect(produced.every((b) => b.producerEpoch! >= 0 && b.baseSequence! >= 0)).toBe(true)
  expect(produced.some((b) => b.producerId! >= 2 ** 32)).toBe(true)
  for (const b of batches.filter((b) => b.producerId === -1)) expect([b.producerEpoch, b.baseSequence]).toEqual([-1, -1])
  // Records without a timestamp: a batch of only those, and one that starts with one.
  expect(batches.some((b) => b.maxTimestamp === -1)).toBe(true)
  expect(batches.some((b) => b.baseTimestamp === -1 && b.maxTimestamp > 0)).toBe(true)
}

function logAppendClaims(expected: AnyExpectedFixture): void {
  const batches = allBatches(expected)
  expect(expected.writtenWith.timestampType).toBe('logAppend')
  expect(expected.writtenWith.clockStepMs).toBeGreaterThan(0)
  for (const batch of batches) {
    expect(batch.attributes! & 0x08, `batch ${batch.baseOffset}: log append time`).toBe(0x08)
    // Every record reads as its batch's append time, whatever its own timestamp delta says.
    for (const record of recordsOf(expected, batch)) expect(record.timestamp).toBe(batch.maxTimestamp)
  }
  expect(new Set(batches.map((b) => b.maxTimestamp)).size).toBe(batches.length)
  expect(batches.some((b) => b.codec !== 'none' && b.recordCount > 2)).toBe(true)
  // Batches whose records carried their own timestamps: the base timestamp is not the append time.
  expect(batches.some((b) => b.baseTimestamp !== b.maxTimestamp)).toBe(true)
}

export const GOLDEN_FIXTURES: GoldenFixture[] = [
  {
    name: 'v1',
    ...load('v1'),
    expectedSha256: '330857515018306472c3ec371eef52b612b166b8469dfd0465137282352121b0',
    format: 1,
    checksum: crc32,
    otherChecksum: crc32c,
    minSegments: 3,
    segmentsAddedByFirstAppend: 1,
    claims: v1Claims,
  },
  {
    name: 'v2',
    ...load('v2'),
    expectedSha256: '6d5364bc188645981347a033665048124eadf419bf486bacda940ef84f0f0f78',
    format: 2,
    checksum: crc32c,
    otherChecksum: crc32,
    minSegments: 3,
    segmentsAddedByFirstAppend: 0,
    claims: v2Claims,
  },
  {
    name: 'v2-log-append',
    ...load('v2-log-append'),
    expectedSha256: '295b940c9cb53e8046ea086c53fd89539e96e2a66d4d40fb480884cc13da1abc',
    format: 2,
    checksum: crc32c,
    otherChecksum: crc32,
    minSegments: 2,
    segmentsAddedByFirstAppend: 0,
    claims: logAppendClaims,
  },
]

const require = createRequire(import.meta.url)

function optional<T>(load: () => T): T | null {
  try {
    return load()
  } catch {
    return null
  }
}

interface ZstdWasm {
  init(): Promise<void>
  decompress(data: Uint8Array, options: { defaultHeapSize: number }): Uint8Array
}

const snappyJs = optional(() => require('snappyjs') as { uncompress(data: Buffer): Buffer })
const lz4Napi = optional(() => require('lz4-napi') as { decompressFrameSync(data: Buffer): Buffer })
const zlibZstd = (zlib as unknown as { zstdDecompressSync?: (data: Uint8Array) => Buffer }).zstdDecompressSync
const zstdWasm = zlibZstd === undefined ? await optional(async () => {
  const wasm = require('@bokuweb/zstd-wasm') as ZstdWasm
  await wasm.init()
  return wasm
}) : null

/**
 * A batch's records region decompressed by a library called directly, not through
 * spool's codec layer (its framing checks, its choice of implementation): node:zlib for
 * gzip, snappyjs for raw snappy, lz4-napi's frame decoder (lz4_flex) for LZ4 frames,
 * node:zlib's or else @bokuweb/zstd-wasm's zstd. null when that library does not load here.
 */
export function independentDecompress(codec: string, data: Buffer): Buffer | null {
  switch (codec) {
    case 'gzip':
      return zlib.gunzipSync(data)
    case 'snappy':
      return snappyJs === null ? null : Buffer.from(snappyJs.uncompress(data))
    case 'lz4':
      return lz4Napi === null ? null : lz4Napi.decompressFrameSync(data)
    case 'zstd':
      if (zlibZstd !== undefined) return zlibZstd(data)
      return zstdWasm === null ? null : Buffer.from(zstdWasm.decompress(data, { defaultHeapSize: 1024 * 1024 }))
    default:
      throw new Error(`no codec ${codec}`)
  }
}
