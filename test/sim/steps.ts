import path from 'node:path'
import type { Consumer } from '../../src/client/consumer.js'
import { GROUPS_DIR } from '../../src/client/group-hub.js'
import type { Producer } from '../../src/client/producer.js'
import type { ConsumedRecord } from '../../src/client/reader.js'
import type { Spool } from '../../src/client/spool.js'
import { OffsetStore } from '../../src/groups/offset-store.js'
import { type Loop, advance } from './drive.js'
import type { Failures } from './failures.js'
import { idempotentRetry, idempotentSend } from './idempotent.js'
import { wireSend } from './wire.js'
import { forgetTailsCutAfterFailedFsync } from './invariants.js'
import { type GroupModel, type Model, type SentRecord, TopicModel, type TopicSpec, idOfValue, recordValue, sameRecord, tpKey } from './model.js'
import type { Plan } from './plan.js'
import type { Random } from './random.js'
import type { SimDisk } from './sim-disk.js'
import type { SimLevels } from './sim-level.js'

/** One running spool instance and the clients made from it; dropped whole at a power cut. */
export interface SpoolProcess {
  spool: Spool
  producer: Producer
  consumers: Map<string, Consumer>
}

/** What the steps act on and report to. */
export interface World {
  random: Random
  model: Model
  plan: Plan
  failures: Failures
  disk: SimDisk
  levels: SimLevels
  loop: Loop
  dataDir: string
  process: SpoolProcess
  /** Opens a new spool instance on the current boot (a clean restart). */
  reopen(): Promise<SpoolProcess>
}

/** A step: does one thing to the spool, and says what for the trace. */
export type Step = (world: World) => Promise<string>

/** Errors a group member may get with a healthy disk: the group moved on, the member rejoins. */
const BENIGN_GROUP_ERRORS = new Set(['UNKNOWN_MEMBER', 'ILLEGAL_GENERATION', 'REBALANCE_IN_PROGRESS'])

export function codeOf(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code
  return typeof code === 'string' ? code : undefined
}

// ---- topics ------------------------------------------------------------------------------

async function createTopic(world: World, name: string, spec: TopicSpec): Promise<string> {
  const slot = world.model.slot(name)
  const model = new TopicModel(name, spec, -1)
  // Two incarnations are told apart by their creation time: never let two share a millisecond.
  world.loop.time.advanceClock(1)
  slot.pending = { kind: 'create', model }
  const described = await world.process.spool.createTopic(name, spec.options)
  model.createdAt = described.createdAt
  slot.live = model
  slot.pending = null
  return `create ${name} ${JSON.stringify(spec.options)}`
}

/** Creates the stable topics not there yet (at the start, or when a power cut took a create away). */
export const createMissingStableTopics: Step = async (world) => {
  const created: string[] = []
  for (const [name, spec] of world.plan.stable) {
    const slot = world.model.slot(name)
    if (slot.live === null && slot.pending === null) created.push(await createTopic(world, name, spec))
  }
  return created.length === 0 ? 'stable topics all there' : created.join('; ')
}

/** Deletes a churn topic and creates it again (or creates it, if absent), with a new policy. */
const churn: Step = async (world) => {
  const name = world.random.pick(world.plan.churnNames)
  const slot = world.model.slot(name)
  const done: string[] = []
  if (slot.live !== null) {
    slot.pending = { kind: 'delete' }
    await world.process.spool.deleteTopic(name)
    slot.live = null
    slot.pending = null
    done.push(`delete ${name}`)
  }
  done.push(await createTopic(world, name, world.plan.churnSpec()))
  return done.join('; ')
}

// ---- sends -------------------------------------------------------------------------------

export function newRecord(world: World, topic: TopicModel): SentRecord {
  const { random } = world
  const id = world.model.newRecordId()
  let key: Buffer | null = null
  if (topic.spec.compacted) key = Buffer.from(`k${random.int(5)}`)
  else if (random.chance(0.5)) key = random.bytes(random.between(1, 8))
  const headers = random.chance(0.2) ? [{ key: 'h', value: random.bytes(random.between(0, 6)) }] : []
  return { id, key, value: recordValue(id, random.bytes(random.between(4, 90))), headers }
}

export function acknowledge(world: World, topic: TopicModel, partition: number, offset: number, record: SentRecord): void {
  const model = topic.partitions[partition]!
  const earlier = model.acked.get(offset)
  if (earlier !== undefined && earlier.id !== record.id) {
    world.failures.add('offset-reused', `${topic.name}/${partition}: offset ${offset} was acknowledged for #${earlier.id} and again for #${record.id}`)
  }
  model.acked.set(offset, record)
}

