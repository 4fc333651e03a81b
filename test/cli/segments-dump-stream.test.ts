import { spawn } from 'node:child_process'
import crypto from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import { Writable } from 'node:stream'
import { describe, expect, it } from 'vitest'
import type { ExpectedBatchV2, ExpectedRecord, ExpectedSegment } from '../../scripts/golden-expected.js'
import { humanBytes, isoTime, showBytes, table } from '../../src/cli/output.js'
import { PacedWriter, TABLE_HEADERS, batchRow } from '../../src/cli/segments-dump.js'
import { DEFAULT_MAX_BATCH_BYTES } from '../../src/limits.js'
import { batchCodec } from '../../src/record/batch-decoder.js'
import { ATTRIBUTES_LOG_APPEND_TIME, OFFSET_BATCH_LENGTH, OFFSET_CRC } from '../../src/record/batch-format.js'
import type { StoredRecord } from '../../src/record/types.js'
import { nodeIO } from '../../src/storage/io.js'
import { type BatchReport, type LogReport, inspectLog } from '../../src/storage/segment-inspector.js'
import { openLog } from '../helpers/open-log.js'
import { CLI_TEST_TIMEOUT_MS, runCli } from '../helpers/run-cli.js'
import { tempDir } from '../helpers/temp-dir.js'

const CLI = path.join(import.meta.dirname, '../../dist/cli/main.js')
const GOLDEN = path.join(import.meta.dirname, '../../segments/golden')

/** The .log files of a golden directory, oldest first. */
function goldenLogs(version: string): string[] {
  return fs
    .readdirSync(path.join(GOLDEN, version))
    .filter((name) => name.endsWith('.log'))
    .sort()
    .map((name) => path.join(GOLDEN, version, name))
}

/**
 * Prints the child's peak resident set size (getrusage's ru_maxrss, in KiB on Linux) on
 * stderr as it exits: the kernel's own high-water mark of the whole process, loaded with
 * `--import` so that the CLI itself needs no flag for it.
 */
const PEAK_RSS_PROBE =
  'data:text/javascript,import{writeSync}from"node:fs";process.on("exit",()=>writeSync(2,"\\npeak-rss-kib "+process.resourceUsage().maxRSS+"\\n"))'

interface SlowRun {
  code: number
  stderr: string
  peakRssMiB: number
  bytes: number
  /** How many times `needle` occurs in stdout (counted across chunk boundaries). */
  matches: number
  /** The last 64 bytes of stdout. */
  tail: string
}

/**
 * Runs the built CLI with its stdout read slowly (1 ms after every chunk, far slower than a
 * dump writes): a dump that ignored backpressure would queue what the reader has not taken
 * yet, and its peak memory would grow with the file.
 */
function runSlowlyRead(args: string[], needle: string): Promise<SlowRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', PEAK_RSS_PROBE, CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
    let stderr = ''
    let bytes = 0
    let matches = 0
    let carry = ''
    let tail = ''
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
    child.on('error', reject)
    const exited = new Promise<number>((done) => child.on('close', (code) => done(code ?? -1)))
    void (async () => {
      for await (const chunk of child.stdout as AsyncIterable<Buffer>) {
        bytes += chunk.length
        const text = carry + chunk.toString('latin1')
        matches += text.split(needle).length - 1
        carry = text.slice(-(needle.length - 1))
        tail = (tail + chunk.toString('latin1')).slice(-64)
        await new Promise((done) => setTimeout(done, 1))
      }
      const code = await exited
      const peak = /peak-rss-kib (\d+)/.exec(stderr)
      if (peak === null) throw new Error(`no peak RSS reported: ${stderr}`)
      resolve({ code, stderr: stderr.replace(peak[0], '').trim(), peakRssMiB: Number(peak[1]) / 1024, bytes, matches, tail })
    })().catch(reject)
  })
}

const BIG_BATCHES = 64
const BIG_RECORDS = 64
const BIG_VALUE_BYTES = 16_400

/** A segment of just over 64 MiB: 64 batches of 64 records of 16 kB of (printable) random text, appended without fsyncs. */
async function bigSegment(): Promise<string> {
  const dir = tempDir('spool-dump-stream-')
  const log = await openLog(dir, { flush: 'never' })
  const pool = Buffer.from(crypto.randomBytes(3 << 20).toString('base64'))
  let at = 0
  for (let b = 0; b < BIG_BATCHES; b++) {
    const records = []
    for (let r = 0; r < BIG_RECORDS; r++) {
      records.push({ key: Buffer.from(`key-${b}-${r}`), value: pool.subarray(at, at + BIG_VALUE_BYTES), headers: [{ key: 'h', value: Buffer.from('x') }] })
      at = (at + BIG_VALUE_BYTES + 1) % (pool.length - BIG_VALUE_BYTES)
    }
    await log.append(records)
  }
  await log.close()
  const file = path.join(dir, '00000000000000000000.log')
  expect(fs.statSync(file).size).toBeGreaterThan(64 * 1024 * 1024)
  return file
}

