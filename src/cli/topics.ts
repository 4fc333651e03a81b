import { Command } from 'commander'
import { invalidArgument } from '../errors.js'
import type { FlushPolicy } from '../storage/flush-policy.js'
import type { TopicConfig } from '../topics/topic-config.js'
import type { TopicDescription } from '../topics/topics.js'
import { type Listener, type ListenerFlags, bootstrapOption, integerArgument, integerOption, withSpool, withWriter } from './open.js'
import { type CliStreams, type GlobalOptions, humanBytes, table, writeJson, writeLine } from './output.js'

/** `spool topics create|list|describe|delete|add-partitions`. */

interface CreateFlags extends ListenerFlags {
  create?: boolean
  partitions?: string
  flush?: string
  segmentBytes?: string
  retentionMs?: string
  retentionBytes?: string
  cleanup?: string
  maxRecordBytes?: string
  compression?: string
  timestampType?: string
  timestampBeforeMaxMs?: string
  timestampAfterMaxMs?: string
}

function flushOption(value: string | undefined): FlushPolicy | undefined {
  if (value === undefined || value === 'always' || value === 'never') return value
  if (!/^\d+$/.test(value)) throw invalidArgument('--flush', "must be 'always', 'never' or an interval in ms")
  return { intervalMs: Number(value) }
}

function createOptions(flags: CreateFlags): Partial<TopicConfig> {
  const options: Partial<TopicConfig> = {}
  const set = <K extends keyof TopicConfig>(key: K, value: TopicConfig[K] | undefined): void => {
    if (value !== undefined) options[key] = value
  }
  set('partitions', integerOption('partitions', flags.partitions, 1))
  set('flush', flushOption(flags.flush))
  set('segmentBytes', integerOption('segment-bytes', flags.segmentBytes, 1))
  set('retentionMs', integerOption('retention-ms', flags.retentionMs, 1))
  set('retentionBytes', integerOption('retention-bytes', flags.retentionBytes, 1))
  set('maxRecordBytes', integerOption('max-record-bytes', flags.maxRecordBytes, 1))
  set('timestampBeforeMaxMs', integerOption('timestamp-before-max-ms', flags.timestampBeforeMaxMs, 0))
  set('timestampAfterMaxMs', integerOption('timestamp-after-max-ms', flags.timestampAfterMaxMs, 0))
  // The engine checks these values and names the field.
  if (flags.cleanup !== undefined) options.cleanup = flags.cleanup as TopicConfig['cleanup']
  if (flags.compression !== undefined) options.compression = flags.compression as TopicConfig['compression']
  if (flags.timestampType !== undefined) options.timestampType = flags.timestampType as TopicConfig['timestampType']
  return options
}

function flushText(flush: FlushPolicy): string {
  return typeof flush === 'string' ? flush : `every ${flush.intervalMs} ms`
}

function printDescription(out: CliStreams, topic: TopicDescription): void {
  const { config } = topic
  writeLine(out.stdout, `topic ${topic.name}: ${config.partitions} partitions, created ${new Date(topic.createdAt).toISOString()}`)
  const settings = [
    `flush=${flushText(config.flush)}`,
    `cleanup=${config.cleanup}`,
    `segmentBytes=${humanBytes(config.segmentBytes)}`,
    `retentionMs=${config.retentionMs ?? 'forever'}`,
    `retentionBytes=${config.retentionBytes === null ? 'unlimited' : humanBytes(config.retentionBytes)}`,
    `maxRecordBytes=${humanBytes(config.maxRecordBytes)}`,
    `compression=${config.compression}`,
    `timestampType=${config.timestampType}`,
  ]
  writeLine(out.stdout, `  ${settings.join('  ')}`)
  const rows = topic.partitions.map((p) => [String(p.partition), String(p.startOffset), String(p.endOffset), String(p.endOffset - p.startOffset), humanBytes(p.bytes), String(p.segments)])
  writeLine(out.stdout, table(['partition', 'startOffset', 'endOffset', 'records', 'size', 'segments'], rows))
}

/**
 * What `topics create` and `add-partitions` print of a topic changed through a listener:
 * all of it when the data directory is at hand (read-only); with --bootstrap, its name and
 * partition count (Metadata).
 */
type Described = TopicDescription | { name: string; config: Pick<TopicConfig, 'partitions'> }

async function describeThrough(globals: GlobalOptions, listener: Listener, name: string): Promise<Described> {
  if (listener.dataDir !== null) return withSpool({ ...globals, dataDir: listener.dataDir }, 'read-only', (spool) => spool.describeTopic(name))
  return { name, config: { partitions: await listener.client.partitionCount(name) } }
}