/** Sends one record to a usable topic; resolves with its trace text once the send settles. */
function sendOne(world: World): Promise<string> {
  const topic = world.random.pick(world.model.usableTopics())
  const partition = world.random.int(topic.partitions.length)
  const record = newRecord(world, topic)
  topic.partitions[partition]!.sent.set(record.id, record)
  const label = `${topic.name}/${partition} #${record.id}`
  return world.process.producer
    .send({ topic: topic.name, partition, key: record.key, value: record.value, headers: record.headers })
    .then(
      ({ offset }) => {
        acknowledge(world, topic, partition, offset, record)
        return `${label}@${offset}`
      },
      (error: unknown) => {
        if (!world.model.faultyTopics.has(topic.name)) throw error
        return `${label} refused (${codeOf(error)})`
      },
    )
}

const send: Step = async (world) => `send ${await sendOne(world)}`

/** Several sends at once (they share batches and fsyncs), sometimes beside a cleanup. */
const sendMany: Step = async (world) => {
  const sends = Array.from({ length: world.random.between(2, 6) }, () => sendOne(world))
  const cleanup = world.random.chance(0.25) ? runCleanup(world) : null
  const settled = await Promise.allSettled(cleanup === null ? sends : [...sends, cleanup])
  const failed = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected')
  if (failed !== undefined) throw failed.reason
  return `sends ${settled.map((s) => (s as PromiseFulfilledResult<string>).value).join(', ')}`
}

// ---- cleanup -----------------------------------------------------------------------------

async function runCleanup(world: World): Promise<string> {
  world.model.cleanupInFlight = true
  const report = await world.process.spool.runCleanup()
  for (const topic of world.model.usableTopics()) {
    const described = await world.process.spool.describeTopic(topic.name)
    described.partitions.forEach(({ startOffset }, p) => {
      const partition = topic.partitions[p]!
      partition.maxStartSeen = Math.max(partition.maxStartSeen, startOffset)
    })
  }
  world.model.cleanupInFlight = false
  return `cleanup ${JSON.stringify(report)}`
}

const cleanup: Step = runCleanup

// ---- groups ------------------------------------------------------------------------------

function usableGroups(world: World): GroupModel[] {
  const usable = new Set(world.model.usableTopics().map((t) => t.name))
  return world.model.groups.filter((g) => g.topics.every((t) => usable.has(t)))
}

function consumerOf(world: World, group: GroupModel): Consumer {
  let consumer = world.process.consumers.get(group.name)
  if (consumer === undefined) {
    consumer = world.process.spool.consumer({ group: group.name, topics: group.topics, autoCommit: false })
    world.process.consumers.set(group.name, consumer)
  }
  return consumer
}

/**
 * The no-skip check of one delivery (contract 7, defect 5): if it starts past the group's
 * cursor, the log must hold nothing in between.
 */
async function checkNoSkip(world: World, group: GroupModel, records: ConsumedRecord[]): Promise<void> {
  const first = records[0]!
  const key = tpKey(first.topic, first.partition)
  const cursor = group.cursors.get(key) ?? 0
  if (first.offset > cursor) {
    const { startOffset } = (await world.process.spool.describeTopic(first.topic)).partitions[first.partition]!
    const from = Math.max(cursor, startOffset)
    if (from < first.offset) {
      for await (const skipped of world.process.spool.read(first.topic, { partition: first.partition, fromOffset: from, toOffset: first.offset - 1 })) {
        world.failures.add('group-skipped', `group ${group.name} on ${key} was given offset ${first.offset} but never ${skipped.offset} (#${idOfValue(skipped.value)}), which the log holds`)
        break
      }
    }
  }
  group.cursors.set(key, Math.max(cursor, records[records.length - 1]!.offset + 1))
}

/** Every delivered record must be one the workload sent to that partition. */
function checkDelivered(world: World, group: GroupModel, record: ConsumedRecord): void {
  const topic = world.model.topics.get(record.topic)?.live
  const id = idOfValue(record.value)
  const sent = id === null ? undefined : topic?.partitions[record.partition]?.sent.get(id)
  if (sent === undefined || !sameRecord(record, sent)) {
    world.failures.add('unknown-record', `group ${group.name} was given ${record.topic}/${record.partition}@${record.offset}, a record never sent there`)
  }
}

