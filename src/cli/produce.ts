import fs from 'node:fs'
import type { Readable } from 'node:stream'
import { Command } from 'commander'
import type { Producer, ProducerRecord, RecordMetadata } from '../client/producer.js'
import type { Spool } from '../client/spool.js'
import { SpoolError, invalidArgument, ioError, isSpoolError } from '../errors.js'
import type { CompressionCodec } from '../record/compression/index.js'
import { LineSplitter } from './lines.js'
import { type Listener, type ListenerFlags, bootstrapOption, integerOption, withWriter } from './open.js'
import { type CliStreams, type GlobalOptions, writeJson, writeLine } from './output.js'

/**
 * How long a line waits for others to share its batch. Each line is sent as it comes, as
 * kafka-console-producer sends each one (after its --timeout, linger.ms, default 1000 ms;
 * an append here is local, so a much shorter wait is enough): a line typed at a terminal
 * is written and acknowledged at once, so Ctrl-C cannot lose it. Piped lines arrive many
 * to a read, and sends keep coming while an fsync is in flight, so they still form large
 * batches (one write, one fsync for thousands of lines).
 */
export const PRODUCE_LINGER_MS = 2

/**
 * Lines sent and not yet acknowledged, at most: reading waits above either bound, so that
 * any input (a file of gigabytes) takes bounded memory while the log catches up. Records
 * in flight are what the garbage collector copies at each young-generation pass: 2,000
 * keeps its cost near that of sending 1,000-line chunks, while each fsync still covers
 * thousands of lines.
 */
export const MAX_UNACKED_RECORDS = 2_000
export const MAX_UNACKED_CHARS = 8 * 1024 * 1024

/**
 * After SIGINT or SIGTERM, reading goes on this long, so that lines already written to
 * the pipe before the signal (and not yet read) are sent too; a terminal's lines are read
 * as they are typed (and Ctrl-C discards what was not), so they need no wait.
 */
export const STOP_DRAIN_MS = 100

/** Exit statuses of a produce stopped by a signal after sending what it had read (128 + the signal's number). */
const SIGNAL_EXIT: Readonly<Record<StopSignal, number>> = { SIGINT: 130, SIGTERM: 143 }

type StopSignal = 'SIGINT' | 'SIGTERM'

interface ProduceFlags extends ListenerFlags {
  file?: string
  keySeparator?: string
  partition?: string
  header: string[]
  quiet?: boolean
  compression?: string
}

/** What a produce sends with: the engine's Producer, or a RemoteProducer through a Kafka listener. */
type RecordSender = Pick<Producer, 'send'>

/** A contiguous run of offsets written to one partition. */
export interface WrittenRange {
  partition: number
  firstOffset: number
  lastOffset: number
}

function parseHeaders(pairs: readonly string[]): Record<string, string> {
  const headers: Record<string, string> = {}
  for (const pair of pairs) {
    const at = pair.indexOf('=')
    if (at <= 0) throw invalidArgument('--header', `must be key=value, not "${pair}"`)
    headers[pair.slice(0, at)] = pair.slice(at + 1)
  }
  return headers
}

/** The file's lines, or a one-line error for a file that is not there (no stack, no data directory opened). */
async function openInput(file: string): Promise<Readable> {
  let handle: fs.promises.FileHandle
  try {
    handle = await fs.promises.open(file, 'r')
  } catch (error) {
    const errno = (error as NodeJS.ErrnoException).code
    if (errno === 'ENOENT' || errno === 'ENOTDIR') throw invalidArgument('--file', `${file} does not exist`)
    throw ioError('opening', file, error)
  }
  try {
    if ((await handle.stat()).isDirectory()) throw invalidArgument('--file', `${file} is a directory, not a file of lines`)
  } catch (error) {
    await handle.close()
    throw error
  }
  return handle.createReadStream()
}

/** What one produce wrote, per partition as runs of offsets. */
class Written {
  records = 0
  private readonly runs = new Map<number, WrittenRange[]>()

  add({ partition, offset }: RecordMetadata): void {
    this.records++
    const runs = this.runs.get(partition) ?? []
    const last = runs[runs.length - 1]
    if (last !== undefined && last.lastOffset + 1 === offset) last.lastOffset = offset
    else runs.push({ partition, firstOffset: offset, lastOffset: offset })
    this.runs.set(partition, runs)
  }

  ranges(): WrittenRange[] {
    return [...this.runs.keys()].sort((a, b) => a - b).flatMap((p) => this.runs.get(p)!)
  }

