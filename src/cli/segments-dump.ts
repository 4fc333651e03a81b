import { once } from 'node:events'
import type { Writable } from 'node:stream'
import { Command } from 'commander'
import { DEFAULT_MAX_BATCH_BYTES } from '../limits.js'
import { batchCodec } from '../record/batch-decoder.js'
import { ATTRIBUTES_LOG_APPEND_TIME } from '../record/batch-format.js'
import type { StoredRecord } from '../record/types.js'
import { nodeIO } from '../storage/io.js'
import { type BatchReport, type LogItem, type LogReport, walkLog } from '../storage/segment-inspector.js'
import { type CliStreams, type GlobalOptions, base64OrNull, humanBytes, isoTime, showBytes } from './output.js'

/**
 * `spool segments dump <file.log> [--records]`, streamed: each batch is printed as it is
 * read, then dropped, and the walk waits while stdout is full, so that a dump of a 1 GiB
 * segment holds a few read buffers and one batch in memory (as Kafka's kafka-dump-log),
 * whether stdout is a file, a terminal or a pipe into a slow reader.
 *
 * With --json it prints the document it printed when it read the whole file first, byte
 * for byte (`{"file", "sizeBytes", "batches": [...], "skipped", "unreadable"}`, indented
 * by 2), written a batch, and a record, at a time: one valid JSON document, as scripts
 * (`jq`) expect, rather than JSON lines. As text: `<file>: <size>`, the batch table with a
 * line per record under its batch and a line for each stretch of damage where it lies,
 * then the totals, last, where a stream knows them. The column widths come from the first
 * rows (all of them in a small segment: its table is laid out as before); a wider cell
 * further on shifts its row.
 */

/** Pending output is handed to the stream in pieces of about this many characters. */
const WRITE_CHUNK_CHARS = 64 * 1024

/**
 * Writes text to stdout in chunks, and waits for 'drain' whenever the stream says it is
 * full: without that, a stream slower than the walk (a pipe into `less`, over ssh) would
 * queue the whole dump in memory. Once stdout is closed (its reader went away: EPIPE), the
 * next write throws the reason, which ends the walk (main.ts then exits quietly).
 */
export class PacedWriter {
  private parts: string[] = []
  private chars = 0

  constructor(
    private readonly stream: Writable,
    private readonly closed: AbortSignal,
  ) {}

  async write(text: string): Promise<void> {
    this.parts.push(text)
    this.chars += text.length
    if (this.chars >= WRITE_CHUNK_CHARS) await this.flush()
  }

  async flush(): Promise<void> {
    this.closed.throwIfAborted()
    if (this.parts.length === 0) return
    const text = this.parts.join('')
    this.parts = []
    this.chars = 0
    if (this.stream.write(text)) return
    try {
      await once(this.stream, 'drain', { signal: this.closed })
    } catch (error) {
      this.closed.throwIfAborted() // the stream's own error, rather than the AbortError
      throw error
    }
  }
}

/** The dump as a consumer of the walk: told the size, then each item in file order. */
interface DumpSink {
  start(sizeBytes: number): Promise<void>
  item(item: LogItem): Promise<void>
  end(): Promise<void>
}

function recordJson(record: StoredRecord): unknown {
  return {
    offset: record.offset,
    timestamp: record.timestamp,
    key: base64OrNull(record.key),
    value: base64OrNull(record.value),
    headers: record.headers.map((h) => ({ key: h.key, value: base64OrNull(h.value) })),
  }
}

/** Every field of a batch but its records (which JSON output writes one at a time, last). */
function batchFields(batch: BatchReport): Record<string, unknown> {
  const { header } = batch
  return {
    baseOffset: header.baseOffset,
    lastOffset: batch.lastOffset,
    position: batch.position,
    sizeBytes: header.sizeBytes,
    recordCount: header.recordCount,
    crc: header.crc.toString(16).padStart(8, '0'),
    crcOk: batch.crcOk,
    format: batch.format,
    compression: batchCodec(header),
    timestampType: (header.attributes & ATTRIBUTES_LOG_APPEND_TIME) === 0 ? 'create' : 'logAppend',
    producerId: header.producerId,
    producerEpoch: header.producerEpoch,
    baseSequence: header.baseSequence,
    ok: batch.ok,
    ...(batch.problem === undefined ? {} : { problem: batch.problem }),
    baseTimestamp: header.baseTimestamp,
    maxTimestamp: header.maxTimestamp,
  }
}