const poll: Step = async (world) => {
  const group = world.random.pick(usableGroups(world))
  const records = await consumerOf(world, group).poll({ maxRecords: world.random.between(1, 20), timeoutMs: world.random.between(0, 100) })
  const byPartition = new Map<string, ConsumedRecord[]>()
  for (const record of records) {
    checkDelivered(world, group, record)
    const key = tpKey(record.topic, record.partition)
    byPartition.set(key, [...(byPartition.get(key) ?? []), record])
  }
  for (const chunk of byPartition.values()) await checkNoSkip(world, group, chunk)
  const ranges = [...byPartition].map(([key, chunk]) => `${key}@${chunk[0]!.offset}..${chunk[chunk.length - 1]!.offset}`)
  return `poll ${group.name}: ${ranges.join(', ') || 'nothing'}`
}

/** Reads the group's committed offsets as the store holds them now, outside the simulated disk's budget. */
async function storedCommits(world: World, group: GroupModel): Promise<Map<string, number>> {
  const store = await OffsetStore.open(path.join(world.dataDir, GROUPS_DIR), world.levels.view)
  try {
    return new Map((await store.fetch(group.name)).map((c) => [tpKey(c.topic, c.partition), c.offset]))
  } finally {
    await store.close()
  }
}

const commit: Step = async (world) => {
  const group = world.random.pick(usableGroups(world))
  const consumer = world.process.consumers.get(group.name)
  if (consumer === undefined) return `commit ${group.name}: no member yet`
  try {
    await consumer.commit()
  } catch (error) {
    if (BENIGN_GROUP_ERRORS.has(codeOf(error) ?? '')) return `commit ${group.name}: ${codeOf(error)}`
    throw error
  }
  // Only this member commits for the group, so what the store holds now is what was acknowledged.
  const stored = await storedCommits(world, group)
  for (const [key, offset] of stored) group.ackedCommits.set(key, offset)
  return `commit ${group.name}: ${[...stored].map(([key, offset]) => `${key}=${offset}`).join(', ')}`
}

// ---- time and restarts -------------------------------------------------------------------

const passTime: Step = async (world) => {
  const ms = world.random.pick([5, 50, 300, 2_000, 6_000])
  await advance(world.loop, ms)
  return `time +${ms} ms`
}

const restart: Step = async (world) => {
  let closed = 'clean restart'
  try {
    await world.process.spool.close()
  } catch (error) {
    // A partition that saw an fsync failure may fail its close; the directory is released all the same.
    if (world.model.faultyTopics.size === 0) throw error
    closed = `restart after a failed close (${codeOf(error)})`
  }
  const reopen = async (): Promise<void> => {
    world.process = await world.reopen()
    await forgetTailsCutAfterFailedFsync(world.process.spool, world.model)
  }
  try {
    await reopen()
  } catch (error) {
    // An armed fsync fault may fire in the reopen (a partition's recovery point or epochs,
    // written when the faulty partition opens): IO_ERROR, as it should be. A fault fires
    // once, so the next try goes through: close what opened, and open again.
    if (world.model.faultyTopics.size === 0 || codeOf(error) !== 'IO_ERROR') throw error
    closed += `, an open that met the fsync fault (${codeOf(error)}), open again`
    await world.process.spool.close().catch(() => undefined)
    await reopen()
  }
  return closed
}

/**
 * Arms a Linux-style fsync failure on one partition of a stable topic: its next fsync
 * fails and the data it should have covered is lost even if a later fsync succeeds.
 * Nothing acknowledged may be lost for it (defect 1 of issue 12).
 */
const fsyncFault: Step = async (world) => {
  const candidates = world.model.usableTopics().filter((t) => world.plan.stable.has(t.name) && t.spec.flush !== 'never')
  if (candidates.length === 0) return 'fsync fault: no topic to arm it on'
  const topic = world.random.pick(candidates)
  const partition = world.random.int(topic.partitions.length)
  world.disk.failFsync(`${path.join(world.dataDir, `${topic.name}-${partition}`)}/`)
  world.model.faultyTopics.add(topic.name)
  return `fsync fault armed on ${topic.name}/${partition}`
}

/** Picks the next step by weight, among those that make sense now. */
export function pickStep(world: World): Step {
  const hasTopics = world.model.usableTopics().length > 0
  const hasGroups = usableGroups(world).length > 0
  return world.random.weighted<Step>([
    [hasTopics ? 30 : 0, send],
    [hasTopics ? 15 : 0, sendMany],
    [hasTopics ? 16 : 0, idempotentSend],
    [hasTopics ? 10 : 0, idempotentRetry],
    [hasTopics ? 10 : 0, wireSend],
    [hasGroups ? 12 : 0, poll],
    [hasGroups ? 8 : 0, commit],
    [6, cleanup],
    [5, churn],
    [8, passTime],
    [2, restart],
    [1, fsyncFault],
  ])
}
