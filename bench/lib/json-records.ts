/**
 * Compressible record data for the compression workloads: JSON-like events (what a log
 * of application events usually holds), built from a seeded generator so that every run
 * writes the same bytes, and every record differs (ids, times, amounts, words). Printable
 * keys (`user-` and a zero-padded user id). ASCII only: a string's length is its size.
 */
import { prng } from '../../scripts/lib/prng.js'

const EVENTS = ['page_view', 'click', 'add_to_cart', 'checkout', 'search', 'login', 'logout', 'purchase', 'signup', 'scroll']
const COUNTRIES = ['DE', 'US', 'FR', 'GB', 'NL', 'SE', 'JP', 'BR', 'IN', 'CA', 'ES', 'IT']
const PLANS = ['free', 'pro', 'team', 'enterprise']
const PATHS = ['/', '/products', '/products/', '/cart', '/checkout', '/search?q=', '/account', '/help/articles/', '/blog/']
const REFERRERS = ['google.com', 'bing.com', 'duckduckgo.com', 'news.ycombinator.com', 'twitter.com', 'direct', 'newsletter']
const BROWSERS = [
  'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36',
  'Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15',
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:127.0) Gecko/20100101 Firefox/127.0',
  'Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148',
]
const WORDS = (
  'the quick order was shipped from warehouse north after payment cleared and the customer asked ' +
  'about delivery times for large items in the spring catalogue with free returns on every size'
).split(' ')

/** Bytes of `"note":""` plus its comma: the smallest filler field. */
const FILLER_OVERHEAD = ',"note":""'.length

/** One JSON object of exactly `length` bytes (at least 12). */
function jsonValue(next: () => number, index: number, length: number): string {
  const pick = <T>(list: readonly T[]): T => list[next() % list.length]!
  const fields: string[] = [
    `"id":"evt_${(next() >>> 0).toString(16).padStart(8, '0')}"`,
    `"ts":${1_704_067_200_000 + index * 7 + (next() % 7)}`,
    `"type":"${pick(EVENTS)}"`,
    `"user":{"id":${next() % 100_000},"country":"${pick(COUNTRIES)}","plan":"${pick(PLANS)}"}`,
    `"path":"${pick(PATHS)}${next() % 10_000}"`,
    `"ref":"${pick(REFERRERS)}"`,
    `"ms":${next() % 2_000}`,
    `"ua":"${pick(BROWSERS)}"`,
    `"session":"${(next() >>> 0).toString(36)}${(next() >>> 0).toString(36)}"`,
  ]
  const items = next() % 8
  for (let i = 0; fields.join(',').length < length && i < 12; i++) {
    fields.push(`"item${i}":{"sku":"SKU-${10_000 + (next() % 90_000)}","qty":${1 + (next() % 4)},"price":${(next() % 20_000) / 100},"gift":${i < items}}`)
  }
  // Whole fields while a filler still fits after them and the closing brace.
  let body = '{'
  for (const field of fields) {
    const candidate = body.length === 1 ? `{${field}` : `${body},${field}`
    if (candidate.length + FILLER_OVERHEAD + 1 > length) break
    body = candidate
  }
  const room = length - body.length - 1 - (body.length === 1 ? FILLER_OVERHEAD - 1 : FILLER_OVERHEAD)
  let note = ''
  while (note.length < room) note += `${note.length === 0 ? '' : ' '}${pick(WORDS)}`
  note = note.slice(0, room)
  const out = `${body}${body.length === 1 ? '' : ','}"note":"${note}"}`
  if (out.length !== length) throw new Error(`jsonValue: built ${out.length} bytes, expected ${length}`)
  return out
}

/** `records` records laid out key, value, key, value... in one buffer, as `recordBytes` lays out random ones. */
export function jsonRecordBytes(seed: number, records: number, keyBytes: number, valueBytes: number): Buffer {
  if (valueBytes < 12) throw new Error('jsonRecordBytes: values need at least 12 bytes')
  const next = prng(seed)
  const arena = Buffer.allocUnsafe(records * (keyBytes + valueBytes))
  let at = 0
  for (let i = 0; i < records; i++) {
    const key = `user-${String(next() % 100_000).padStart(Math.max(0, keyBytes - 5), '0')}`.slice(0, keyBytes).padEnd(keyBytes, '0')
    at += arena.write(key, at, 'latin1')
    at += arena.write(jsonValue(next, i, valueBytes), at, 'latin1')
  }
  return arena
}