  /** `wrote 9 records to orders: partition 0 offsets 0..3, partition 2 offsets 5..9`. */
  text(topic: string): string {
    if (this.records === 0) return `wrote nothing to ${topic}`
    const where = this.ranges().map((r) => `partition ${r.partition} ${r.firstOffset === r.lastOffset ? `offset ${r.firstOffset}` : `offsets ${r.firstOffset}..${r.lastOffset}`}`)
    return `wrote ${this.records} record${this.records === 1 ? '' : 's'} to ${topic}: ${where.join(', ')}`
  }
}

interface Failure {
  /** The input line that failed (1-based), or null for a failure that is no line's. */
  line: number | null
  error: unknown
}

type Sent = { metadata: RecordMetadata } | { error: unknown }

interface Pending {
  line: number
  chars: number
  result: Sent | null
}

/**
 * One produce: reads lines as they arrive and sends each at once (the producer lingers
 * PRODUCE_LINGER_MS to batch those that come together); prints each acknowledgement in
 * input order as it comes; stops reading at the first failure, at SIGINT or SIGTERM, or
 * when stdout closes, and then still sends every complete line it has read.
 */
class ProduceRun {
  readonly written = new Written()
  /** With --json (and not --quiet): every acknowledgement, printed as one array at the end. */
  readonly acknowledged: RecordMetadata[] = []
  /** Input lines seen so far (sent, or failed before sending). */
  lines = 0
  failure: Failure | null = null
  failedLines = 0
  signal: StopSignal | null = null
  /** Characters of a last line that had no line end when reading stopped: not sent. */
  unfinished = 0
  /** The input was read to its end. */
  readAll = false
  /** Reading has stopped (a signal's wait for what a pipe holds is over), or a failure stopped it. */
  private stopped = false
  private onStopped: () => void = () => undefined
  private drain: NodeJS.Timeout | undefined
  /** Sends not yet acknowledged, in input order (from `head`): acknowledgements are handled in that order. */
  private readonly sent: Pending[] = []
  private head = 0
  private unackedChars = 0
  /** Woken when acknowledgements make room, when reading stops, and when the last send is acknowledged. */
  private waiters: Array<() => void> = []
  private pendingText = ''

  constructor(
    private readonly out: CliStreams,
    private readonly topic: string,
    private readonly producer: RecordSender,
    private readonly recordOf: (line: string) => ProducerRecord,
    private readonly print: 'each' | 'json' | 'none',
  ) {}

  /**
   * Stops reading: at once, or after `drainMs` for what is already waiting in a pipe. The
   * lines already read are still sent (those the input stream holds too); a last line
   * without its line end is not.
   */
  stop(drainMs = 0): void {
    if (this.stopped) return
    if (drainMs > 0) {
      if (this.drain === undefined) {
        // After the timer, one more turn of the event loop's poll phase reads what the
        // pipe holds, even if this process was too busy to run for the whole wait.
        this.drain = setTimeout(() => setImmediate(() => this.stop()), drainMs)
      }
      return
    }
    this.stopped = true
    this.onStopped()
    this.wake()
  }

  async produce(input: Readable): Promise<void> {
    const splitter = new LineSplitter()
    const sendAll = async (lines: readonly string[]): Promise<void> => {
      for (const line of lines) {
        if (this.failure !== null) return
        if (!this.hasRoom()) await this.roomToSend() // not an await a line: most lines find room
        this.send(line)
      }
    }
    // Not destroyed when the loop stops: what the stream has read by then is still sent.
    const chunks = input.iterator({ destroyOnReturn: false })
    const stopped = new Promise<'stopped'>((resolve) => (this.onStopped = () => resolve('stopped')))
    let ended = false
    try {
      while (!this.stopped && this.failure === null) {
        const next = await Promise.race([chunks.next(), stopped])
        if (next === 'stopped') break // a read was waiting: the stream holds nothing
        if (next.done === true) {
          ended = true
          break
        }
        await sendAll(splitter.push(next.value as Buffer))
      }
      if (!ended) for (let chunk = input.read() as Buffer | null; chunk !== null; chunk = input.read() as Buffer | null) await sendAll(splitter.push(chunk))
      // At the end of the input its last line needs no line end; when reading stopped before, it is unfinished.
      if (ended) await sendAll(splitter.end())
      this.readAll = ended && this.failure === null
    } catch (error) {
      this.fail(null, ioError('reading', 'the input', error))
    } finally {
      clearTimeout(this.drain)
      this.unfinished = splitter.unfinished
      input.destroy()
    }
    while (this.head < this.sent.length) await new Promise<void>((resolve) => this.waiters.push(resolve))
    this.flushText()
  }