/**
 * Measured by this test on a 2-core machine: the whole-file dump peaked at 355 MiB (text)
 * and 517 MiB (--json) on this segment (and on a 1 GiB one at 2.1 GiB before crashing, and
 * at 3.6 GiB before "Invalid string length"); the streamed one at about 90 MiB in both,
 * of which Node itself takes about 45, and at about 105 MiB on the 1 GiB segment. The
 * bound is far below what holding the file takes.
 */
const PEAK_RSS_BOUND_MIB = 150

/** The dump as the command printed it when it read the whole file first (src/cli/segments.ts before streaming). */
function wholeFileJson(file: string, report: LogReport): string {
  const recordJson = (record: StoredRecord): unknown => ({
    offset: record.offset,
    timestamp: record.timestamp,
    key: record.key === null ? null : record.key.toString('base64'),
    value: record.value === null ? null : record.value.toString('base64'),
    headers: record.headers.map((h) => ({ key: h.key, value: h.value === null ? null : h.value.toString('base64') })),
  })
  const batchJson = (batch: BatchReport): unknown => ({
    baseOffset: batch.header.baseOffset,
    lastOffset: batch.lastOffset,
    position: batch.position,
    sizeBytes: batch.header.sizeBytes,
    recordCount: batch.header.recordCount,
    crc: batch.header.crc.toString(16).padStart(8, '0'),
    crcOk: batch.crcOk,
    format: batch.format,
    compression: batchCodec(batch.header),
    timestampType: (batch.header.attributes & ATTRIBUTES_LOG_APPEND_TIME) === 0 ? 'create' : 'logAppend',
    producerId: batch.header.producerId,
    producerEpoch: batch.header.producerEpoch,
    baseSequence: batch.header.baseSequence,
    ok: batch.ok,
    ...(batch.problem === undefined ? {} : { problem: batch.problem }),
    baseTimestamp: batch.header.baseTimestamp,
    maxTimestamp: batch.header.maxTimestamp,
    ...(batch.records === undefined ? {} : { records: batch.records.map(recordJson) }),
  })
  const document = { file, sizeBytes: report.sizeBytes, batches: report.batches.map(batchJson), skipped: report.skipped, unreadable: report.unreadable }
  return `${JSON.stringify(document, null, 2)}\n`
}

/**
 * The text the whole-file dump printed for an intact segment, but for its first line,
 * which gave the totals before the table: a stream knows them only at the end.
 */
function wholeFileText(file: string, report: LogReport): string {
  const rows = report.batches.map(batchRow)
  const headers = TABLE_HEADERS
  const tableLines = table(headers, rows).split('\n')
  const lines = [`${file}: ${humanBytes(report.sizeBytes)}`, tableLines[0]!]
  report.batches.forEach((batch, i) => {
    lines.push(tableLines[i + 1]!)
    for (const record of batch.records ?? []) {
      const headerText = record.headers.map((h) => `${h.key}=${showBytes(h.value)}`).join(' ')
      lines.push(`    offset ${record.offset}  ${isoTime(record.timestamp)}  key=${showBytes(record.key)}  value=${showBytes(record.value)}${headerText === '' ? '' : `  headers: ${headerText}`}`)
    }
  })
  const records = report.batches.reduce((sum, b) => sum + b.header.recordCount, 0)
  lines.push(`${report.batches.length} batches, ${records} records`)
  return `${lines.join('\n')}\n`
}

interface DumpedBatch {
  baseOffset: number
  lastOffset: number
  position: number
  sizeBytes: number
  recordCount: number
  crc: string
  format: number
  compression: string
  timestampType: string
  producerId: number
  producerEpoch: number
  baseSequence: number
  ok: boolean
  baseTimestamp: number
  maxTimestamp: number
  records: ExpectedRecord[]
}

