import type { ConsumedRecord } from '../client/reader.js'
import { invalidArgument } from '../errors.js'
import { utf8Text } from './output.js'

export type RecordFormat = 'value' | 'json'

/** Text when the bytes are valid UTF-8, else base64 (marked by the field's encoding). */
function textOrBase64(bytes: Buffer | null): { text: string | null; base64: boolean } {
  if (bytes === null) return { text: null, base64: false }
  const text = utf8Text(bytes)
  return text !== null ? { text, base64: false } : { text: bytes.toString('base64'), base64: true }
}

/**
 * One record as one output line: its value as text, or (json) an object with topic,
 * partition, offset, timestamp, key, value and headers. Bytes that are not UTF-8 are
 * given in base64 and flagged with `keyEncoding`/`valueEncoding: "base64"`.
 */
export function formatRecord(record: ConsumedRecord, format: RecordFormat): string {
  if (format === 'value') return record.value === null ? '' : record.value.toString('utf8')
  const key = textOrBase64(record.key)
  const value = textOrBase64(record.value)
  const headers: Record<string, string | null> = {}
  for (const header of record.headers) headers[header.key] = textOrBase64(header.value).text
  return JSON.stringify({
    topic: record.topic,
    partition: record.partition,
    offset: record.offset,
    timestamp: record.timestamp,
    key: key.text,
    ...(key.base64 ? { keyEncoding: 'base64' } : {}),
    value: value.text,
    ...(value.base64 ? { valueEncoding: 'base64' } : {}),
    headers,
  })
}

export function checkFormat(format: string): RecordFormat {
  if (format !== 'value' && format !== 'json') throw invalidArgument('--format', `must be 'value' or 'json', not "${format}"`)
  return format
}
