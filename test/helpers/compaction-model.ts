import type { RecordInput, StoredRecord } from '../../src/record/types.js'

/** A record as appended to a log that will be compacted, with the offset it got. */
export interface Written {
  offset: number
  key: string | null
  /** null: a tombstone. */
  value: string | null
  headers: Array<{ key: string; value: string | null }>
  timestamp: number
}

export function toInput(record: Omit<Written, 'offset'>): RecordInput {
  return {
    key: record.key === null ? null : Buffer.from(record.key),
    value: record.value === null ? null : Buffer.from(record.value),
    headers: record.headers.map((h) => ({ key: h.key, value: h.value === null ? null : Buffer.from(h.value) })),
    timestamp: record.timestamp,
  }
}

/** A stored record in the same form as `Written`, to compare whole. */
export function fromStored(record: StoredRecord): Written {
  return {
    offset: record.offset,
    key: record.key === null ? null : record.key.toString(),
    value: record.value === null ? null : record.value.toString(),
    headers: record.headers.map((h) => ({ key: h.key, value: h.value === null ? null : h.value.toString() })),
    timestamp: record.timestamp,
  }
}

/** key → value of the latest record of each key (null for a tombstone), in offset order. */
export function latestValues(records: Iterable<{ key: string | null; value: string | null }>): Map<string, string | null> {
  const latest = new Map<string, string | null>()
  for (const record of records) if (record.key !== null) latest.set(record.key, record.value)
  return latest
}

/**
 * What a completed compaction must leave, given every record written (in offset order),
 * the active segment's base offset and the delete horizon (now - deleteRetentionMs): the
 * offsets kept, and key → latest value (a tombstone past the horizon in a sealed segment
 * takes its key away; a younger one, or one in the active segment, reads as null).
 */
export function compacted(written: readonly Written[], activeBase: number, horizon: number) {
  const latestOffset = new Map<string, number>()
  for (const record of written) if (record.key !== null) latestOffset.set(record.key, record.offset)
  const kept = written.filter((record) => {
    if (record.key === null || record.offset >= activeBase) return true
    if (latestOffset.get(record.key) !== record.offset) return false
    return !(record.value === null && record.timestamp < horizon)
  })
  const values = latestValues(written)
  for (const record of written) {
    if (record.key !== null && latestOffset.get(record.key) === record.offset && !kept.includes(record)) values.delete(record.key)
  }
  return { keptOffsets: kept.map((r) => r.offset), values }
}
