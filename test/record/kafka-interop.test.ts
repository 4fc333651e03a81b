/**
 * spool's batches against code nobody here wrote, in other processes: kafkajs,
 * @platformatic/kafka and kafka-python (test/helpers/foreign-batches.ts; the oracles are
 * first checked against each other in foreign-oracles.test.ts).
 * - Batches those libraries encode, with each codec they support, are stored in a
 *   partition and read back by spool exactly: through the log, the spool API and the CLI.
 * - Batches spool stores (each codec, idempotent producer fields, log-append time) are
 *   decoded by each library exactly, with CRC-32C checked.
 */
import fs from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { batchChecksumFormat, batchCodec, headerProblem, readBatchHeader } from '../../src/record/batch-decoder.js'
import { BATCH_HEADER_BYTES } from '../../src/record/batch-format.js'
import { COMPRESSION_CODECS, type CompressionCodec } from '../../src/record/compression/index.js'
import { openLog } from '../helpers/open-log.js'
import { readAll } from '../helpers/read-all.js'
import { CLI_TEST_TIMEOUT_MS, runCli } from '../helpers/run-cli.js'
import { tempDir } from '../helpers/temp-dir.js'
import { comparableHeaders, probeForeignLibraries, type ForeignLibrary, type ForeignRecordInput } from '../helpers/foreign-batches.js'

const { available: libraries, unavailable } = await probeForeignLibraries()
for (const u of unavailable) console.warn(`foreign oracle ${u.name} unavailable: ${u.reason}`)

const T0 = 1_700_000_000_000
const text = (s: string): Buffer => Buffer.from(s, 'utf8')

/** Records every library can encode (kafkajs: no null header values; header orders a plain object keeps). */
function sampleRecords(seed: number): ForeignRecordInput[] {
  return [
    { key: null, value: text(`hello ${seed} `.repeat(20)), timestamp: T0 + seed },
    { key: text(`k${seed}`), value: Buffer.alloc(0), headers: [{ key: 'trace', value: text('abc') }, { key: 'ünï-🔑', value: text('värde') }], timestamp: T0 + seed + 5 },
    { key: Buffer.alloc(0), value: null, timestamp: T0 + seed + 1 },
    { key: text('big'), value: Buffer.alloc(5_000, `spool ${seed} `), timestamp: T0 + seed + 2 },
  ]
}

interface Comparable {
  offset: number
  timestamp: number
  key: string | null
  value: string | null
  headers: Array<[string, string | null]>
}

const hex = (b: Buffer | null): string | null => (b === null ? null : b.toString('hex'))

function comparable(
  records: ReadonlyArray<{ offset: number; timestamp: number; key: Buffer | null; value: Buffer | null; headers: ReadonlyArray<{ key: string; value: Buffer | null }> }>,
  orderPreserved = true,
): Comparable[] {
  return records.map((r) => ({ offset: r.offset, timestamp: r.timestamp, key: hex(r.key), value: hex(r.value), headers: comparableHeaders([...r.headers], orderPreserved) }))
}

function expectedOf(inputs: ForeignRecordInput[], baseOffset: number): Comparable[] {
  return comparable(inputs.map((r, i) => ({ ...r, offset: baseOffset + i, timestamp: r.timestamp!, headers: r.headers ?? [] })))
}

/** The batches of a .log file, as buffers. */
function batchesOf(file: string): Buffer[] {
  const bytes = fs.readFileSync(file)
  const out: Buffer[] = []
  for (let at = 0; at < bytes.length; ) {
    const size = readBatchHeader(bytes, at).sizeBytes
    out.push(bytes.subarray(at, at + size))
    at += size
  }
  return out
}