  private hasRoom(): boolean {
    return this.sent.length - this.head < MAX_UNACKED_RECORDS && this.unackedChars < MAX_UNACKED_CHARS
  }

  private async roomToSend(): Promise<void> {
    while (this.failure === null && !this.hasRoom()) {
      await new Promise<void>((resolve) => this.waiters.push(resolve))
    }
  }

  private wake(): void {
    for (const resolve of this.waiters.splice(0)) resolve()
  }

  private send(line: string): void {
    const at = ++this.lines
    let record: ProducerRecord
    try {
      record = this.recordOf(line)
    } catch (error) {
      this.fail(at, error)
      return
    }
    const pending: Pending = { line: at, chars: line.length, result: null }
    this.sent.push(pending)
    this.unackedChars += pending.chars
    this.producer.send(record).then(
      (metadata) => this.settled(pending, { metadata }),
      (error: unknown) => this.settled(pending, { error }),
    )
  }

  /** Handles the acknowledgements that are next in input order (a batch's arrive together). */
  private settled(pending: Pending, result: Sent): void {
    pending.result = result
    let next = this.sent[this.head]
    if (next?.result === null) return // an earlier line's send is still out
    for (; next?.result != null; next = this.sent[++this.head]) {
      this.unackedChars -= next.chars
      if ('metadata' in next.result) this.acknowledge(next.result.metadata)
      else this.fail(next.line, next.result.error)
    }
    if (this.head > 1024 && this.head * 2 > this.sent.length) {
      this.sent.splice(0, this.head)
      this.head = 0
    }
    this.wake()
  }

  private acknowledge(metadata: RecordMetadata): void {
    this.written.add(metadata)
    if (this.print === 'json') this.acknowledged.push(metadata)
    if (this.print !== 'each') return
    // Acknowledgements that arrive together (one batch) are printed with one write.
    if (this.pendingText === '') setImmediate(() => this.flushText())
    this.pendingText += `partition ${metadata.partition} offset ${metadata.offset}\n`
  }

  private flushText(): void {
    if (this.pendingText === '') return
    this.out.stdout.write(this.pendingText)
    this.pendingText = ''
  }

  /** Records a failed line (or read) and stops reading: the lines after it are not sent. */
  private fail(line: number | null, error: unknown): void {
    this.failedLines += line === null ? 0 : 1
    if (this.failure === null || (line !== null && (this.failure.line === null || line < this.failure.line))) this.failure = { line, error }
    this.stop()
  }

  /** The failure, with what was written before (and despite) it, as one error. */
  failureError(source: string): unknown {
    if (this.failure === null) return null
    const { line, error } = this.failure
    if (this.lines <= 1 && this.written.records === 0) return error // nothing to report beside it
    const where = line === null ? `produce failed after ${this.lines} lines of ${source}` : `produce stopped at line ${line} of ${source}`
    const others = this.failedLines > 1 ? ` (${this.failedLines} lines failed)` : ''
    const message = `${where}${others}: ${error instanceof Error ? error.message : String(error)}; ${this.written.text(this.topic)}`
    const written = { records: this.written.records, ranges: this.written.ranges() }
    if (!isSpoolError(error)) return new Error(message, { cause: error })
    return new SpoolError(error.code, message, { cause: error, details: { ...error.details, line, written } })
  }

  /** What a stop by signal or a closed stdout leaves to say: what was written, and what was not sent. */
  stopNotice(json: boolean, source: string, why: string): string {
    if (json) {
      const stopped = { reason: why, lines: this.lines, readAll: this.readAll, records: this.written.records, written: this.written.ranges(), unfinishedChars: this.unfinished }
      return JSON.stringify({ stopped })
    }
    const unsent = this.unfinished > 0 ? `; an unfinished last line (${this.unfinished} characters, no line end) was not sent` : ''
    const read = this.readAll ? `read all ${this.lines} lines of ${source}` : `stopped reading ${source} after ${this.lines} lines`
    return `spool: ${why}: ${read}, and sent them all; ${this.written.text(this.topic)}${unsent}`
  }
}

