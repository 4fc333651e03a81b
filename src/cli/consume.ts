import { Command, Option } from 'commander'
import type { ConsumedRecord, ReadStreamOptions } from '../client/reader.js'
import type { Spool } from '../client/spool.js'
import { SpoolError, invalidArgument, isSpoolError } from '../errors.js'
import { type Listener, type ListenerFlags, bootstrapOption, integerOption, timeOption, withReader, withSpool } from './open.js'
import type { CliStreams, GlobalOptions } from './output.js'
import { type RecordFormat, checkFormat, formatRecord } from './record-format.js'

/**
 * `spool consume` and `spool replay`: both print records in offset order per partition.
 * Without --group they read only (and with --follow they follow the end as `tail -f`
 * does, beside the process that writes); `consume --group` reads as a member of a
 * consumer group and commits what it has printed — only what stdout has taken.
 */

interface ReadFlags {
  partition?: string
  format: string
  max?: string
  follow?: boolean
}

/** --json (global) prints each record as a JSON object, one a line, as --format json does. */
function recordFormat(globals: GlobalOptions, flags: ReadFlags): RecordFormat {
  const format = checkFormat(flags.format)
  return globals.json ? 'json' : format
}

/** Merges the partitions' streams: each partition in order, partitions interleaved as records arrive. */
async function* merged(streams: Array<AsyncGenerator<ConsumedRecord>>): AsyncGenerator<ConsumedRecord> {
  const nextOf = (i: number): Promise<{ i: number; result: IteratorResult<ConsumedRecord> }> => {
    const next = streams[i]!.next().then((result) => ({ i, result }))
    next.catch(() => undefined) // raced below; if the merge is left at a yield, its failure is nobody's news
    return next
  }
  const pending = new Map(streams.map((_, i) => [i, nextOf(i)]))
  while (pending.size > 0) {
    const { i, result } = await Promise.race(pending.values())
    if (result.done === true) {
      pending.delete(i)
      continue
    }
    pending.set(i, nextOf(i))
    yield result.value
  }
}

/** Aborts when any of `signals` does (AbortSignal.any, which Node 20.0–20.2 lack). */
function anySignal(signals: readonly AbortSignal[]): AbortSignal {
  const controller = new AbortController()
  for (const signal of signals) {
    if (signal.aborted) {
      controller.abort(signal.reason)
      break
    }
    signal.addEventListener('abort', () => controller.abort(signal.reason), { once: true, signal: controller.signal })
  }
  return controller.signal
}

async function* sequential(streams: Array<AsyncGenerator<ConsumedRecord>>): AsyncGenerator<ConsumedRecord> {
  for (const stream of streams) yield* stream
}

/**
 * Resolves true once stdout has taken `text` (its write callback: for a pipe or a file,
 * written to it), false when stdout has closed (its reader went away, as after
 * `| head -2`) or the write failed: the caller stops, and counts nothing of `text` as
 * printed. main.ts reports why and sets the exit status.
 */
function writeOut(out: CliStreams, text: string): Promise<boolean> {
  if (out.stdoutClosed.aborted) return Promise.resolve(false)
  return new Promise((resolve) => {
    const onClosed = (): void => resolve(false)
    out.stdoutClosed.addEventListener('abort', onClosed, { once: true })
    out.stdout.write(text, (error) => {
      out.stdoutClosed.removeEventListener('abort', onClosed)
      resolve(error === null || error === undefined)
    })
  })
}

/** Lines are written in chunks of about this many characters while records come without a wait. */
const WRITE_CHUNK_CHARS = 64 * 1024
const IDLE = Symbol('idle')

/**
 * Prints records as they come, in chunks: a chunk is written once it is large, or as soon
 * as the next record is not at hand (the source waits for I/O or, following, for an
 * append), so that a followed record is printed at once and a replay makes few writes.
 * Each chunk waits for stdout to take it; a closed stdout stops the loop at once.
 */