describe('foreign batches read by spool', { timeout: CLI_TEST_TIMEOUT_MS }, () => {
  for (const library of libraries) {
    it(`${library.name}: each codec it writes (${library.codecs.join(', ')}) is read back exactly, through the log and the CLI`, async () => {
      const dir = tempDir()
      const partitionDir = path.join(dir, 'interop-0')
      fs.mkdirSync(partitionDir)
      const expected: Comparable[] = []
      const segment: Buffer[] = []
      let offset = 0
      for (const codec of library.codecs) {
        const records = sampleRecords(offset)
        const batch = await library.encode({ codec, records, baseOffset: offset, producerId: 1000 + offset, producerEpoch: 3, baseSequence: offset })
        const header = readBatchHeader(batch, 0)
        expect(headerProblem(header, 16 * 1024 * 1024), codec).toBeNull()
        expect(batchChecksumFormat(batch, 0, header), `${codec}: CRC-32C`).toBe(2)
        if (codec !== 'none' && library.name !== 'kafka-python') expect(batchCodec(header)).toBe(codec)
        expected.push(...expectedOf(records, offset))
        segment.push(batch)
        offset += records.length
      }
      // A segment file made of the foreign batches, as a Kafka broker would store them: the log recovers and serves it.
      fs.writeFileSync(path.join(partitionDir, `${'0'.repeat(20)}.log`), Buffer.concat(segment))
      const log = await openLog(partitionDir)
      try {
        expect(log.endOffset).toBe(offset)
        expect(comparable(await readAll(log))).toEqual(expected)
        expect(comparable(await readAll(log, 0, 1))).toEqual(expected) // one batch per read
      } finally {
        await log.close()
      }
      const dumped = await runCli(['segments', 'dump', path.join(partitionDir, `${'0'.repeat(20)}.log`), '--records', '--json'])
      expect(dumped.code, dumped.stderr).toBe(0)
      const batches = JSON.parse(dumped.stdout).batches as Array<{ ok: boolean; format: number; records: Array<{ offset: number; value: string | null }> }>
      expect(batches.every((b) => b.ok && b.format === 2)).toBe(true)
      expect(batches.flatMap((b) => b.records.map((r) => r.offset))).toEqual(expected.map((r) => r.offset))
    })
  }
})

describe('spool batches read by foreign libraries', { timeout: CLI_TEST_TIMEOUT_MS }, () => {
  it('each codec, with idempotent producer fields, decodes exactly in every library that has the codec, CRC-32C checked', async () => {
    const dir = tempDir()
    const log = await openLog(dir)
    const expected = new Map<CompressionCodec, Comparable[]>()
    try {
      for (const codec of COMPRESSION_CODECS) {
        const records = sampleRecords(expected.size * 10).map((r) => ({ key: r.key, value: r.value, headers: r.headers ?? [], timestamp: r.timestamp! }))
        const { baseOffset } = await log.append(records, { compression: codec, producer: { producerId: 42, producerEpoch: 1, baseSequence: sequenceAfter(expected) } })
        expected.set(codec, comparable(records.map((r, i) => ({ ...r, offset: baseOffset + i }))))
      }
    } finally {
      await log.close()
    }
    const stored = batchesOf(path.join(dir, `${'0'.repeat(20)}.log`))
    expect(stored.length).toBe(COMPRESSION_CODECS.length)
    let checked = 0
    for (const library of libraries) {
      for (const [i, codec] of COMPRESSION_CODECS.entries()) {
        if (!library.decodeCodecs.includes(codec)) continue
        const [decoded] = await library.decode(stored[i]!)
        expect(decoded!.crcValid, `${library.name} ${codec}`).toBe(true)
        expect(decoded!.codec).toBe(codec)
        expect([decoded!.producerId, decoded!.producerEpoch]).toEqual([42, 1])
        expect(decoded!.records, `${library.name} ${codec}: ${decoded!.error ?? ''}`).not.toBeNull()
        expect(comparable(decoded!.records!, library.headerOrderPreserved)).toEqual(
          expected.get(codec)!.map((r) => ({ ...r, headers: library.headerOrderPreserved ? r.headers : comparableHeaders(r.headers.map(([key, value]) => ({ key, value: value === null ? null : Buffer.from(value, 'hex') })), false) })),
        )
        checked++
      }
    }
    expect(checked).toBeGreaterThanOrEqual(libraries.length)
  })

  it('log-append time is stamped as Kafka stamps it', async () => {
    const dir = tempDir()
    const log = await openLog(dir, { timestampType: 'logAppend', clock: () => T0 + 123 })
    try {
      await log.append(sampleRecords(0).map((r) => ({ key: r.key, value: r.value, timestamp: r.timestamp! })))
    } finally {
      await log.close()
    }
    const [batch] = batchesOf(path.join(dir, `${'0'.repeat(20)}.log`))
    for (const library of libraries.filter((l) => l.name === 'kafka-python')) {
      const [decoded] = await library.decode(batch!)
      expect(decoded!.crcValid).toBe(true)
      expect(decoded!.timestampType).toBe('logAppend')
      expect(decoded!.maxTimestamp).toBe(T0 + 123)
      expect(decoded!.records!.map((r) => r.timestamp)).toEqual([T0 + 123, T0 + 123, T0 + 123, T0 + 123])
    }
    expect(batch!.length).toBeGreaterThan(BATCH_HEADER_BYTES)
  })
})

/** The next base sequence of producer 42: one batch of four records per codec so far. */
function sequenceAfter(sofar: Map<CompressionCodec, Comparable[]>): number {
  return sofar.size * 4
}
