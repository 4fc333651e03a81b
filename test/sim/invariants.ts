import type { Spool } from '../../src/client/spool.js'
import type { ConsumedRecord } from '../../src/client/reader.js'
import { type Failures, describeError } from './failures.js'
import { checkProducerBatches, forgetBatchesPast } from './idempotent.js'
import { type GroupModel, type Model, type TopicModel, type TopicSlot, idOfValue, sameRecord, tpKey } from './model.js'

/**
 * The checks run on a spool reopened after a power cut, against what the workload was
 * told (model.ts). Each check names the contract it stands for; afterwards the model is
 * brought to what legitimately survived (a lost 'never' tail), so the run can go on.
 */

/** What a partition holds after the reopen. */
interface ObservedPartition {
  start: number
  end: number
  records: ConsumedRecord[]
}

type Observed = Map<string, ObservedPartition>

export async function checkReopened(spool: Spool, model: Model, failures: Failures): Promise<void> {
  const before = failures.count
  await reconcileTopics(spool, model, failures)
  if (failures.count > before) return
  const observed: Observed = new Map()
  for (const topic of model.usableTopics()) {
    for (let p = 0; p < topic.partitions.length; p++) {
      const partition = await readPartition(spool, topic.name, p, failures)
      if (partition === null) continue
      observed.set(tpKey(topic.name, p), partition)
      checkPartition(topic, p, partition, model.cleanupInFlight, failures)
      await checkProducerBatches(spool, topic, p, partition, failures)
    }
  }
  for (const group of model.groups) await checkGroup(spool, model, group, observed, failures)
  if (failures.count === before) forgetLostTails(model, observed)
  model.cleanupInFlight = false
}

function describeIncarnation(createdAt: number | null): string {
  return createdAt === null ? 'no topic' : `the topic created at ${createdAt}`
}

/** Which incarnation of each topic survived: the acknowledged one, or the outcome of a change under way. */
async function reconcileTopics(spool: Spool, model: Model, failures: Failures): Promise<void> {
  const names = new Set(spool.listTopics())
  for (const [name, slot] of model.topics) {
    const actual = names.has(name) ? (await spool.describeTopic(name)).createdAt : null
    names.delete(name)
    const underWay = slot.pending
    if (!settle(slot, actual)) {
      const pending = underWay === null ? '' : ` (or what the ${underWay.kind} under way would leave)`
      failures.add('topic-state', `topic ${name}: the reopened spool has ${describeIncarnation(actual)}; acknowledged changes leave ${describeIncarnation(slot.live?.createdAt ?? null)}${pending}`)
    }
  }
  for (const name of names) failures.add('topic-state', `topic ${name} exists, but the workload never created it`)
}

/** Settles a slot on what survived; false when that is not a possible outcome. */
function settle(slot: TopicSlot, actual: number | null): boolean {
  const pending = slot.pending
  slot.pending = null
  if (actual === (slot.live?.createdAt ?? null)) return true
  if (pending?.kind === 'delete' && actual === null) {
    slot.live = null
    return true
  }
  if (pending?.kind === 'create' && actual !== null) {
    pending.model.createdAt = actual
    slot.live = pending.model
    return true
  }
  return false
}

async function readPartition(spool: Spool, topic: string, partition: number, failures: Failures): Promise<ObservedPartition | null> {
  try {
    const described = (await spool.describeTopic(topic)).partitions[partition]!
    const records: ConsumedRecord[] = []
    for await (const record of spool.read(topic, { partition, fromOffset: described.startOffset })) records.push(record)
    return { start: described.startOffset, end: described.endOffset, records }
  } catch (error) {
    failures.add('unreadable', `${topic}/${partition} cannot be read after the reopen: ${describeError(error)}`)
    return null
  }
}

/**
 * Contracts 1 and 2 on one partition: every record is one the workload sent there, once;
 * every acknowledged record inside the log is at its offset, byte for byte (compaction
 * may drop one whose key has a later record); past the end, only a 'never' or interval
 * log may have lost acknowledged records (its tail); the start moved only by retention.
 */