async function printAll(out: CliStreams, source: AsyncGenerator<ConsumedRecord>, format: RecordFormat, max: number): Promise<void> {
  let lines: string[] = []
  let chars = 0
  const flush = async (): Promise<boolean> => {
    if (lines.length === 0) return true
    const text = lines.join('')
    lines = []
    chars = 0
    return writeOut(out, text)
  }
  // Fires once the event loop gets past pending I/O: the next record is not at hand.
  let idle: Promise<typeof IDLE> | null = null
  let printed = 0
  while (printed < max && !out.stdoutClosed.aborted) {
    const next = source.next()
    let result: IteratorResult<ConsumedRecord> | typeof IDLE
    try {
      if (lines.length > 0) {
        idle ??= new Promise((resolve) => setImmediate(() => resolve(IDLE)))
        result = await Promise.race([next, idle])
        if (result === IDLE) {
          idle = null
          if (!(await flush())) {
            next.catch(() => undefined) // stdout is gone: what the read brings is nobody's news
            return
          }
          result = await next
        }
      } else {
        result = await next
      }
    } catch (error) {
      await flush() // the records before a failure (a damaged batch) are printed, then the error
      throw error
    }
    if (result.done === true) break
    const line = `${formatRecord(result.value, format)}\n`
    lines.push(line)
    chars += line.length
    printed++
    if (chars >= WRITE_CHUNK_CHARS && !(await flush())) return
  }
  await flush()
}

/**
 * SIGINT or SIGTERM asks the command to stop (it then finishes: prints what it holds,
 * commits, closes) and aborts `signal`; a second one exits at once.
 */
function stopOnSignals(): { readonly requested: boolean; readonly signal: AbortSignal; dispose: () => void } {
  const controller = new AbortController()
  const onSignal = (signal: NodeJS.Signals): void => {
    if (controller.signal.aborted) process.exit(signal === 'SIGINT' ? 130 : 143)
    controller.abort()
  }
  process.on('SIGINT', onSignal).on('SIGTERM', onSignal)
  return {
    get requested() {
      return controller.signal.aborted
    },
    signal: controller.signal,
    dispose: () => process.off('SIGINT', onSignal).off('SIGTERM', onSignal),
  }
}

type StartOf = (partition: number) => Promise<ReadStreamOptions>

/**
 * Where printed records come from: the data directory (read-only), or a Kafka listener.
 * Both give each partition in offset order; without --follow partition after partition,
 * with it as records arrive.
 */
interface RecordSource {
  /** The topic's partitions, or `only` (UNKNOWN_TOPIC, UNKNOWN_PARTITION as the engine says them). */
  partitions(topic: string, only: number | undefined): Promise<number[]>
  records(topic: string, partitions: number[], follow: boolean, signal: AbortSignal, start: StartOf): Promise<AsyncGenerator<ConsumedRecord>>
}

function directorySource(spool: Spool): RecordSource {
  return {
    partitions: async (topic, only) => (only === undefined ? (await spool.describeTopic(topic)).partitions.map((p) => p.partition) : (await spool.describeTopic(topic), [only])),
    records: async (topic, partitions, follow, signal, start) => {
      const streams = await Promise.all(partitions.map(async (partition) => spool.read(topic, { partition, follow, signal, ...(await start(partition)) })))
      return streams.length === 1 ? streams[0]! : follow ? merged(streams) : sequential(streams)
    },
  }
}

function listenerSource({ client }: Listener, readRemote: typeof import('../kafka/client/remote-reader.js').readRemote): RecordSource {
  return {
    partitions: async (topic, only) => {
      const count = await client.partitionCount(topic)
      if (only === undefined) return Array.from({ length: count }, (_, p) => p)
      if (only >= count) throw new SpoolError('UNKNOWN_PARTITION', `topic "${topic}" has partitions 0..${count - 1}, not ${only}`, { details: { topic, partition: only } })
      return [only]
    },
    records: async (topic, partitions, follow, signal, start) => readRemote(client, topic, partitions, { follow, signal, start }),
  }
}

