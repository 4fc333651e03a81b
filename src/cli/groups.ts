import { Command, Option } from 'commander'
import type { GroupReport, ResetPlanEntry, ResetTarget } from '../client/group-admin.js'
import type { Spool } from '../client/spool.js'
import { invalidArgument } from '../errors.js'
import type { TopicPartition } from '../groups/assignors.js'
import { integerOption, timeOption, withSpool } from './open.js'
import { type CliStreams, type GlobalOptions, humanBytes, humanDuration, table, writeResult } from './output.js'

/**
 * `spool groups list|describe|reset-offsets|delete`: consumer groups as an operator sees
 * them (Kafka's kafka-consumer-groups). list and describe open the data directory
 * read-only, so they work beside a running application; reset-offsets --execute and
 * delete take the directory's lock, and so are refused (LOCKED) while one runs.
 */

interface ResetFlags {
  toEarliest?: boolean
  toLatest?: boolean
  toOffset?: string
  toDatetime?: string
  shiftBy?: string
  topic?: string[]
  execute?: boolean
}

const TARGET_FLAGS = ['toEarliest', 'toLatest', 'toOffset', 'toDatetime', 'shiftBy'] as const
const TARGET_NAMES = '--to-earliest, --to-latest, --to-offset, --to-datetime or --shift-by'

const sum = (values: number[]): number => values.reduce((total, value) => total + value, 0)
const signed = (n: number): string => (n > 0 ? `+${n}` : String(n))
const orDash = (value: string | number | null): string => (value === null ? '-' : String(value))

/** `orders-0,1,2 audit-3`: partitions grouped by topic. */
function partitionList(partitions: readonly TopicPartition[]): string {
  const byTopic = new Map<string, number[]>()
  for (const { topic, partition } of partitions) byTopic.set(topic, [...(byTopic.get(topic) ?? []), partition])
  return [...byTopic].map(([topic, numbers]) => `${topic}-${numbers.sort((a, b) => a - b).join(',')}`).join(' ') || '-'
}

function describeText(report: GroupReport): string {
  const lines: string[] = []
  if (report.state === 'empty') {
    lines.push(`group ${report.group}: no live members (a read-only view cannot see the members of a running application)`)
  } else {
    lines.push(`group ${report.group}: ${report.state}, generation ${report.generation}, assignor ${report.assignor ?? '-'}, ${report.members.length} member(s)`)
    const members = report.members.map((m) => [m.memberId, m.instanceId ?? '-', m.topics.join(','), partitionList(m.assigned)])
    lines.push(table(['member', 'instance', 'topics', 'assigned'], members), '')
  }
  const rows = report.partitions.map((p) => [
    p.topic,
    String(p.partition),
    orDash(p.committedOffset),
    String(p.endOffset),
    String(p.records),
    humanBytes(p.bytes),
    humanDuration(p.timeMs),
    orDash(p.owner),
  ])
  const deleted = report.deletedTopics.join(', ')
  if (rows.length > 0) {
    lines.push(table(['topic', 'partition', 'committed', 'endOffset', 'lag', 'lagSize', 'lagTime', 'owner'], rows))
    if (deleted !== '') lines.push(`it also has committed offsets on deleted topics: ${deleted}`)
  } else {
    // No partition to show: either nothing was committed yet, or only on topics since deleted.
    lines.push(deleted === '' ? 'no committed offsets yet' : `no partitions: its topics were deleted (${deleted})`)
  }
  return lines.join('\n')
}

function listText(reports: readonly GroupReport[]): string {
  if (reports.length === 0) return 'no groups'
  const rows = reports.map((r) => [
    r.group,
    [...new Set(r.partitions.map((p) => p.topic))].join(',') || '-',
    String(r.partitions.length),
    String(sum(r.partitions.map((p) => p.records))),
    humanBytes(sum(r.partitions.map((p) => p.bytes))),
    humanDuration(Math.max(0, ...r.partitions.map((p) => p.timeMs))),
  ])
  return table(['group', 'topics', 'partitions', 'lag', 'lagSize', 'lagTime'], rows)
}

function shiftOption(value: string): number {
  const by = Number(value)
  if (!/^[+-]?\d+$/.test(value) || !Number.isSafeInteger(by)) throw invalidArgument('--shift-by', `must be an integer (negative moves back), not "${value}"`)
  return by
}

/** The one target given; commander has already refused two of them together. */
function resetTarget(flags: ResetFlags, command: Command): ResetTarget {
  if (flags.toEarliest === true) return { to: 'earliest' }
  if (flags.toLatest === true) return { to: 'latest' }
  if (flags.toOffset !== undefined) return { to: 'offset', offset: integerOption('to-offset', flags.toOffset)! }
  if (flags.toDatetime !== undefined) return { to: 'timestamp', timestamp: timeOption('to-datetime', flags.toDatetime)! }
  if (flags.shiftBy !== undefined) return { to: 'shift', by: shiftOption(flags.shiftBy) }
  return command.error(`error: reset-offsets needs one of ${TARGET_NAMES}`, { exitCode: 2 })
}

