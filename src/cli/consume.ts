import { Command } from 'commander'
import type { ConsumedRecord, ReadStreamOptions } from '../client/reader.js'
import type { Spool } from '../client/spool.js'
import { invalidArgument } from '../errors.js'
import { integerOption, timeOption, withSpool } from './open.js'
import type { CliStreams, GlobalOptions } from './output.js'
import { checkFormat, formatRecord } from './record-format.js'

/**
 * `spool consume` (read-only, no group yet: consumer groups come with the groups issue)
 * and `spool replay`: both print records in offset order per partition.
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

export function consumeCommand(out: CliStreams, globals: () => GlobalOptions): Command {
  return readOptions(new Command('consume'))
    .description('print records of a topic (read-only; no consumer group)')
    .argument('<topic>')
    .option('--from-beginning', 'start at the first record (the default)')
    .option('--offset <n>', 'start at this offset (with --partition)')
    .option('--from-time <time>', 'start at the first record at or after this ISO date or ms')
    .option('--follow', 'wait for new records at the end')
    .action(async (topic: string, flags: ReadFlags & { offset?: string; fromTime?: string; fromBeginning?: boolean }) => {
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