async function printRecords(out: CliStreams, from: RecordSource, topic: string, flags: ReadFlags, format: RecordFormat, start: StartOf): Promise<void> {
  const max = integerOption('max', flags.max, 1) ?? Infinity
  const only = integerOption('partition', flags.partition)
  const follow = flags.follow === true
  const partitions = await from.partitions(topic, only)
  const stop = follow ? stopOnSignals() : null
  const done = new AbortController()
  const signal = anySignal([out.stdoutClosed, done.signal, ...(stop === null ? [] : [stop.signal])])
  try {
    await printAll(out, await from.records(topic, partitions, follow, signal, start), format, max)
  } finally {
    done.abort() // ends the partitions' reads still waiting at the end
    stop?.dispose()
  }
}

function readOptions(command: Command): Command {
  return command
    .option('--partition <n>', 'only this partition (default: all)')
    .option('--format <format>', "'value' (the value as text) or 'json' (one object a line; the global --json does the same)", 'value')
    .option('--max <n>', 'stop after this many records')
}

/** How long one poll waits for a record: bounds how late a stop (SIGINT, the end of the log) is noticed. */
const POLL_WAIT_MS = 200
const POLL_MAX_RECORDS = 500
/**
 * Without --follow, a member stops once it has every partition and no lag. Lag counts
 * offsets, so a gap that compaction left at a log's end never reaches zero: after this
 * long with nothing delivered, the member stops too.
 */
const END_IDLE_MS = 1_000
/**
 * How long `consume --group` waits for the directory's lock held by another process
 * before it gives up with NEEDS_OWNER: a `spool produce` holds it for a moment, an
 * application for good. Once a `--follow` has run a session, longer: another
 * `consume --group --follow` may be printing a backlog under it.
 */
const LOCK_WAIT_MS = 2_000
const FOLLOW_LOCK_WAIT_MS = 30_000
const LOCK_RETRY_MS = 50

/** The records of one member session, under the lock, and where each partition's log ended then. */
interface Session {
  printed: number
  ends: number[]
}

interface Stop {
  readonly requested: boolean
  readonly signal: AbortSignal
}

/**
 * One membership under the directory's lock: polls from the group's committed offsets
 * until caught up (or `max`, or a stop), printing each poll's records and committing them
 * once stdout has taken them. Records stdout did not take (it closed) are not committed:
 * the group's next member gets them.
 */
async function memberSession(out: CliStreams, spool: Spool, topic: string, group: string, format: RecordFormat, max: number, stop: Stop): Promise<Session> {
  const partitions = (await spool.describeTopic(topic)).partitions.length
  const consumer = spool.consumer({ group, topics: [topic], autoCommit: false, resetPolicy: 'earliest' })
  let printed = 0
  try {
    let lastDelivery = Date.now()
    while (printed < max && !stop.requested && !out.stdoutClosed.aborted) {
      const want = Math.min(max - printed, POLL_MAX_RECORDS)
      const records = await consumer.poll({ maxRecords: want, timeoutMs: POLL_WAIT_MS })
      if (records.length > 0) {
        // Uncommitted unless stdout took them: close() commits only what a later poll or commit() counted.
        if (!(await writeOut(out, records.map((record) => `${formatRecord(record, format)}\n`).join('')))) break
        await consumer.commit() // exactly the records just written
        printed += records.length
        lastDelivery = Date.now()
      }
      if (records.length === want) continue
      if (consumer.assignment().length === partitions && (await consumer.lag()).every((p) => p.records === 0)) break
      if (consumer.assignment().length === partitions && Date.now() - lastDelivery >= END_IDLE_MS) break
    }
  } finally {
    await consumer.close()
  }
  const ends = (await spool.describeTopic(topic)).partitions.map((p) => p.endOffset)
  return { printed, ends }
}

/**
 * Group consumption needs the process that owns the directory (members and commits live
 * there). Until the Kafka listener lands, a lock held by an application is the end of it.
 */