function planText(plan: readonly ResetPlanEntry[], target: ResetTarget, executed: boolean): string {
  const rows = plan.map((p) => [p.topic, String(p.partition), orDash(p.from), String(p.to), p.from === null ? '-' : signed(p.to - p.from)])
  const lines = [table(['topic', 'partition', 'current', 'new', 'change'], rows)]
  if (target.to === 'offset') {
    const moved = plan.filter((p) => p.to !== target.offset).map((p) => `${p.topic}-${p.partition}`)
    if (moved.length > 0) lines.push(`note: offset ${target.offset} is outside the log of ${moved.join(', ')}; the plan uses the nearest end`)
  }
  lines.push(executed ? 'done: the group starts from the new offsets' : 'dry run: nothing changed; add --execute to apply this plan')
  return lines.join('\n')
}

/** One of the reset targets: commander refuses it beside another (a usage error). */
function targetOption(flags: string, description: string): Option {
  const option = new Option(flags, description)
  return option.conflicts(TARGET_FLAGS.filter((other) => other !== option.attributeName()))
}

/**
 * Runs `check` on a read-only open, then `change` on a writable one: a mistake (a data
 * directory that is not there, an unknown group or topic) then fails without the
 * writable open creating the directory or the group store.
 */
export async function checkThenWrite<T>(globals: GlobalOptions, check: (spool: Spool) => Promise<unknown>, change: (spool: Spool) => Promise<T>): Promise<T> {
  await withSpool(globals, 'read-only', check)
  return withSpool(globals, 'write', change)
}

export function groupsCommand(out: CliStreams, globals: () => GlobalOptions): Command {
  const groups = new Command('groups').description("list, describe, reset and delete consumer groups' committed offsets")
  /** An inspection: open read-only, fetch, print as JSON or as text. */
  const inspect =
    <A extends unknown[], T>(fetch: (spool: Spool, ...args: A) => Promise<T>, text: (value: T) => string) =>
    async (...args: A): Promise<void> => {
      const value = await withSpool(globals(), 'read-only', (spool) => fetch(spool, ...args))
      writeResult(out, globals(), value, () => text(value))
    }
  groups
    .command('list')
    .description('list the groups with their total lag')
    .action(inspect(async (spool) => Promise.all((await spool.listGroups()).map((group) => spool.describeGroup(group))), listText))
  groups
    .command('describe')
    .description("show a group's members and, per partition, its committed offset, end offset and lag")
    .argument('<group>')
    .action(inspect((spool, group: string) => spool.describeGroup(group), describeText))
  groups
    .command('reset-offsets')
    .description("print where a group's offsets would move; move them with --execute (refused while the group has members)")
    .argument('<group>')
    .addOption(targetOption('--to-earliest', "each partition's first offset"))
    .addOption(targetOption('--to-latest', "each partition's end: skip everything not yet read"))
    .addOption(targetOption('--to-offset <n>', 'this offset on every partition'))
    .addOption(targetOption('--to-datetime <time>', 'the first record at or after this ISO date or ms since the epoch'))
    .addOption(targetOption('--shift-by <n>', 'move each committed offset by n (negative: back)'))
    .option('--topic <topic>', "only this topic (repeatable; default: the topics the group has offsets on)", (topic: string, previous: string[] = []) => [
      ...previous,
      topic,
    ])
    .option('--execute', 'store the new offsets (without it, nothing changes)')
    .action(async (group: string, flags: ResetFlags, command: Command) => {
      const target = resetTarget(flags, command)
      const executed = flags.execute === true
      const planOn = (spool: Spool): Promise<ResetPlanEntry[]> => spool.planGroupReset(group, target, flags.topic)
      const plan = executed
        ? await checkThenWrite(globals(), planOn, async (spool) => {
            const planned = await planOn(spool) // again: the log may have grown since the check
            await spool.applyGroupReset(group, planned)
            return planned
          })
        : await withSpool(globals(), 'read-only', planOn)
      writeResult(out, globals(), { group, executed, plan }, () => planText(plan, target, executed))
    })
  groups
    .command('delete')
    .description("forget a group's committed offsets (refused while it has members)")
    .argument('<group>')
    .action(async (group: string) => {
      await checkThenWrite(globals(), (spool) => spool.describeGroup(group), (spool) => spool.deleteGroup(group))
      writeResult(out, globals(), { deleted: group }, () => `deleted group ${group}`)
    })
  return groups
}
