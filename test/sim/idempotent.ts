import type { Spool } from '../../src/client/spool.js'
import type { ConsumedRecord } from '../../src/client/reader.js'
import { type BatchHeader, lastOffsetOf } from '../../src/record/batch-decoder.js'
import { COMPRESSION_CODECS, type CompressionCodec } from '../../src/record/compression/index.js'
import type { RecordInput } from '../../src/record/types.js'
import type { AppendResult, PartitionLog } from '../../src/storage/partition-log.js'
import { PRODUCER_BATCHES_RETAINED } from '../../src/storage/producer-state.js'
import type { Topics } from '../../src/topics/topics.js'
import { describeError, type Failures } from './failures.js'
import { type IdempotentBatch, type OffsetRange, type PartitionModel, type TopicModel, sameRecord } from './model.js'
import { type Step, type World, acknowledge, codeOf, newRecord } from './steps.js'

/**
 * Idempotent appends in the power-cut simulation: a few producer identities of the
 * workload's own (ids far from the ones the spool hands out), each with its epoch and
 * sequence per partition, append batches of 1–3 records with a random codec through
 * `PartitionLog.append(records, { producer, compression })`, and send batches again —
 * at once (while the first send is in flight), later in the same boot, and after power
 * cuts, whether or not the first send was acknowledged.
 *
 * What the model knows of each batch (model.ts, IdempotentBatch) decides what a send may
 * come back with, by the rules of src/storage/producer-sequence.ts:
 * - a new batch is appended (offsets at or past the end before it), unless an earlier
 *   batch of its producer and epoch is not known to be stored: then OUT_OF_ORDER_SEQUENCE
 *   may come, and the producer starts a new epoch at sequence 0, as spool's producer does;
 * - a batch sent again that is stored (acknowledged, or found in the log at a reopen)
 *   resolves with exactly its first offsets and is not written again — unless the
 *   producer has since stored a batch at a newer epoch (PRODUCER_FENCED) or 5 newer batches
 *   of that epoch (OUT_OF_ORDER_SEQUENCE); where the model cannot tell, either is allowed,
 *   never other offsets;
 * - a batch known not to be in the log is appended anew or refused, never answered as a
 *   duplicate;
 * - a batch whose send went down with a process may be either.
 * After every reopen (checkProducerBatches) no two batches in the log carry the same
 * (producer id, epoch, base sequence), every batch of the workload's producers holds the
 * records it was sent with, and the model learns which batches survived; then half the
 * batches that were in flight at the cut, and a few stored ones, are sent again
 * (retryAfterReopen).
 */

/** The workload's producer ids: the spool allocates from 1 up, a block of 1000 per open. */
export const WORKLOAD_PRODUCER_IDS: readonly number[] = [7_000_000_001, 7_000_000_002, 7_000_000_003]

function pickCodec(world: World): CompressionCodec {
  return world.random.weighted<CompressionCodec>(COMPRESSION_CODECS.map((codec) => [codec === 'none' ? 4 : 1, codec] as const))
}

/** A random codec for the spool's own producer (workload.ts). */
export function pickProducerCodec(random: World['random']): CompressionCodec {
  return random.weighted<CompressionCodec>(COMPRESSION_CODECS.map((codec) => [codec === 'none' ? 2 : 1, codec] as const))
}

/** The partition log behind a spool's topic: the simulation appends with explicit producer identities. */
function partitionLog(spool: Spool, topic: string, partition: number): Promise<PartitionLog> {
  return (spool as unknown as { topics: Topics }).topics.logOf(topic, partition)
}

/** Every batch header in the log, from its start to its end, as the engine's own scans see them. */
async function batchHeaders(log: PartitionLog): Promise<BatchHeader[]> {
  const reader = (log as unknown as { reader: { forEachBatchHeader(offset: number, visit: (header: BatchHeader) => void): Promise<void> } }).reader
  const headers: BatchHeader[] = []
  await reader.forEachBatchHeader(log.startOffset, (header) => headers.push(header))
  return headers
}

function identityKey(producerId: number, epoch: number, baseSequence: number): string {
  return `${producerId}/${epoch}/${baseSequence}`
}

function describeBatch(batch: IdempotentBatch): string {
  return `batch ${identityKey(batch.producerId, batch.epoch, batch.baseSequence)} (#${batch.records[0]!.id}..#${batch.records[batch.records.length - 1]!.id}, ${batch.codec})`
}

function describeRange(range: OffsetRange): string {
  return `${range.baseOffset}..${range.lastOffset}`
}

function sameRange(a: OffsetRange, b: OffsetRange): boolean {
  return a.baseOffset === b.baseOffset && a.lastOffset === b.lastOffset
}

