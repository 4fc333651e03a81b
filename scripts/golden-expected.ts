/** The shape of segments/golden/<version>/expected.json, shared by the script that writes it and the test that reads it. */
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
  crc: string
}

export interface ExpectedSegment {
  baseOffset: number
  log: string
  index: string
  timeIndex: string
  sizeBytes: number
  batches: ExpectedBatch[]
  indexEntries: Array<{ offset: number; position: number }>
  timeIndexEntries: Array<{ timestamp: number; offset: number }>
}
