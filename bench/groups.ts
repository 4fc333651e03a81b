/**
 * W4 groups, two workloads:
 * - stabilization: 50 members of one group (one process) join a topic of 100 partitions;
 *   the time until every member's `assignment()` is exactly what the latest rebalance
 *   event gave it and the coordinator reports the group stable; then one more member
 *   joins, and the same time is taken from that join. Nothing to compare it with on the
 *   raw side: it is reported alone.
 * - fan-out: 3 groups × 3 members consume one 6-partition topic of 1,000,000 records at
 *   once (push, `eachRecord`); records/s per group, beside sequential `fs.readSync` of
 *   the partitions' `.log` files (each group reads every byte once).
 */
import { pathToFileURL } from 'node:url'
import type { Consumer } from '../src/client/consumer.js'
import type { ConsumedRecord } from '../src/client/reader.js'
import { type Spool, openSpool } from '../src/client/spool.js'
import { tpKey } from '../src/groups/assignors.js'
import { type Logger, stderrLogger } from '../src/storage/logger.js'
import { partitionDir } from '../src/topics/catalog.js'
import { makeDataset } from './lib/dataset.js'
import { formatBytes, formatInteger } from './lib/format.js'
import { rawReadPass, readFiles, segmentLogFiles, totalBytes } from './lib/log-files.js'
import { type DurationResult, type WorkloadResult, durationResult, workloadResult } from './lib/result.js'
import { freshDir, inFreshDir, removeDir } from './lib/temp-dir.js'
import { pairedRuns, repeatedTrials, timed, within } from './lib/timing.js'

export interface StabilizationOptions {
  members: number
  partitions: number
  runs: number
  logger: Logger
}

export interface FanoutOptions {
  records: number
  partitions: number
  groups: number
  membersPerGroup: number
  batchRecords: number
  keyBytes: number
  valueBytes: number
  seed: number
  /** The raw side's chunk size. */
  readBytes: number
  runs: number
  logger: Logger
}

/** How long a group may take to settle, or a fan-out to finish, before the run fails. */
const WAIT_TIMEOUT_MS = 120_000
/** While members hold their targets but the coordinator is not yet stable, look again this often. */
const RECHECK_MS = 5

/**
 * One group's members, and what each should own: every rebalance event's moves applied
 * in order. The group is settled when each member's `assignment()` equals its share.
 */
class GroupWatch {
  readonly members: Consumer[] = []
  private readonly targets = new Map<string, string | null>()
  private generation = -1
  private waiter: ((at: number) => void) | null = null
  private confirming = false
  private failure: unknown = null
  readonly stopListening: () => void

  constructor(
    private readonly spool: Spool,
    private readonly group: string,
    private readonly topic: string,
    private readonly partitions: number,
  ) {
    this.stopListening = spool.onRebalance((event) => {
      if (event.group !== group) return
      this.generation = event.generation
      for (const moved of event.moved) this.targets.set(tpKey(moved), moved.to)
      this.check()
    })
  }

  join(): void {
    const check = (): void => this.check()
    this.members.push(this.spool.consumer({ group: this.group, topics: [this.topic], onAssigned: check, onRevoked: check }))
  }

  /** Resolves with the time (performance.now()) at which every member first held exactly its share, as confirmed by the coordinator. */
  async settled(): Promise<number> {
    const at = new Promise<number>((resolve) => (this.waiter = resolve))
    const recheck = setInterval(() => this.check(), RECHECK_MS)
    try {
      this.check()
      const settledAt = await within(at, WAIT_TIMEOUT_MS, () => `group ${this.group} did not settle within ${WAIT_TIMEOUT_MS} ms`)
      if (this.failure !== null) throw this.failure
      return settledAt
    } finally {
      clearInterval(recheck)
      this.waiter = null
    }
  }

  private holdsTargets(): boolean {
    if (this.targets.size !== this.partitions) return false
    const shares = new Map<string, string[]>()
    for (const [key, owner] of this.targets) {
      if (owner === null) return false
      shares.set(owner, [...(shares.get(owner) ?? []), key])
    }
    return this.members.every((member) => {
      if (member.memberId === null) return false
      const held = member.assignment().map(tpKey).sort()
      const share = (shares.get(member.memberId) ?? []).sort()
      return held.length === share.length && held.every((key, i) => key === share[i])
    })
  }