function inputsOf(batch: IdempotentBatch): RecordInput[] {
  return batch.records.map((record) => ({ key: record.key, value: record.value, headers: record.headers }))
}

/** A new batch of the producer's next sequence on the partition. */
function newBatch(world: World, topic: TopicModel, partition: PartitionModel, producerId: number): IdempotentBatch {
  let sequence = partition.producers.get(producerId)
  if (sequence === undefined) partition.producers.set(producerId, (sequence = { epoch: 0, next: 0 }))
  const records = Array.from({ length: world.random.between(1, 3) }, () => newRecord(world, topic))
  for (const record of records) partition.sent.set(record.id, record)
  const batch: IdempotentBatch = {
    producerId,
    epoch: sequence.epoch,
    baseSequence: sequence.next,
    records,
    codec: pickCodec(world),
    stored: null,
    durable: false,
    absent: false,
    lastSendBoot: world.disk.boot,
    lastSendSettled: false,
  }
  sequence.next += records.length
  partition.batches.push(batch)
  return batch
}

/** Batches of the same producer and epoch sent before `batch` (lower sequences). */
function earlierOfEpoch(partition: PartitionModel, batch: IdempotentBatch): IdempotentBatch[] {
  return partition.batches.filter((b) => b.producerId === batch.producerId && b.epoch === batch.epoch && b.baseSequence < batch.baseSequence)
}

/** What a send of `batch` may come back with, decided when it is sent. */
interface Expectation {
  state: 'stored' | 'absent' | 'unknown'
  /** For a stored batch: whether the answer may (must, unless refused as allowed) be its first offsets. */
  mayDuplicate: boolean
  mayFence: boolean
  mayOutOfOrder: boolean
  /** Why, for a failure message. */
  why: string
}

function expectationOf(partition: PartitionModel, batch: IdempotentBatch, isNew: boolean): Expectation {
  if (isNew) {
    const gap = earlierOfEpoch(partition, batch).find((b) => b.stored === null)
    return {
      state: 'absent',
      mayDuplicate: false,
      mayFence: false,
      mayOutOfOrder: gap !== undefined,
      why: gap === undefined ? 'every earlier batch of its epoch is stored' : `${describeBatch(gap)} is not known to be stored`,
    }
  }
  if (batch.stored === null) {
    return { state: batch.absent ? 'absent' : 'unknown', mayDuplicate: !batch.absent, mayFence: true, mayOutOfOrder: true, why: batch.absent ? 'not in the log' : 'its fate is unknown' }
  }
  const ofProducer = partition.batches.filter((b) => b.producerId === batch.producerId)
  const newerEpoch = ofProducer.filter((b) => b.epoch > batch.epoch)
  const later = ofProducer.filter((b) => b.epoch === batch.epoch && b.baseSequence > batch.baseSequence)
  const fencedCertain = newerEpoch.some((b) => b.stored !== null)
  const fencedPossible = newerEpoch.some((b) => !b.absent)
  const laterStored = later.filter((b) => b.stored !== null).length
  const laterPossible = later.filter((b) => !b.absent).length
  const evictedCertain = laterStored >= PRODUCER_BATCHES_RETAINED
  return {
    state: 'stored',
    mayDuplicate: !fencedCertain && !evictedCertain,
    mayFence: fencedPossible,
    mayOutOfOrder: !fencedCertain && laterPossible >= PRODUCER_BATCHES_RETAINED,
    why: `stored at ${describeRange(batch.stored)}; ${newerEpoch.length} batches at newer epochs (${newerEpoch.filter((b) => b.stored !== null).length} stored), ${later.length} later ones of its epoch (${laterStored} stored, ${laterPossible} maybe)`,
  }
}

/** A new epoch at sequence 0 for the producer on this partition, once one of its batches was refused (as spool's producer does). */
function startNewEpoch(partition: PartitionModel, batch: IdempotentBatch): void {
  const sequence = partition.producers.get(batch.producerId)!
  if (sequence.epoch !== batch.epoch) return // already moved on
  sequence.epoch++
  sequence.next = 0
}

interface SendContext {
  world: World
  topic: TopicModel
  partition: number
  /** The log's end before this step appended anything: a batch appended anew lands at or past it. */
  endBefore: number
}

/**
 * Sends `batch` (again, unless `isNew`) and settles the model with the answer. Resolves
 * with a line for the trace; failures go to world.failures. An answer that comes after
 * the power cut took its process away is ignored: that send was in flight at the cut.
 */