function checkPartition(topic: TopicModel, p: number, seen: ObservedPartition, cleanupInFlight: boolean, failures: Failures): void {
  const model = topic.partitions[p]!
  const label = `${topic.name}/${p} (flush ${topic.spec.flush})`
  const ackedOffsetOfId = new Map([...model.acked].map(([offset, record]) => [record.id, offset]))
  const offsetOfId = new Map<number, number>()
  for (const record of seen.records) {
    const id = idOfValue(record.value)
    const sent = id === null ? undefined : model.sent.get(id)
    if (id === null || sent === undefined || !sameRecord(record, sent)) {
      failures.add('unknown-record', `${label}: offset ${record.offset} holds a record never sent to this partition (${record.value?.subarray(0, 16).toString('latin1')}…)`)
      continue
    }
    if (offsetOfId.has(id)) failures.add('unknown-record', `${label}: record #${id} is at offsets ${offsetOfId.get(id)} and ${record.offset}`)
    offsetOfId.set(id, record.offset)
    const acked = model.acked.get(record.offset)
    if (acked !== undefined && acked.id !== id) {
      failures.add('acked-record-changed', `${label}: offset ${record.offset} holds #${id}, but #${acked.id} was acknowledged there`)
    }
    const ackedAt = ackedOffsetOfId.get(id)
    if (ackedAt !== undefined && ackedAt !== record.offset) {
      failures.add('acked-record-changed', `${label}: #${id} was acknowledged at offset ${ackedAt} but is at ${record.offset}`)
    }
  }
  const byOffset = new Map(seen.records.map((record) => [record.offset, record]))
  for (const [offset, record] of model.acked) {
    if (offset < seen.start || byOffset.has(offset)) continue
    if (offset >= seen.end) {
      if (topic.spec.flush === 'always') {
        failures.add('acked-record-lost', `${label}: the log ends at ${seen.end}, but #${record.id} was acknowledged at offset ${offset}`)
      }
      continue
    }
    const superseded = topic.spec.compacted && seen.records.some((r) => r.offset > offset && r.key !== null && record.key !== null && r.key.equals(record.key))
    if (!superseded) failures.add('acked-record-lost', `${label}: #${record.id}, acknowledged at offset ${offset}, is missing from the log [${seen.start}, ${seen.end})`)
  }
  if (seen.start > model.maxStartSeen && !(topic.spec.retained && cleanupInFlight)) {
    failures.add('start-moved', `${label}: the log starts at ${seen.start}, past ${model.maxStartSeen}, the furthest retention had gone`)
  }
  // A cleanup in flight at the cut may have moved it: that is where retention has gone now, for the next reopens.
  model.maxStartSeen = Math.max(model.maxStartSeen, seen.start)
}

/**
 * Contract 7: the reopened spool reports, for every partition a commit was acknowledged
 * on, at least that offset (for a 'never' or interval log, at least the end that
 * survived); an 'always' log never has a commit past its durable end (contract 3). Then
 * the group's cursors go back to where it resumes.
 */
async function checkGroup(spool: Spool, model: Model, group: GroupModel, observed: Observed, failures: Failures): Promise<void> {
  let committed: Map<string, number>
  try {
    const offsets = await (await spool.groups.coordinator()).fetchOffsets(group.name)
    committed = new Map(offsets.map((c) => [tpKey(c.topic, c.partition), c.offset]))
  } catch (error) {
    failures.add('unreadable', `the committed offsets of group ${group.name} cannot be read: ${describeError(error)}`)
    return
  }
  for (const name of group.topics) {
    const topic = model.topics.get(name)?.live
    if (topic === undefined || topic === null) continue
    for (let p = 0; p < topic.partitions.length; p++) {
      const key = tpKey(name, p)
      const seen = observed.get(key)
      if (seen === undefined) continue
      const acked = group.ackedCommits.get(key)
      const stored = committed.get(key)
      const floor = acked === undefined ? undefined : topic.spec.flush === 'always' ? acked : Math.min(acked, seen.end)
      if (floor !== undefined && (stored === undefined || stored < floor)) {
        failures.add('commit-lost', `group ${group.name} on ${key}: committed ${stored ?? 'nothing'}, but a commit of ${acked} was acknowledged (log end ${seen.end})`)
      }
      if (topic.spec.flush === 'always' && stored !== undefined && stored > seen.end) {
        failures.add('commit-past-end', `group ${group.name} on ${key}: committed ${stored}, past the durable end ${seen.end} of an 'always' log`)
      }
      if (acked !== undefined) group.ackedCommits.set(key, Math.min(acked, seen.end))
      group.cursors.set(key, Math.min(Math.max(stored ?? seen.start, seen.start), seen.end))
    }
  }
}

/**
 * After a failed fsync, a 'never' or interval partition is cut back to what an fsync
 * covered (the page cache cannot vouch for the rest): a clean restart in the same boot
 * may find a shorter log, and the offsets past its end are free again — as after a cut.
 */
export async function forgetTailsCutAfterFailedFsync(spool: Spool, model: Model): Promise<void> {
  for (const topic of model.usableTopics()) {
    if (topic.spec.flush === 'always' || !model.faultyTopics.has(topic.name)) continue
    const { partitions } = await spool.describeTopic(topic.name)
    topic.partitions.forEach((partition, p) => {
      const end = partitions[p]!.endOffset
      for (const offset of [...partition.acked.keys()]) if (offset >= end) partition.acked.delete(offset)
      forgetBatchesPast(partition, end)
    })
  }
}

/** A 'never' or interval log may lose its tail: offsets past the surviving end are free again. */
function forgetLostTails(model: Model, observed: Observed): void {
  for (const topic of model.usableTopics()) {
    if (topic.spec.flush === 'always') continue
    topic.partitions.forEach((partition, p) => {
      const end = observed.get(tpKey(topic.name, p))?.end
      if (end === undefined) return
      for (const offset of [...partition.acked.keys()]) if (offset >= end) partition.acked.delete(offset)
    })
  }
}