/** `JSON.stringify(value, null, 2)` as it reads nested `depth` levels deep in a document indented by 2. */
function pretty(value: unknown, depth: number): string {
  return JSON.stringify(value, null, 2).replaceAll('\n', `\n${'  '.repeat(depth)}`)
}

/**
 * `--json`: the document `JSON.stringify(report, null, 2)` gave when the dump was built in
 * memory, byte for byte, written as the walk goes: the head, each batch (its records one
 * at a time), then `skipped` (one entry per stretch of damage: small) and `unreadable`.
 */
class JsonDump implements DumpSink {
  private batches = 0
  private readonly skipped: LogReport['skipped'] = []
  private unreadable: LogReport['unreadable'] = null
  damaged = false

  constructor(
    private readonly out: PacedWriter,
    private readonly file: string,
  ) {}

  async start(sizeBytes: number): Promise<void> {
    await this.out.write(`{\n  "file": ${JSON.stringify(this.file)},\n  "sizeBytes": ${sizeBytes},\n  "batches": [`)
  }

  async item(item: LogItem): Promise<void> {
    if (item.kind === 'skipped') {
      this.skipped.push({ position: item.position, end: item.end, why: item.why })
      this.damaged = true
      return
    }
    if (item.kind === 'unreadable') {
      this.unreadable = { position: item.position, why: item.why }
      this.damaged = true
      return
    }
    const { batch } = item
    if (!batch.ok) this.damaged = true
    const head = pretty(batchFields(batch), 2)
    const separator = this.batches++ === 0 ? '\n    ' : ',\n    '
    if (batch.records === undefined) {
      await this.out.write(separator + head)
      return
    }
    // The fields without their closing brace, then "records" as the last key, as before.
    await this.out.write(`${separator}${head.slice(0, -'\n    }'.length)},\n      "records": [`)
    for (const [i, record] of batch.records.entries()) await this.out.write(`${i === 0 ? '\n        ' : ',\n        '}${pretty(recordJson(record), 4)}`)
    await this.out.write(batch.records.length === 0 ? ']\n    }' : '\n      ]\n    }')
  }

  async end(): Promise<void> {
    const close = this.batches === 0 ? ']' : '\n  ]'
    await this.out.write(`${close},\n  "skipped": ${pretty(this.skipped, 1)},\n  "unreadable": ${pretty(this.unreadable, 1)}\n}\n`)
  }
}

export const TABLE_HEADERS = ['baseOffset', 'lastOffset', 'position', 'size', 'records', 'crc', 'codec', 'producer/epoch/seq', 'baseTimestamp', 'maxTimestamp']
/** The text table takes its column widths from the rows read before either limit is reached. */
const WIDTH_SAMPLE_ROWS = 1000
const WIDTH_SAMPLE_CHARS = 1024 * 1024

/** A batch's row of the text table. */
export function batchRow(b: BatchReport): string[] {
  return [
    String(b.header.baseOffset),
    String(b.lastOffset),
    String(b.position),
    String(b.header.sizeBytes),
    String(b.header.recordCount),
    b.ok ? (b.format === 1 ? 'ok (v1)' : 'ok') : b.crcOk ? 'BAD offsets' : 'BAD',
    batchCodec(b.header),
    b.header.producerId < 0 ? '-' : `${b.header.producerId}/${b.header.producerEpoch}/${b.header.baseSequence}`,
    isoTime(b.header.baseTimestamp),
    `${isoTime(b.header.maxTimestamp)}${(b.header.attributes & ATTRIBUTES_LOG_APPEND_TIME) === 0 ? '' : ' (append)'}`,
  ]
}

function recordLine(record: StoredRecord): string {
  const headerText = record.headers.map((h) => `${h.key}=${showBytes(h.value)}`).join(' ')
  return `    offset ${record.offset}  ${isoTime(record.timestamp)}  key=${showBytes(record.key)}  value=${showBytes(record.value)}${headerText === '' ? '' : `  headers: ${headerText}`}`
}

