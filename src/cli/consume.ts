import type { Writable } from 'node:stream'
import { Command, Option } from 'commander'
import type { Consumer } from '../client/consumer.js'
import type { ConsumedRecord, ReadStreamOptions } from '../client/reader.js'
import type { Spool } from '../client/spool.js'
import { invalidArgument } from '../errors.js'
import { checkThenWrite } from './groups.js'
import { integerOption, timeOption, withSpool } from './open.js'
import type { CliStreams, GlobalOptions } from './output.js'
import { checkFormat, formatRecord } from './record-format.js'

/**
 * `spool consume` and `spool replay`: both print records in offset order per partition.
 * Without --group they read only; `consume --group` reads as a member of a consumer group
 * and commits what it has printed.
 */

interface ReadFlags {
  partition?: string
  format: string
  max?: string
  follow?: boolean
}

/** Merges the partitions' streams: each partition in order, partitions interleaved as records arrive. */
async function* merged(streams: Array<AsyncGenerator<ConsumedRecord>>): AsyncGenerator<ConsumedRecord> {
  const pending = new Map(streams.map((stream, i) => [i, stream.next().then((result) => ({ i, result }))]))
  while (pending.size > 0) {
    const { i, result } = await Promise.race(pending.values())
    if (result.done === true) {
      pending.delete(i)
      continue
    }
    pending.set(i, streams[i]!.next().then((next) => ({ i, result: next })))
    yield result.value
  }
}

async function printRecords(out: CliStreams, spool: Spool, topic: string, flags: ReadFlags, start: (partition: number) => Promise<ReadStreamOptions>): Promise<void> {
  const format = checkFormat(flags.format)
  const max = integerOption('max', flags.max, 1) ?? Infinity
  const only = integerOption('partition', flags.partition)
  const described = await spool.describeTopic(topic)
  const partitions = only === undefined ? described.partitions.map((p) => p.partition) : [only]
  const controller = new AbortController()
  const streams = await Promise.all(
    partitions.map(async (partition) => spool.read(topic, { partition, follow: flags.follow === true, signal: controller.signal, ...(await start(partition)) })),
  )
  let printed = 0
  const source = streams.length === 1 ? streams[0]! : flags.follow === true ? merged(streams) : sequential(streams)
  for await (const record of source) {
    out.stdout.write(`${formatRecord(record, format)}\n`)
    if (++printed >= max) break
  }
  controller.abort()
}

async function* sequential(streams: Array<AsyncGenerator<ConsumedRecord>>): AsyncGenerator<ConsumedRecord> {
  for (const stream of streams) yield* stream
}

function readOptions(command: Command): Command {
  return command
    .option('--partition <n>', 'only this partition (default: all)')
    .option('--format <format>', "'value' (the value as text) or 'json' (one object a line)", 'value')
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

/** SIGINT or SIGTERM asks the loop to stop (it then closes and commits); a second one exits at once. */
function stopOnSignals(): { readonly requested: boolean; dispose: () => void } {
  let requested = false
  const onSignal = (signal: NodeJS.Signals): void => {
    if (requested) process.exit(signal === 'SIGINT' ? 130 : 143)
    requested = true
  }
  process.on('SIGINT', onSignal).on('SIGTERM', onSignal)
  return {
    get requested() {
      return requested
    },
    dispose: () => process.off('SIGINT', onSignal).off('SIGTERM', onSignal),
  }
}

/** Resolves once the stream has taken the text (so that nothing is committed before it is written out). */
function writeOut(stream: Writable, text: string): Promise<void> {
  return new Promise((resolve, reject) => stream.write(text, (error) => (error ? reject(error) : resolve())))
}

async function caughtUp(consumer: Consumer, partitions: number): Promise<boolean> {
  return consumer.assignment().length === partitions && (await consumer.lag()).every((p) => p.records === 0)
}

/**
 * Consumes as a member of `group`: each poll's records are printed, then committed, so
 * --max N prints and commits exactly N, and the next member starts after them.
 */
async function consumeAsMember(out: CliStreams, spool: Spool, topic: string, group: string, flags: ReadFlags): Promise<void> {
  const format = checkFormat(flags.format)
  const max = integerOption('max', flags.max, 1) ?? Infinity
  const partitions = (await spool.describeTopic(topic)).partitions.length
  const consumer = spool.consumer({ group, topics: [topic], autoCommit: false, resetPolicy: 'earliest' })
  const stop = stopOnSignals()
  try {
    let printed = 0
    let lastDelivery = Date.now()
    while (printed < max && !stop.requested) {
      const want = Math.min(max - printed, POLL_MAX_RECORDS)
      const records = await consumer.poll({ maxRecords: want, timeoutMs: POLL_WAIT_MS })
      if (records.length > 0) {
        await writeOut(out.stdout, records.map((record) => `${formatRecord(record, format)}\n`).join(''))
        await consumer.commit() // exactly the records just written
        printed += records.length
        lastDelivery = Date.now()
      }
      if (flags.follow === true || records.length === want) continue
      if (await caughtUp(consumer, partitions)) break
      if (consumer.assignment().length === partitions && Date.now() - lastDelivery >= END_IDLE_MS) break
    }
  } finally {
    stop.dispose()
    await consumer.close()
  }
}

interface ConsumeFlags extends ReadFlags {
  group?: string
  offset?: string
  fromTime?: string
  fromBeginning?: boolean
}

export function consumeCommand(out: CliStreams, globals: () => GlobalOptions): Command {
  return readOptions(new Command('consume'))
    .description('print records of a topic: read-only, or with --group as a member of a consumer group that commits as it goes')
    .argument('<topic>')
    .addOption(
      new Option('--group <group>', 'consume as a member of this group, from its committed offsets, committing what is printed (takes the lock)').conflicts([
        'partition',
        'offset',
        'fromTime',
      ]),
    )
    .option('--from-beginning', 'start at the first record (the default; with --group, where the group has no committed offset)')
    .option('--offset <n>', 'start at this offset (with --partition)')
    .option('--from-time <time>', 'start at the first record at or after this ISO date or ms')
    .option('--follow', 'wait for new records at the end (with --group: until SIGINT or SIGTERM, then commit and leave)')
    .action(async (topic: string, flags: ConsumeFlags) => {
      const { group } = flags
      if (group !== undefined) {
        await checkThenWrite(globals(), (spool) => spool.describeTopic(topic), (spool) => consumeAsMember(out, spool, topic, group, flags))
        return
      }
      const offset = integerOption('offset', flags.offset)
      const fromTime = timeOption('from-time', flags.fromTime)
      if (offset !== undefined && flags.partition === undefined) throw invalidArgument('--offset', 'needs --partition')
      await withSpool(globals(), 'read-only', (spool) =>
        printRecords(out, spool, topic, flags, async () => (offset !== undefined ? { fromOffset: offset } : fromTime !== undefined ? { fromTimestamp: fromTime } : {})),
      )
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
      const fromOffset = integerOption('from-offset', flags.fromOffset)
      const fromTime = timeOption('from-time', flags.fromTime)
      const toOffset = integerOption('to-offset', flags.toOffset)
      const toTime = timeOption('to-time', flags.toTime)
      if ((fromOffset === undefined) === (fromTime === undefined)) throw invalidArgument('--from-offset', 'or --from-time is required (one of them)')
      await withSpool(globals(), 'read-only', (spool) =>
        printRecords(out, spool, topic, flags, async (partition) => {
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