  private check(): void {
    if (this.waiter === null || this.confirming || !this.holdsTargets()) return
    const at = performance.now()
    const generation = this.generation
    this.confirming = true
    this.spool.describeGroup(this.group).then(
      (report) => {
        this.confirming = false
        if (report.state === 'stable' && report.generation === generation && this.generation === generation) this.waiter?.(at)
      },
      (error: unknown) => {
        this.failure = error
        this.waiter?.(at)
      },
    )
  }
}

interface StabilizationSample {
  /** The first `members` joining at once. */
  initial: number
  /** One more joining the stable group. */
  join: number
}

const TOPIC = 'groups'

async function stabilization(dir: string, options: StabilizationOptions): Promise<StabilizationSample> {
  const spool = await openSpool({ dir, logger: options.logger })
  try {
    await spool.createTopic(TOPIC, { partitions: options.partitions })
    await spool.listGroups() // opens the offset store, so that no member waits for LevelDB to open
    const watch = new GroupWatch(spool, 'w4', TOPIC, options.partitions)
    const start = performance.now()
    for (let i = 0; i < options.members; i++) watch.join()
    const initial = (await watch.settled()) - start
    const joined = performance.now()
    watch.join()
    const join = (await watch.settled()) - joined
    watch.stopListening()
    return { initial: initial / 1000, join: join / 1000 }
  } finally {
    await spool.close()
  }
}

const ms = (seconds: number): string => `${(seconds * 1000).toFixed(1)} ms`

export async function stabilizationWorkloads(options: StabilizationOptions): Promise<DurationResult[]> {
  const { members, partitions } = options
  const { samples, warmup } = await repeatedTrials({
    runs: options.runs,
    label: `W4.stabilize.${members}`,
    describe: (s) => `${members} members ${ms(s.initial)}, member ${members + 1} ${ms(s.join)}`,
    run: () => inFreshDir('w4-stabilize', (dir) => stabilization(dir, options)),
  })
  const how = `cooperative-sticky, ${partitions} partitions, all members in one process; until every assignment() equals the latest rebalance's and the group is stable`
  return [
    durationResult(
      { id: `W4.stabilize.initial-${members}`, workload: 'W4', title: `W4 ${members} members join a group, to stable` },
      `${members} spool.consumer() calls at once → stable; ${how}`,
      samples.map((s) => s.initial),
      warmup.initial,
      null,
    ),
    durationResult(
      { id: `W4.stabilize.join-${members + 1}`, workload: 'W4', title: `W4 member ${members + 1} joins ${members}, to stable` },
      `1 spool.consumer() call beside ${members} stable members → stable; ${how}`,
      samples.map((s) => s.join),
      warmup.join,
      null,
    ),
  ]
}

/** Counts one group's records: done when every offset of every partition has arrived. */
class GroupProgress {
  private readonly next: number[]
  private distinct = 0
  deliveries = 0
  private finish!: () => void
  readonly done = new Promise<void>((resolve) => (this.finish = resolve))

  constructor(
    readonly group: string,
    partitions: number,
    private readonly records: number,
  ) {
    this.next = new Array<number>(partitions).fill(0)
  }

  get received(): number {
    return this.distinct
  }

  add(record: ConsumedRecord): void {
    this.deliveries++
    const next = this.next[record.partition]!
    if (record.offset < next) return
    if (record.offset !== next) throw new Error(`group ${this.group} got offset ${record.offset} of partition ${record.partition}, expected ${next}`)
    this.next[record.partition] = next + 1
    if (++this.distinct === this.records) this.finish()
  }
}

const FANOUT_TOPIC = 'fanout'

/** The topic, filled through the producer (1,000 sends awaited together, a batch to each partition in turn). */
async function produceFanout(spool: Spool, options: FanoutOptions): Promise<void> {
  const data = makeDataset(options)
  await spool.createTopic(FANOUT_TOPIC, { partitions: options.partitions, flush: 'never' })
  const producer = spool.producer()
  for (const [b, batch] of data.batches.entries()) {
    const partition = b % options.partitions
    await Promise.all(batch.map((record) => producer.send({ topic: FANOUT_TOPIC, key: record.key, value: record.value, partition })))
  }
  await producer.close()
}