function send(ctx: SendContext, log: PartitionLog, batch: IdempotentBatch, isNew: boolean): Promise<string> {
  const { world, topic, partition } = ctx
  const model = topic.partitions[partition]!
  // A new batch is judged when it settles: the batches before it in the pipeline have settled by then, in order.
  const before = isNew ? null : expectationOf(model, batch, false)
  const wasAbsent = batch.absent
  const boot = world.disk.boot
  batch.lastSendBoot = boot
  batch.lastSendSettled = false
  batch.absent = false
  const label = `${topic.name}/${partition} ${isNew ? '' : 'again '}${describeBatch(batch)} [${before?.state ?? 'new'}]`
  const producer = { producerId: batch.producerId, producerEpoch: batch.epoch, baseSequence: batch.baseSequence }
  return log.append(inputsOf(batch), { compression: batch.codec, producer }).then(
    (result) => {
      if (world.disk.boot !== boot) return `${label}: answered after the power cut`
      batch.lastSendSettled = true
      settleStored(ctx, batch, result, before ?? expectationOf(model, batch, true), isNew)
      return `${label}@${describeRange(result)}`
    },
    (error: unknown) => {
      if (world.disk.boot !== boot) return `${label}: refused after the power cut`
      const code = codeOf(error)
      if (world.disk.dead || world.model.faultyTopics.has(topic.name)) {
        // Its fate is unknown: it stays in flight, for a retry after the cut.
        return `${label} refused (${code})${world.disk.dead ? ' (the disk is dead)' : ''}`
      }
      batch.lastSendSettled = true
      const expectation = before ?? expectationOf(model, batch, true)
      const allowed = (code === 'OUT_OF_ORDER_SEQUENCE' && expectation.mayOutOfOrder) || (code === 'PRODUCER_FENCED' && expectation.mayFence)
      if (!allowed) {
        const kind = code === 'OUT_OF_ORDER_SEQUENCE' || code === 'PRODUCER_FENCED' ? 'sequence-rules' : 'unexpected-error'
        world.failures.add(kind, `${label} was refused on a healthy disk, where ${expectation.why}: ${describeError(error)}`)
      }
      // Refused: not written now. A batch stored before stays stored; one absent stays absent.
      if (isNew || wasAbsent) batch.absent = true
      if (isNew) startNewEpoch(model, batch)
      return `${label} refused (${code})${isNew ? `, ${expectation.why}: a new epoch` : ''}`
    },
  )
}

function settleStored(ctx: SendContext, batch: IdempotentBatch, result: AppendResult, expectation: Expectation, isNew: boolean): void {
  const { world, topic, partition } = ctx
  const label = `${topic.name}/${partition} ${describeBatch(batch)}`
  const answered = `${describeRange(result)}${isNew ? '' : ' to a retry'}`
  if (result.lastOffset - result.baseOffset + 1 !== batch.records.length) {
    world.failures.add('wrong-offsets', `${label}: ${batch.records.length} records answered with offsets ${answered}`)
    return
  }
  if (batch.stored !== null && !sameRange(batch.stored, result)) {
    world.failures.add('wrong-offsets', `${label}: stored at ${describeRange(batch.stored)}, but answered with ${answered} (stored twice?)`)
    return
  }
  if (expectation.state === 'stored' && !expectation.mayDuplicate) {
    world.failures.add('sequence-rules', `${label}: answered as a duplicate (${answered}), but the sequence rules refuse it: ${expectation.why}`)
  }
  if (expectation.state !== 'unknown' && batch.stored === null && result.baseOffset < ctx.endBefore) {
    world.failures.add('wrong-offsets', `${label}: not in the log (${expectation.why}), but answered with ${answered}, below the end ${ctx.endBefore}`)
    return
  }
  batch.stored = { baseOffset: result.baseOffset, lastOffset: result.lastOffset }
  if (topic.spec.flush === 'always') batch.durable = true
  batch.records.forEach((record, k) => acknowledge(world, topic, partition, result.baseOffset + k, record))
}

async function contextFor(world: World, topic: TopicModel, partition: number): Promise<{ ctx: SendContext; log: PartitionLog }> {
  const log = await partitionLog(world.process.spool, topic.name, partition)
  return { ctx: { world, topic, partition, endBefore: log.endOffset }, log }
}

async function settleAll(sends: Array<Promise<string>>): Promise<string> {
  const settled = await Promise.allSettled(sends)
  const failed = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected')
  if (failed !== undefined) throw failed.reason
  return settled.map((s) => (s as PromiseFulfilledResult<string>).value).join(', ')
}

/** A batch the power cut took away (in flight then, or not in the log since), that no send has settled since. */
function lostAtCut(world: World, batch: IdempotentBatch): boolean {
  return batch.stored === null && (batch.absent || (!batch.lastSendSettled && batch.lastSendBoot < world.disk.boot))
}

