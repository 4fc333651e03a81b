import type { RecordInput, StoredRecord } from '../../src/record/types.js'

/** A deterministic record for offset-like index `i`, easy to recognise when read back. */
export function recordFor(i: number, valueBytes = 20): RecordInput {
  const value = Buffer.alloc(valueBytes, 0x61 + (i % 26))
  value.write(`v${i}:`)
  return { key: Buffer.from(`key-${i % 13}`), value, headers: [{ key: 'n', value: Buffer.from(String(i)) }] }
}

export function batchOf(first: number, count: number, valueBytes?: number): RecordInput[] {
  return Array.from({ length: count }, (_, k) => recordFor(first + k, valueBytes))
}

/** The parts of a record that must survive a round trip, in a comparable form. */
export function plain(record: RecordInput | StoredRecord): unknown {
  return {
    key: record.key === null ? null : Buffer.from(record.key).toString('hex'),
    value: record.value === null ? null : Buffer.from(record.value).toString('hex'),
    headers: (record.headers ?? []).map((h) => [h.key, h.value === null ? null : Buffer.from(h.value).toString('hex')]),
  }
}