/**
 * `topics create` through a listener (CreateTopics): the options are checked here first,
 * by the engine's rules, so that a mistake reads as it does on the directory.
 */
async function createThrough(globals: GlobalOptions, listener: Listener, name: string, options: Partial<TopicConfig>): Promise<Described> {
  const [{ resolveTopicConfig }, { kafkaTopicConfigs }] = await Promise.all([import('../topics/topic-config.js'), import('../kafka/client/topic-configs.js')])
  resolveTopicConfig(options)
  await listener.client.createTopic(name, options.partitions ?? -1, kafkaTopicConfigs(options))
  return describeThrough(globals, listener, name)
}

export function topicsCommand(out: CliStreams, globals: () => GlobalOptions): Command {
  const topics = new Command('topics').description('create, list, describe and delete topics')
  bootstrapOption(topics.command('create'))
    .description('create a topic')
    .argument('<name>')
    .option('--partitions <n>', 'number of partitions (default 1)')
    .option('--flush <policy>', "'always', 'never' or an fsync interval in ms")
    .option('--segment-bytes <n>')
    .option('--retention-ms <ms>')
    .option('--retention-bytes <n>')
    .option('--cleanup <policy>', "'delete' or 'compact'")
    .option('--max-record-bytes <n>')
    .option('--compression <codec>', "'producer' (default: as each producer asks), 'none', 'gzip', 'snappy', 'lz4' or 'zstd'")
    .option('--timestamp-type <type>', "'create' (the producer's, default) or 'logAppend' (the append time)")
    .option('--timestamp-before-max-ms <ms>', 'refuse records stamped further in the past (default: any)')
    .option('--timestamp-after-max-ms <ms>', 'refuse records stamped further in the future (default: 1 hour)')
    .option('--create', 'create the data directory if it does not exist (as spool init does)')
    .action(async (name: string, flags: CreateFlags) => {
      const options = createOptions(flags) // the command line is checked before the data directory is opened
      const created = await withWriter(
        globals(),
        flags,
        { local: (spool) => spool.createTopic(name, options), listener: (listener) => createThrough(globals(), listener, name, options) },
        { create: flags.create === true },
      )
      if (globals().json) writeJson(out.stdout, created)
      else writeLine(out.stdout, `created topic ${name} with ${created.config.partitions} partitions`)
    })
  topics
    .command('list')
    .description('list the topics with their size')
    .action(async () => {
      const described = await withSpool(globals(), 'read-only', async (spool) => Promise.all(spool.listTopics().map((t) => spool.describeTopic(t))))
      if (globals().json) {
        writeJson(out.stdout, described)
        return
      }
      const rows = described.map((t) => [
        t.name,
        String(t.partitions.length),
        String(t.partitions.reduce((sum, p) => sum + p.endOffset - p.startOffset, 0)),
        humanBytes(t.partitions.reduce((sum, p) => sum + p.bytes, 0)),
        t.config.cleanup,
      ])
      writeLine(out.stdout, rows.length === 0 ? 'no topics' : table(['topic', 'partitions', 'records', 'size', 'cleanup'], rows))
    })
  topics
    .command('describe')
    .description("show a topic's configuration and, per partition, its offsets, size and segments")
    .argument('<name>')
    .action(async (name: string) => {
      const described = await withSpool(globals(), 'read-only', (spool) => spool.describeTopic(name))
      if (globals().json) writeJson(out.stdout, described)
      else printDescription(out, described)
    })
  bootstrapOption(topics.command('delete'))
    .description('delete a topic and its data')
    .argument('<name>')
    .action(async (name: string, flags: ListenerFlags) => {
      await withWriter(globals(), flags, { local: (spool) => spool.deleteTopic(name), listener: ({ client }) => client.deleteTopic(name) })
      if (globals().json) writeJson(out.stdout, { deleted: name })
      else writeLine(out.stdout, `deleted topic ${name}`)
    })
  bootstrapOption(topics.command('add-partitions'))
    .description("raise a topic's partition count")
    .argument('<name>')
    .argument('<total>', 'the new partition count')
    .action(async (name: string, total: string, flags: ListenerFlags) => {
      const count = integerArgument('total', total, 1) // the engine checks it is above the current count
      const described = await withWriter(globals(), flags, {
        local: (spool) => spool.addPartitions(name, count),
        listener: async (listener) => {
          await listener.client.addPartitions(name, count)
          return describeThrough(globals(), listener, name)
        },
      })
      if (globals().json) writeJson(out.stdout, described)
      else writeLine(out.stdout, `topic ${name} now has ${described.config.partitions} partitions`)
    })
  return topics
}