/**
 * Text: `<file>: <size>`, the batch table (each batch's records under its row, a line for
 * each stretch of damage where it is), then `<n> batches, <m> records`. A table needs its
 * column widths before its first row: they come from the first rows, held until
 * WIDTH_SAMPLE_ROWS rows or WIDTH_SAMPLE_CHARS of text are read (so a small segment's
 * table is laid out as when the whole file was read), and stay fixed after.
 */
class TextDump implements DumpSink {
  private widths: number[] | null = null
  private held: Array<string[] | string> = [] // rows (cells) and lines, until the widths are known
  private heldRows = 0
  private heldChars = 0
  private batches = 0
  private records = 0
  private bad = 0
  damaged = false

  constructor(
    private readonly out: PacedWriter,
    private readonly file: string,
  ) {}

  async start(sizeBytes: number): Promise<void> {
    await this.out.write(`${this.file}: ${humanBytes(sizeBytes)}\n`)
  }

  async item(item: LogItem): Promise<void> {
    if (item.kind === 'skipped') {
      this.damaged = true
      await this.line(`damaged bytes ${item.position}..${item.end - 1}: ${item.why}`)
      return
    }
    if (item.kind === 'unreadable') {
      this.damaged = true
      await this.line(`unreadable from byte ${item.position}: ${item.why}`)
      return
    }
    const { batch } = item
    this.batches++
    this.records += batch.header.recordCount
    if (!batch.ok) {
      this.bad++
      this.damaged = true
    }
    await this.row(batchRow(batch))
    for (const record of batch.records ?? []) await this.line(recordLine(record))
  }

  async end(): Promise<void> {
    await this.fixWidths()
    await this.out.write(`${this.batches} batches${this.bad === 0 ? '' : ` (${this.bad} damaged)`}, ${this.records} records\n`)
  }

  private async row(cells: string[]): Promise<void> {
    if (this.widths !== null) return this.out.write(`${this.format(cells)}\n`)
    this.held.push(cells)
    this.heldRows++
    this.heldChars += cells.reduce((sum, cell) => sum + cell.length + 2, 0)
    if (this.heldRows >= WIDTH_SAMPLE_ROWS || this.heldChars >= WIDTH_SAMPLE_CHARS) await this.fixWidths()
  }

  private async line(text: string): Promise<void> {
    if (this.widths !== null) return this.out.write(`${text}\n`)
    this.held.push(text)
    this.heldChars += text.length + 1
    if (this.heldChars >= WIDTH_SAMPLE_CHARS) await this.fixWidths()
  }

  /** Takes the widths from the rows held (as output.ts's table() does), and writes the header and what was held. */
  private async fixWidths(): Promise<void> {
    if (this.widths !== null) return
    const rows = this.held.filter((entry): entry is string[] => typeof entry !== 'string')
    this.widths = TABLE_HEADERS.map((h, c) => Math.max(h.length, ...rows.map((r) => (r[c] ?? '').length)))
    await this.out.write(`${this.format(TABLE_HEADERS)}\n`)
    const held = this.held
    this.held = []
    for (const entry of held) await this.out.write(`${typeof entry === 'string' ? entry : this.format(entry)}\n`)
  }

  private format(cells: readonly string[]): string {
    return cells
      .map((cell, c) => cell.padEnd(this.widths![c]!))
      .join('  ')
      .trimEnd()
  }
}

export function dumpCommand(out: CliStreams, globals: () => GlobalOptions, checkLogFile: (file: string) => void): Command {
  return new Command('dump')
    .description('print every batch of a .log file (and with --records every record), as it reads it')
    .argument('<file.log>', 'a segment log file')
    .option('--records', 'print the records too')
    .action(async (file: string, options: { records?: boolean }) => {
      checkLogFile(file)
      const writer = new PacedWriter(out.stdout, out.stdoutClosed)
      const sink = globals().json ? new JsonDump(writer, file) : new TextDump(writer, file)
      await walkLog(nodeIO, file, { records: options.records === true, maxBatchBytes: DEFAULT_MAX_BATCH_BYTES }, sink)
      await sink.end()
      await writer.flush()
      if (sink.damaged) process.exitCode = 1
    })
}