/**
 * 1–3 new batches to one partition, from random producers, at once; sometimes one is sent
 * again while in flight. Mostly, when there is one, a producer that lost a batch at a power
 * cut goes on without sending it again: its next batch meets the gap (OUT_OF_ORDER_SEQUENCE,
 * then a new epoch).
 */
export const idempotentSend: Step = async (world) => {
  const gaps = world.model
    .usableTopics()
    .flatMap((topic) => topic.partitions.flatMap((p, i) => p.batches.filter((b) => lostAtCut(world, b) && p.producers.get(b.producerId)!.epoch === b.epoch).map((b) => [topic, i, b.producerId] as const)))
  let topic: TopicModel
  let partition: number
  let producerId: number | null = null
  if (gaps.length > 0 && world.random.chance(0.7)) [topic, partition, producerId] = world.random.pick(gaps)
  else {
    topic = world.random.pick(world.model.usableTopics())
    partition = world.random.int(topic.partitions.length)
  }
  const model = topic.partitions[partition]!
  const { ctx, log } = await contextFor(world, topic, partition)
  const epochs = new Map([...model.producers].map(([id, sequence]) => [id, sequence.epoch]))
  const sends: Array<Promise<string>> = []
  for (let i = world.random.between(1, 3); i > 0; i--) {
    const batch = newBatch(world, topic, model, producerId ?? world.random.pick(WORKLOAD_PRODUCER_IDS))
    sends.push(send(ctx, log, batch, true))
    if (world.random.chance(0.15)) sends.push(send(ctx, log, batch, false))
  }
  const lines = [await settleAll(sends)]
  // A producer that just started a new epoch writes at it, then an old batch of its comes again: fenced.
  for (const [id, sequence] of model.producers) {
    const old = model.batches.filter((b) => b.producerId === id && b.epoch < sequence.epoch && b.stored !== null)
    if (sequence.epoch === (epochs.get(id) ?? 0) || old.length === 0 || world.disk.dead || !world.random.chance(0.7)) continue
    lines.push(await send(ctx, log, newBatch(world, topic, model, id), true))
    lines.push(await send(ctx, log, world.random.pick(old), false))
  }
  return `idempotent ${lines.join(', ')}`
}

/** How much a batch is worth sending again: those in flight at a cut most, then those of an older epoch, those not stored, recent ones. */
function retryWeight(world: World, partition: PartitionModel, batch: IdempotentBatch, index: number): number {
  if (!batch.lastSendSettled && batch.lastSendBoot < world.disk.boot) return 8
  if (partition.producers.get(batch.producerId)!.epoch > batch.epoch) return 5 // fenced by now, or not
  if (batch.stored === null) return 3
  return index >= partition.batches.length - 8 ? 3 : 1
}

/** Sends 1–2 batches sent before (same records, same identity) to one partition. */
export const idempotentRetry: Step = async (world) => {
  const candidates = world.model.usableTopics().flatMap((topic) => topic.partitions.map((p, i) => [topic, i, p] as const)).filter(([, , p]) => p.batches.length > 0)
  if (candidates.length === 0) return 'retry: no idempotent batch yet'
  const [topic, partition, model] = world.random.pick(candidates)
  const { ctx, log } = await contextFor(world, topic, partition)
  const picked = new Set<IdempotentBatch>()
  for (let i = world.random.between(1, 2); i > 0; i--) {
    picked.add(world.random.weighted(model.batches.map((batch, index) => [retryWeight(world, model, batch, index), batch] as const)))
  }
  // Sent one after the other: the model decides each one's expectation knowing how the one before settled.
  const lines: string[] = []
  for (const batch of picked) lines.push(await send(ctx, log, batch, false))
  return `retry ${lines.join(', ')}`
}

/**
 * After a reopen and its checks: most batches whose send was in flight when the power went
 * are sent again, and a few stored ones; each answer is checked as in idempotentRetry.
 */
export async function retryAfterReopen(world: World): Promise<string[]> {
  const lines: string[] = []
  for (const topic of world.model.usableTopics()) {
    for (let partition = 0; partition < topic.partitions.length; partition++) {
      const model = topic.partitions[partition]!
      // Not all of them: a producer that gave up on one leaves a gap its next batch meets (OUT_OF_ORDER_SEQUENCE, a new epoch).
      const inFlight = model.batches.filter((b) => !b.lastSendSettled && b.lastSendBoot < world.disk.boot && world.random.chance(0.5))
      const stored = model.batches.filter((b) => b.stored !== null)
      const some = stored.length === 0 ? [] : [world.random.pick(stored), world.random.pick(stored)]
      const batches = [...new Set([...inFlight, ...some])]
      if (batches.length === 0) continue
      const { ctx, log } = await contextFor(world, topic, partition)
      for (const batch of batches) lines.push(await send(ctx, log, batch, false))
    }
  }
  return lines
}

