/**
 * Keyed records with binary keys and values for the Kafka client acceptance tests
 * (test/kafka/clients/), seeded so that a failure replays, and the checks every test makes
 * of what came back: byte-exact, per-key order kept, each key on the partition spool's
 * partitioner gives.
 *
 * A record's value starts with its index in the produced sequence (8 ASCII hex digits), so
 * that what comes back names what was sent, then random bytes of every value 0..255.
 */
import { partitionForKey } from '../../src/topics/partitioner.js'
import { randomFraction } from '../../scripts/lib/prng.js'

export interface KeyedRecord {
  /** Position in the produced sequence. */
  index: number
  key: Buffer
  value: Buffer
}

/** A record as a client read it back. */
export interface ReadRecord {
  partition: number
  offset: number
  key: Buffer | null
  value: Buffer | null
}

const INDEX_DIGITS = 8

/** The seeded generator of the benchmarks and other randomized tests (mulberry32), as fractions in [0, 1). */
export const seededRandom = randomFraction

function randomBytes(random: () => number, length: number): Buffer {
  const bytes = Buffer.alloc(length)
  for (let i = 0; i < length; i++) bytes[i] = Math.floor(random() * 256)
  return bytes
}

export interface RecordSetOptions {
  count: number
  /** How many distinct keys (records share keys, so per-key order means something). */
  keys: number
  seed: number
  /** Longest random tail of a value, in bytes (default 200). */
  maxValueBytes?: number
  /** Byte strings no key or value may contain (a text format's delimiters). */
  avoid?: readonly Buffer[]
  /**
   * Values that compress: a random 16-byte run (any byte values) repeated. Random bytes do
   * not, and librdkafka then sends a batch uncompressed whatever `-z` says, which would
   * leave a codec test proving nothing.
   */
  compressible?: boolean
}

const RUN_BYTES = 16

function repeated(run: Buffer, length: number): Buffer {
  const bytes = Buffer.alloc(length)
  for (let i = 0; i < length; i += run.length) run.copy(bytes, i, 0, Math.min(run.length, length - i))
  return bytes
}

function containsAny(bytes: Buffer, avoid: readonly Buffer[]): boolean {
  return avoid.some((needle) => bytes.includes(needle))
}

/** `count` records over `keys` distinct binary keys (1..24 bytes), values 9..9+maxValueBytes bytes. */
export function keyedRecords(options: RecordSetOptions): KeyedRecord[] {
  const { count, keys, seed, maxValueBytes = 200, avoid = [], compressible = false } = options
  const random = seededRandom(seed)
  const keyPool: Buffer[] = []
  const seen = new Set<string>()
  while (keyPool.length < keys) {
    const key = randomBytes(random, 1 + Math.floor(random() * 24))
    const hex = key.toString('hex')
    if (seen.has(hex) || containsAny(key, avoid)) continue
    seen.add(hex)
    keyPool.push(key)
  }
  const records: KeyedRecord[] = []
  for (let index = 0; index < count; index++) {
    const key = keyPool[Math.floor(random() * keys)]!
    let value: Buffer
    do {
      const length = Math.floor(random() * (maxValueBytes + 1))
      const tail = compressible ? repeated(randomBytes(random, RUN_BYTES), length) : randomBytes(random, length)
      value = Buffer.concat([Buffer.from(index.toString(16).padStart(INDEX_DIGITS, '0') + ':'), tail])
    } while (containsAny(value, avoid))
    records.push({ index, key, value })
  }
  return records
}

/** The produced index a value carries (its first 8 hex digits). */
export function indexOf(value: Buffer | null): number {
  if (value === null || value.length < INDEX_DIGITS) throw new Error(`value ${value?.toString('hex') ?? 'null'} carries no index`)
  const index = Number.parseInt(value.subarray(0, INDEX_DIGITS).toString('latin1'), 16)
  if (!Number.isInteger(index)) throw new Error(`value ${value.subarray(0, 16).toString('hex')} carries no index`)
  return index
}

/**
 * The checks of a round trip, as a list of problems (empty: all good), so a failure says
 * everything at once rather than the first mismatch:
 * - every produced record came back exactly once, byte for byte (key and value);
 * - records of one key came back in the order they were produced (by offset within the partition);
 * - with `partitions`, each key sits on partitionForKey(key, partitions), spool's partitioner;
 * - offsets within a partition are distinct.
 */
export function roundTripProblems(sent: readonly KeyedRecord[], read: readonly ReadRecord[], partitions?: number): string[] {
  const problems: string[] = []
  const say = (problem: string): void => {
    if (problems.length < 20) problems.push(problem)
    else if (problems.length === 20) problems.push('…')
  }
  const byIndex = new Map<number, ReadRecord>()
  const offsets = new Set<string>()
  for (const record of read) {
    const where = `${record.partition}@${record.offset}`
    if (offsets.has(where)) say(`two records at partition ${record.partition} offset ${record.offset}`)
    offsets.add(where)
    let index: number
    try {
      index = indexOf(record.value)
    } catch (error) {
      say(`${where}: ${(error as Error).message}`)
      continue
    }
    if (byIndex.has(index)) say(`record #${index} came back twice (${where} and ${byIndex.get(index)!.partition}@${byIndex.get(index)!.offset})`)
    byIndex.set(index, record)
    const original = sent[index]
    if (original === undefined) {
      say(`${where} carries index ${index}, never sent`)
      continue
    }
    if (record.key === null || !record.key.equals(original.key)) say(`#${index} at ${where}: key ${record.key?.toString('hex') ?? 'null'} != sent ${original.key.toString('hex')}`)
    if (record.value === null || !record.value.equals(original.value)) say(`#${index} at ${where}: value differs from what was sent (${record.value?.length ?? 'null'} vs ${original.value.length} bytes)`)
    if (partitions !== undefined) {
      const expected = partitionForKey(original.key, partitions)
      if (record.partition !== expected) say(`#${index} key ${original.key.toString('hex')} on partition ${record.partition}, spool's partitioner gives ${expected}`)
    }
  }
  const missing = sent.filter((record) => !byIndex.has(record.index))
  if (missing.length > 0) say(`${missing.length} of ${sent.length} records never came back (first: #${missing[0]!.index})`)
  // Per-key order: for each key, the indexes in offset order must increase.
  const byKey = new Map<string, ReadRecord[]>()
  for (const record of byIndex.values()) {
    const key = record.key?.toString('hex') ?? 'null'
    let list = byKey.get(key)
    if (list === undefined) byKey.set(key, (list = []))
    list.push(record)
  }
  for (const [key, list] of byKey) {
    const partitionsOfKey = new Set(list.map((r) => r.partition))
    if (partitionsOfKey.size > 1) {
      say(`key ${key} is spread over partitions ${[...partitionsOfKey].join(', ')}`)
      continue
    }
    list.sort((a, b) => a.offset - b.offset)
    for (let i = 1; i < list.length; i++) {
      if (indexOf(list[i]!.value) < indexOf(list[i - 1]!.value)) {
        say(`key ${key}: #${indexOf(list[i]!.value)} at offset ${list[i]!.offset} comes after #${indexOf(list[i - 1]!.value)} (offset ${list[i - 1]!.offset}), out of produce order`)
        break
      }
    }
  }
  return problems
}