function needsOwner(locked: SpoolError, dataDir: string): SpoolError {
  const { pid, hostname } = locked.details as { pid?: number; hostname?: string }
  const holder = pid === undefined ? 'another process' : `process ${pid}${hostname === undefined ? '' : ` on ${hostname}`}`
  return new SpoolError(
    'NEEDS_OWNER',
    `group consumption needs the owning process; run \`spool serve\` there once it serves consumer groups (the next step of the Kafka listener), or consume in that application: ` +
      `${dataDir} is open for writing by ${holder}, and a group's members and commits live in that process. ` +
      'Without --group, `spool consume` reads (and with --follow, follows) beside it, through its Kafka listener when it has one',
    { cause: locked, details: { dir: dataDir, pid, hostname } },
  )
}

/** Runs `use` on a writable open, waiting up to `waitMs` for a lock held elsewhere; null when stopped meanwhile. */
async function underLock<T>(globals: GlobalOptions, stop: Stop, waitMs: number, use: (spool: Spool) => Promise<T>): Promise<T | null> {
  const deadline = Date.now() + waitMs
  for (;;) {
    try {
      return await withSpool(globals, 'write', use)
    } catch (error) {
      if (!isSpoolError(error, 'LOCKED')) throw error
      if (Date.now() >= deadline) throw needsOwner(error, globals.dataDir)
      await new Promise((resolve) => setTimeout(resolve, LOCK_RETRY_MS))
      if (stop.requested) return null
    }
  }
}

/**
 * Read-only, holding no lock: resolves true once some partition's log passes `ends`
 * (another process appended), false when stopped first.
 */
async function waitForAppends(spool: Spool, topic: string, ends: readonly number[], signal: AbortSignal): Promise<boolean> {
  const described = await spool.describeTopic(topic)
  if (described.partitions.some((p) => p.endOffset > (ends[p.partition] ?? 0))) return true
  const waiting = new AbortController()
  const both = anySignal([signal, waiting.signal])
  try {
    const first = described.partitions.map(async (p) => {
      const from = Math.max(ends[p.partition] ?? p.endOffset, p.startOffset)
      const next = await spool.read(topic, { partition: p.partition, fromOffset: from, follow: true, signal: both }).next()
      if (next.done !== true) return true
      throw new Error('stopped') // only the stop ends a follow
    })
    return await Promise.any(first).catch(() => false)
  } finally {
    waiting.abort()
  }
}

/**
 * `consume --group`: sessions as a member of `group` under the directory's lock, each
 * printing and committing up to the end of the log, then leaving. With --follow, between
 * sessions it waits for appends read-only, without the lock, so that other processes
 * (`spool produce`, another `consume --group`) can write meanwhile: the lock is held
 * only while records are printed and committed.
 */
async function consumeAsMember(out: CliStreams, globals: GlobalOptions, topic: string, group: string, flags: ReadFlags): Promise<void> {
  const format = recordFormat(globals, flags)
  const max = integerOption('max', flags.max, 1) ?? Infinity
  const signals = stopOnSignals()
  const stop: Stop = {
    get requested() {
      return signals.requested || out.stdoutClosed.aborted
    },
    signal: anySignal([signals.signal, out.stdoutClosed]),
  }
  try {
    let printed = 0
    for (let sessions = 0; ; sessions++) {
      const waitMs = sessions === 0 ? LOCK_WAIT_MS : FOLLOW_LOCK_WAIT_MS
      const session = await underLock(globals, stop, waitMs, (spool) => memberSession(out, spool, topic, group, format, max - printed, stop))
      if (session === null) return
      printed += session.printed
      if (flags.follow !== true || printed >= max || stop.requested) return
      if (!(await withSpool(globals, 'read-only', (spool) => waitForAppends(spool, topic, session.ends, stop.signal)))) return
    }
  } finally {
    signals.dispose()
  }
}

interface ConsumeFlags extends ReadFlags, ListenerFlags {
  group?: string
  offset?: string
  fromTime?: string
  fromBeginning?: boolean
}

