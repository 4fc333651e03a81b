/**
 * The shape of segments/golden/<version>/expected.json, shared by the script that writes it
 * (scripts/make-golden-segments.ts) and the test that reads it (test/storage/golden.test.ts).
 *
 * v1's expected.json is frozen: its types are the base ones and never gain a required
 * field. What format v2 adds is in the `...V2` types, which extend them.
 */
export interface ExpectedRecord {
  offset: number
  timestamp: number
  key: string | null
  value: string | null
  headers: Array<{ key: string; value: string | null }>
}

export interface ExpectedBatch {
  baseOffset: number
  lastOffset: number
  position: number
  sizeBytes: number
  recordCount: number
  baseTimestamp: number
  maxTimestamp: number
  /** The CRC field, as 8 hex digits: CRC-32 in v1, CRC-32C in v2. */
  crc: string
}

/** What a v2 expected.json also records per batch. */
export interface ExpectedBatchV2 extends ExpectedBatch {
  /** Which checksum the CRC field holds: 2 (CRC-32C). */
  format: 2
  /** The codec named by attribute bits 0-2. */
  codec: 'none' | 'gzip' | 'snappy' | 'lz4' | 'zstd'
  /** The attributes field, whole (int16). */
  attributes: number
  /** -1, -1, -1 unless the batch was appended by an idempotent producer. */
  producerId: number
  producerEpoch: number
  baseSequence: number
}

export interface ExpectedSegment<Batch extends ExpectedBatch = ExpectedBatch> {
  baseOffset: number
  log: string
  index: string
  timeIndex: string
  sizeBytes: number
  batches: Batch[]
  indexEntries: Array<{ offset: number; position: number }>
  timeIndexEntries: Array<{ timestamp: number; offset: number }>
}

export interface ExpectedWrittenWith {
  /** The clock at the first append (v1 and v2: at every append). */
  clock: number
  flush: string
  segmentBytes: number
  indexIntervalBytes: number
}

export interface ExpectedWrittenWithV2 extends ExpectedWrittenWith {
  /** The clock moved this much after each append (0: fixed), so batch i was appended at clock + i × clockStepMs. */
  clockStepMs: number
  /** The partition's timestamp type ('logAppend' stamps each batch with its append time). */
  timestampType: 'create' | 'logAppend'
  /** What compressed the batches (implementation, package version): compressed bytes depend on it. */
  codecs: Record<string, string>
}

export interface ExpectedFixture<Batch extends ExpectedBatch = ExpectedBatch, WrittenWith extends ExpectedWrittenWith = ExpectedWrittenWith> {
  description: string
  formatVersion: number
  writtenWith: WrittenWith
  startOffset: number
  endOffset: number
  records: ExpectedRecord[]
  segments: Array<ExpectedSegment<Batch>>
  /** The sha256 of every file of the directory but expected.json. */
  files: Record<string, string>
}

export type ExpectedFixtureV1 = ExpectedFixture
export type ExpectedFixtureV2 = ExpectedFixture<ExpectedBatchV2, ExpectedWrittenWithV2>
