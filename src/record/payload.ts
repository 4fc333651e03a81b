import type { RecordHeader } from './types.js'

/** Bytes of a record that count against a topic's maxRecordBytes: key, value and headers. */
export function payloadBytes(key: Buffer | null, value: Buffer | null, headers: readonly RecordHeader[]): number {
  let size = (key?.length ?? 0) + (value?.length ?? 0)
  for (const header of headers) size += Buffer.byteLength(header.key) + (header.value?.length ?? 0)
  return size
}