export function consumeCommand(out: CliStreams, globals: () => GlobalOptions): Command {
  return bootstrapOption(readOptions(new Command('consume')))
    .description('print records of a topic: read-only, or with --group as a member of a consumer group that commits as it goes')
    .argument('<topic>')
    .addOption(
      new Option(
        '--group <group>',
        'consume as a member of this group, from its committed offsets, committing what is printed (takes the lock while it prints; refused while an application holds it)',
      ).conflicts(['partition', 'offset', 'fromTime']),
    )
    .option('--from-beginning', 'start at the first record (the default; with --group, where the group has no committed offset)')
    .option('--offset <n>', 'start at this offset (with --partition)')
    .option('--from-time <time>', 'start at the first record at or after this ISO date or ms')
    .option(
      '--follow',
      'at the end, wait for new records, as tail -f does, until SIGINT or SIGTERM: appends by another process are printed within milliseconds (with --group: the lock is taken only to print and commit them)',
    )
    .action(async (topic: string, flags: ConsumeFlags) => {
      const { group } = flags
      if (group !== undefined && flags.bootstrap !== undefined) {
        throw new SpoolError(
          'NEEDS_OWNER',
          'consume --group cannot go through a Kafka listener yet: consumer groups over the wire come with the next step of the listener. ' +
            'Without --group, spool consume goes through --bootstrap; with it, run where the data directory is',
          { details: { group, bootstrap: flags.bootstrap } },
        )
      }
      if (group !== undefined) {
        // A mistake (an unknown topic, no data directory) fails before the writable open creates anything.
        await withSpool(globals(), 'read-only', (spool) => spool.describeTopic(topic))
        await consumeAsMember(out, globals(), topic, group, flags)
        return
      }
      const format = recordFormat(globals(), flags)
      const offset = integerOption('offset', flags.offset)
      const fromTime = timeOption('from-time', flags.fromTime)
      if (offset !== undefined && flags.partition === undefined) throw invalidArgument('--offset', 'needs --partition')
      const start = async (): Promise<ReadStreamOptions> => (offset !== undefined ? { fromOffset: offset } : fromTime !== undefined ? { fromTimestamp: fromTime } : {})
      await withReader(globals(), flags, {
        local: (spool) => printRecords(out, directorySource(spool), topic, flags, format, start),
        listener: async (listener) => {
          const { readRemote } = await import('../kafka/client/remote-reader.js')
          await printRecords(out, listenerSource(listener, readRemote), topic, flags, format, start)
        },
      })
    })
}

export function replayCommand(out: CliStreams, globals: () => GlobalOptions): Command {
  return readOptions(new Command('replay'))
    .description('print a range of a topic in order, from an offset or a time, to an offset or a time')
    .argument('<topic>')
    .option('--from-offset <n>')
    .option('--from-time <time>', 'ISO date or ms')
    .option('--to-offset <n>', 'last offset (inclusive)')
    .option('--to-time <time>', 'last record time (inclusive), ISO date or ms')
    .action(async (topic: string, flags: ReadFlags & { fromOffset?: string; fromTime?: string; toOffset?: string; toTime?: string }) => {
      const format = recordFormat(globals(), flags)
      const fromOffset = integerOption('from-offset', flags.fromOffset)
      const fromTime = timeOption('from-time', flags.fromTime)
      const toOffset = integerOption('to-offset', flags.toOffset)
      const toTime = timeOption('to-time', flags.toTime)
      if ((fromOffset === undefined) === (fromTime === undefined)) throw invalidArgument('--from-offset', 'or --from-time is required (one of them)')
      await withSpool(globals(), 'read-only', (spool) =>
        printRecords(out, directorySource(spool), topic, flags, format, async (partition) => {
          const range: ReadStreamOptions = fromOffset !== undefined ? { fromOffset } : { fromTimestamp: fromTime! }
          if (toOffset !== undefined) range.toOffset = toOffset
          if (toTime !== undefined) {
            const after = await spool.offsetForTimestamp(topic, partition, toTime + 1)
            if (after !== null) range.toOffset = Math.min(range.toOffset ?? Infinity, after - 1)
          }
          return range
        }),
      )
    })
}