describe('spool segments dump, streamed (the built CLI, as a subprocess)', { timeout: CLI_TEST_TIMEOUT_MS }, () => {
  it('dumps a 64 MiB segment with --records, as text and as --json, in bounded memory while a slow reader takes stdout', async () => {
    const file = await bigSegment()
    const records = BIG_BATCHES * BIG_RECORDS

    const text = await runSlowlyRead(['segments', 'dump', '--records', file], '\n    offset ')
    expect(text.code, text.stderr).toBe(0)
    expect(text.stderr).toBe('')
    expect(text.matches).toBe(records)
    expect(text.bytes).toBeGreaterThan(64 * 1024 * 1024) // every value was printed
    expect(text.tail).toMatch(new RegExp(`\\n${BIG_BATCHES} batches, ${records} records\\n$`))
    expect(text.peakRssMiB).toBeLessThan(PEAK_RSS_BOUND_MIB)

    const json = await runSlowlyRead(['--json', 'segments', 'dump', '--records', file], '"offset": ')
    expect(json.code, json.stderr).toBe(0)
    expect(json.stderr).toBe('')
    expect(json.matches).toBe(records)
    expect(json.tail).toMatch(/\n {2}\],\n {2}"skipped": \[\],\n {2}"unreadable": null\n\}\n$/)
    expect(json.peakRssMiB).toBeLessThan(PEAK_RSS_BOUND_MIB)
  })

  it('prints, byte for byte, the JSON document the whole-file dump printed: golden segments of v1 and v2, and damaged ones', async () => {
    const files = ['v1', 'v2', 'v2-log-append'].flatMap((version) => goldenLogs(version).slice(0, 2))
    // Damage of each kind the dump reports: a bad CRC, a broken frame with a valid batch
    // after it (skipped), a length that runs past the end (unreadable), bytes cut off.
    const dir = tempDir('spool-dump-damaged-')
    const source = fs.readFileSync(goldenLogs('v2')[0]!)
    const damaged = (name: string, change: (bytes: Buffer) => Buffer): string => {
      const file = path.join(dir, name)
      fs.mkdirSync(file, { recursive: true })
      const log = path.join(file, '00000000000000000000.log')
      fs.writeFileSync(log, change(Buffer.from(source)))
      return log
    }
    const firstSize = source.readInt32BE(OFFSET_BATCH_LENGTH) + 12
    files.push(
      damaged('crc', (b) => {
        b[firstSize + OFFSET_CRC] = b[firstSize + OFFSET_CRC]! ^ 0x40
        return b
      }),
      damaged('frame', (b) => {
        b.writeInt32BE(7, OFFSET_BATCH_LENGTH)
        return b
      }),
      damaged('past-end', (b) => {
        b.writeInt32BE(b.length, firstSize + OFFSET_BATCH_LENGTH)
        return b
      }),
      damaged('cut', (b) => b.subarray(0, b.length - 5)),
    )
    for (const file of files) {
      for (const records of file.startsWith(dir) ? [true, false] : [true]) {
        const result = runCli(['--json', 'segments', 'dump', ...(records ? ['--records'] : []), file])
        const report = await inspectLog(nodeIO, file, { records, maxBatchBytes: DEFAULT_MAX_BATCH_BYTES })
        expect(result.stdout, `${file} ${records}`).toBe(wholeFileJson(file, report))
        const bad = report.batches.some((b) => !b.ok) || report.skipped.length > 0 || report.unreadable !== null
        expect(result.code).toBe(bad ? 1 : 0)
      }
    }
  })

  it("keeps format v2's batch fields (format, codec, producer, timestamp type) and every record, in --json and in text", () => {
    const expected = JSON.parse(fs.readFileSync(path.join(GOLDEN, 'v2/expected.json'), 'utf8')) as { segments: ExpectedSegment<ExpectedBatchV2>[]; records: ExpectedRecord[] }
    const appendTime = JSON.parse(fs.readFileSync(path.join(GOLDEN, 'v2-log-append/expected.json'), 'utf8')) as { segments: ExpectedSegment<ExpectedBatchV2>[] }
    const dumped: DumpedBatch[] = []
    for (const segment of expected.segments) {
      const result = runCli(['--json', 'segments', 'dump', '--records', path.join(GOLDEN, 'v2', segment.log)])
      expect(result.code, result.stderr).toBe(0)
      dumped.push(...(JSON.parse(result.stdout) as { batches: DumpedBatch[] }).batches)
    }
    const fields = (b: DumpedBatch | ExpectedBatchV2): unknown[] => [b.baseOffset, b.position, b.format, 'codec' in b ? b.codec : b.compression, b.producerId, b.producerEpoch, b.baseSequence]
    expect(dumped.map(fields)).toEqual(expected.segments.flatMap((s) => s.batches).map(fields))
    expect(new Set(dumped.map((b) => b.compression))).toEqual(new Set(['none', 'gzip', 'snappy', 'lz4', 'zstd']))
    expect(dumped.some((b) => b.producerId >= 0)).toBe(true)
    expect(dumped.flatMap((b) => b.records)).toEqual(expected.records)

    const logAppend = path.join(GOLDEN, 'v2-log-append', appendTime.segments[0]!.log)
    const json = JSON.parse(runCli(['--json', 'segments', 'dump', logAppend]).stdout) as { batches: DumpedBatch[] }
    expect(json.batches[0]!.timestampType).toBe('logAppend')

    // Text: a column per field, a line per record.
    const producerBatch = expected.segments.flatMap((s) => s.batches.map((b) => ({ segment: s, batch: b }))).find(({ batch }) => batch.producerId >= 0)!
    const gzipSegment = expected.segments.find((s) => s.batches.some((b) => b.codec === 'gzip'))!
    const human = runCli(['segments', 'dump', '--records', path.join(GOLDEN, 'v2', gzipSegment.log)])
    expect(human.code).toBe(0)
    const lines = human.stdout.split('\n')
    expect(lines[0]).toMatch(/: \d+ B$/)
    expect(lines[1]).toMatch(/^baseOffset\s+lastOffset\s+position\s+size\s+records\s+crc\s+codec\s+producer\/epoch\/seq\s+baseTimestamp\s+maxTimestamp$/)
    expect(human.stdout).toMatch(/\bgzip\b/)
    expect(human.stdout).toMatch(/^ {4}offset \d+ {2}\S+ {2}key=/m)
    const withProducer = runCli(['segments', 'dump', path.join(GOLDEN, 'v2', producerBatch.segment.log)]).stdout
    const { producerId, producerEpoch, baseSequence } = producerBatch.batch
    expect(withProducer).toContain(`${producerId}/${producerEpoch}/${baseSequence}`)
    expect(runCli(['segments', 'dump', logAppend]).stdout).toMatch(/ \(append\)$/m)
  })

  it('lays out the text table as the whole-file dump did (a small segment), with the totals moved to the end', async () => {
    for (const version of ['v1', 'v2', 'v2-log-append']) {
      for (const file of goldenLogs(version).slice(0, 1)) {
        for (const records of [true, false]) {
          const report = await inspectLog(nodeIO, file, { records, maxBatchBytes: DEFAULT_MAX_BATCH_BYTES })
          const result = runCli(['segments', 'dump', ...(records ? ['--records'] : []), file])
          expect(result.code).toBe(0)
          expect(result.stdout).toBe(wholeFileText(file, report))
        }
      }
    }
  })

  it('refuses an index file as a usage error (exit 2), in one line', () => {
    const index = path.join(GOLDEN, 'v2/00000000000000000000.index')
    const result = runCli(['segments', 'dump', index])
    expect(result.code).toBe(2)
    expect(result.stderr.trim().split('\n')).toEqual([`spool: ${index} is not a .log file; \`spool segments index\` reads index files [INVALID_ARGUMENT]`])
  })
})