export function produceCommand(out: CliStreams, globals: () => GlobalOptions): Command {
  return bootstrapOption(new Command('produce'))
    .description('send records to a topic, one per line of stdin (or --file)')
    .argument('<topic>')
    .option('--file <path>', 'read the lines from a file instead of stdin')
    .option('--key-separator <sep>', 'split each line at the first <sep> into key and value')
    .option('--partition <n>', 'send every record to this partition')
    .option('--header <k=v>', 'add a header to every record (repeatable)', (value: string, all: string[]) => [...all, value], [])
    .option('--quiet', 'print only the number of records written')
    .option('--compression <codec>', "compress batches on disk: 'none' (default), 'gzip', 'snappy', 'lz4' or 'zstd'")
    .action(async (topic: string, flags: ProduceFlags) => {
      const partition = integerOption('partition', flags.partition)
      const headers = parseHeaders(flags.header)
      const { json } = globals()
      const source = flags.file ?? 'stdin'
      const recordOf = (line: string): ProducerRecord => {
        const record: ProducerRecord = { topic, value: line, headers }
        if (partition !== undefined) record.partition = partition
        if (flags.keySeparator !== undefined) {
          const at = line.indexOf(flags.keySeparator)
          if (at < 0) throw invalidArgument('--key-separator', `"${flags.keySeparator}" is missing from the line "${line.slice(0, 60)}"`)
          record.key = line.slice(0, at)
          record.value = line.slice(at + flags.keySeparator.length)
        }
        return record
      }
      const input = flags.file === undefined ? process.stdin : await openInput(flags.file)
      let run: ProduceRun | null = null
      let signalled: StopSignal | null = null
      const onSignal = (signal: StopSignal): void => {
        if (signalled !== null) process.exit(SIGNAL_EXIT[signal]) // a second one: at once
        signalled = signal
        if (run !== null) {
          run.signal = signal
          run.stop(STOP_DRAIN_MS)
        }
      }
      const onStdoutClosed = (): void => run?.stop()
      process.on('SIGINT', onSignal).on('SIGTERM', onSignal)
      out.stdoutClosed.addEventListener('abort', onStdoutClosed)
      let failed: unknown = null
      try {
        // The engine checks the codec's name and names the field.
        const options = { lingerMs: PRODUCE_LINGER_MS, ...(flags.compression === undefined ? {} : { compression: flags.compression as CompressionCodec }) }
        const produceWith = async (producer: RecordSender): Promise<void> => {
          run = new ProduceRun(out, topic, producer, recordOf, flags.quiet ? 'none' : json ? 'json' : 'each')
          run.signal = signalled // one that came during the open
          if (signalled !== null) run.stop(STOP_DRAIN_MS)
          if (out.stdoutClosed.aborted) run.stop()
          if (input === process.stdin && process.stdin.isTTY && process.stderr.isTTY && !json) {
            writeLine(out.stderr, 'spool: one record a line, sent when you press Enter; Ctrl-D ends, Ctrl-C stops after sending what you typed')
          }
          await run.produce(input)
        }
        // An unknown topic fails before a line is read, either way.
        await withWriter(globals(), flags, {
          local: async (spool: Spool) => {
            await spool.describeTopic(topic)
            await produceWith(spool.producer(options))
          },
          listener: async ({ client }: Listener) => {
            const { RemoteProducer } = await import('../kafka/client/remote-producer.js')
            await produceWith(await RemoteProducer.forTopic(client, topic, options))
          },
        })
      } catch (error) {
        failed = error
      } finally {
        process.off('SIGINT', onSignal).off('SIGTERM', onSignal)
        out.stdoutClosed.removeEventListener('abort', onStdoutClosed)
        if (input !== process.stdin) input.destroy()
      }
      const done = run as ProduceRun | null
      if (done !== null) {
        // What was written, even when the produce failed part-way: valid JSON with --json.
        if (json) writeJson(out.stdout, flags.quiet ? { records: done.written.records } : done.acknowledged)
        else if (flags.quiet) writeLine(out.stdout, `${done.written.records} records written`)
      }
      const failure = done?.failureError(source) ?? null
      if (failure !== null) throw failure // the record that failed first, with what was written
      if (failed !== null) throw failed
      if (done === null) return
      if (done.signal !== null) {
        writeLine(out.stderr, done.stopNotice(json, source, `interrupted by ${done.signal}`))
        process.exitCode = SIGNAL_EXIT[done.signal]
      } else if (out.stdoutClosed.aborted) {
        writeLine(out.stderr, done.stopNotice(json, source, 'stdout closed'))
      }
    })
}