/** What checkReopened observed of one partition. */
export interface ObservedPartitionView {
  start: number
  end: number
  records: ConsumedRecord[]
}

/**
 * Invariants (a) and (b) on a reopened partition: no two batches in the log carry the same
 * producer identity; each batch of the workload's producers is one it sent, at the offsets
 * it was answered with, holding its records (decompressed, byte for byte; compaction may
 * drop some). Then the model learns what survived: a batch found is stored and durable;
 * one not found is absent, unless retention or compaction removed it (the producer state
 * still remembers it); a durable one lost inside the log is a failure.
 */
export async function checkProducerBatches(spool: Spool, topic: TopicModel, p: number, seen: ObservedPartitionView, failures: Failures): Promise<void> {
  const model = topic.partitions[p]!
  const label = `${topic.name}/${p} (flush ${topic.spec.flush})`
  const log = await partitionLog(spool, topic.name, p)
  const headers = await batchHeaders(log)
  const byIdentity = new Map<string, BatchHeader>()
  for (const header of headers) {
    if (header.producerId < 0) continue
    const key = identityKey(header.producerId, header.producerEpoch, header.baseSequence)
    const first = byIdentity.get(key)
    if (first !== undefined) {
      failures.add('duplicate-batch', `${label}: producer ${key} has batches at ${first.baseOffset}..${lastOffsetOf(first)} and ${header.baseOffset}..${lastOffsetOf(header)}`)
    } else byIdentity.set(key, header)
  }
  const byOffset = new Map(seen.records.map((record) => [record.offset, record]))
  const known = new Set<string>()
  for (const batch of model.batches) {
    const key = identityKey(batch.producerId, batch.epoch, batch.baseSequence)
    known.add(key)
    const header = byIdentity.get(key)
    if (header !== undefined) {
      const found = { baseOffset: header.baseOffset, lastOffset: lastOffsetOf(header) }
      if (found.lastOffset - found.baseOffset + 1 !== batch.records.length) {
        failures.add('unknown-record', `${label}: ${describeBatch(batch)} of ${batch.records.length} records is in the log as ${describeRange(found)}`)
      }
      if (batch.stored !== null && !sameRange(batch.stored, found)) {
        failures.add('wrong-offsets', `${label}: ${describeBatch(batch)} was stored at ${describeRange(batch.stored)}, but the log has it at ${describeRange(found)}`)
      }
      for (let offset = found.baseOffset; offset <= found.lastOffset; offset++) {
        const record = byOffset.get(offset)
        const expected = batch.records[offset - found.baseOffset]
        if (record !== undefined && (expected === undefined || !sameRecord(record, expected))) {
          failures.add('unknown-record', `${label}: offset ${offset}, in ${describeBatch(batch)}, holds a record not sent in it`)
        }
      }
      batch.stored = found
      batch.durable = true
      batch.absent = false
      continue
    }
    if (batch.stored === null) {
      batch.absent = true
      continue
    }
    // Not found, though stored: removed by retention (below the start) or compaction, or lost with a tail.
    if (batch.stored.lastOffset < seen.start || topic.spec.compacted) continue
    if (batch.durable) {
      failures.add('acked-record-lost', `${label}: ${describeBatch(batch)}, durable at ${describeRange(batch.stored)}, is gone from the log [${seen.start}, ${seen.end})`)
      continue
    }
    // An acknowledged batch of a 'never' or interval log past the surviving end: lost with the tail
    // (one inside the log is reported by checkPartition).
    if (batch.stored.baseOffset >= seen.end) {
      batch.stored = null
      batch.absent = true
    }
  }
  for (const [key, header] of byIdentity) {
    if (WORKLOAD_PRODUCER_IDS.includes(header.producerId) && !known.has(key)) {
      failures.add('unknown-record', `${label}: a batch at ${header.baseOffset}..${lastOffsetOf(header)} carries producer ${key}, which the workload never sent here`)
    }
  }
}

/** After a failed fsync a clean restart may find a 'never' or interval partition cut back (see forgetTailsCutAfterFailedFsync). */
export function forgetBatchesPast(partition: PartitionModel, end: number): void {
  for (const batch of partition.batches) {
    if (batch.stored !== null && !batch.durable && batch.stored.baseOffset >= end) batch.stored = null
  }
}