/** `groups` new groups of `membersPerGroup` consume the whole topic at once: the seconds until every group has every record. */
async function fanout(spool: Spool, name: string, options: FanoutOptions): Promise<number> {
  const progress = Array.from({ length: options.groups }, (_, g) => new GroupProgress(`${name}-${g}`, options.partitions, options.records))
  const members: Consumer[] = []
  const runs: Promise<void>[] = []
  const seconds = await timed(async () => {
    for (const group of progress) {
      for (let m = 0; m < options.membersPerGroup; m++) {
        const member = spool.consumer({ group: group.group, topics: [FANOUT_TOPIC] })
        members.push(member)
        runs.push(member.run({ eachRecord: (record) => group.add(record) }))
      }
    }
    const stopped = Promise.all(runs).then(() => {
      throw new Error('a member stopped before its group had every record')
    })
    const left = (): string => `fan-out did not finish within ${WAIT_TIMEOUT_MS} ms: ${progress.map((g) => formatInteger(g.received)).join(', ')} records`
    await within(Promise.race([Promise.all(progress.map((g) => g.done)), stopped]), WAIT_TIMEOUT_MS, left)
  })
  await Promise.all(members.map((member) => member.close()))
  await Promise.all(runs)
  for (const group of progress) {
    if (group.deliveries !== options.records) options.logger.warn(`group ${group.group} had ${group.deliveries - options.records} records delivered twice`)
  }
  return seconds
}

export async function fanoutWorkload(options: FanoutOptions): Promise<WorkloadResult> {
  const id = `W4.fanout.${options.groups}x${options.membersPerGroup}`
  const dir = freshDir('w4-fanout')
  try {
    const spool = await openSpool({ dir, logger: options.logger })
    try {
      await produceFanout(spool, options)
      const files = Array.from({ length: options.partitions }, (_, p) => segmentLogFiles(partitionDir(dir, FANOUT_TOPIC, p))).flat()
      const bytes = totalBytes(files)
      process.stderr.write(`${formatInteger(options.records)} records of ${options.valueBytes} B values in ${options.partitions} partitions: ${formatBytes(bytes)} of log\n`)
      const buffer = Buffer.allocUnsafe(options.readBytes)
      let trials = 0
      const samples = await pairedRuns({
        runs: options.runs,
        label: id,
        beforePair: () => readFiles(files, buffer),
        spool: () => fanout(spool, `fanout-${trials++}`, options),
        raw: () => rawReadPass(files, buffer, bytes),
      })
      return workloadResult(
        {
          id,
          workload: 'W4',
          title: `W4 ${options.groups} groups × ${options.membersPerGroup} members, ${options.valueBytes} B, per group`,
          valueBytes: options.valueBytes,
          records: options.records,
          bytes,
        },
        {
          spool:
            `${options.groups} groups of ${options.membersPerGroup} consumers (run eachRecord, autoCommit) on one ${options.partitions}-partition topic at once, ` +
            `from their spool.consumer() calls until every group had every record; records/s per group (all groups together: ${options.groups}×)`,
          raw: `fs.readSync of the same .log files in ${options.readBytes}-byte chunks, once (page cache warmed for both sides)`,
        },
        samples,
        null,
      )
    } finally {
      await spool.close()
    }
  } finally {
    removeDir(dir)
  }
}

// `node --cpu-prof --import tsx bench/groups.ts [records]`: W4 alone, for profiling.
if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const records = Number(process.argv[2] ?? 1_000_000)
  const logger = stderrLogger
  const results = [
    ...(await stabilizationWorkloads({ members: 50, partitions: 100, runs: 3, logger })),
    await fanoutWorkload({ records, partitions: 6, groups: 3, membersPerGroup: 3, batchRecords: 1_000, keyBytes: 16, valueBytes: 100, seed: 0x5eed, readBytes: 1024 * 1024, runs: 3, logger }),
  ]
  process.stdout.write(`${JSON.stringify(results, null, 2)}\n`)
}