describe('PacedWriter', () => {
  it('waits for drain: a slow stream never holds more than about one chunk', async () => {
    let maxQueued = 0
    let written = 0
    const slow = new Writable({
      highWaterMark: 16 * 1024,
      write(chunk: Buffer, _encoding, callback) {
        written += chunk.length
        setTimeout(callback, 1)
      },
    })
    const closed = new AbortController()
    const writer = new PacedWriter(slow, closed.signal)
    const line = `${'x'.repeat(999)}\n`
    for (let i = 0; i < 5_000; i++) {
      await writer.write(line)
      maxQueued = Math.max(maxQueued, slow.writableLength)
    }
    await writer.flush()
    await new Promise<void>((done) => slow.end(done))
    expect(written).toBe(5_000 * 1000)
    expect(maxQueued).toBeLessThan(200 * 1024)
  })

  it('stops with the reason once stdout is closed', async () => {
    const stream = new Writable({ highWaterMark: 1, write: (_chunk, _encoding, callback) => setTimeout(callback, 1_000) })
    const closed = new AbortController()
    const writer = new PacedWriter(stream, closed.signal)
    const stopped = (async () => {
      for (;;) await writer.write('x'.repeat(70_000))
    })()
    const epipe = Object.assign(new Error('write EPIPE'), { code: 'EPIPE' })
    setTimeout(() => closed.abort(epipe), 10)
    await expect(stopped).rejects.toBe(epipe)
    stream.destroy()
  })
})
