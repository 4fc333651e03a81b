import type { CompressionCodec } from '../../src/record/compression/index.js'
import type { RecordHeader } from '../../src/record/types.js'
import type { TopicOptions } from '../../src/client/spool.js'

/**
 * What the workload knows the spool must hold: the records and commits it was told are
 * durable (acknowledged), and everything it ever sent, which is all a log may contain.
 * The checks compare a reopened spool with it (invariants.ts).
 */

export type FlushKind = 'always' | 'never' | 'interval'

/** A record the workload sent. Its id is written at the start of its value, so a record read back names itself. */
export interface SentRecord {
  id: number
  key: Buffer | null
  value: Buffer
  headers: RecordHeader[]
}

const ID_PATTERN = /^#(\d+)#/

export function recordValue(id: number, payload: Buffer): Buffer {
  return Buffer.concat([Buffer.from(`#${id}#`), payload])
}

/** The id a record's value starts with, or null for a value the workload never wrote. */
export function idOfValue(value: Buffer | null): number | null {
  if (value === null) return null
  const match = ID_PATTERN.exec(value.subarray(0, 24).toString('latin1'))
  return match === null ? null : Number(match[1])
}

export function sameRecord(a: { key: Buffer | null; value: Buffer | null; headers: readonly RecordHeader[] }, b: SentRecord): boolean {
  const sameBytes = (x: Buffer | null, y: Buffer | null): boolean => (x === null || y === null ? x === y : x.equals(y))
  return (
    sameBytes(a.key, b.key) &&
    sameBytes(a.value, b.value) &&
    a.headers.length === b.headers.length &&
    a.headers.every((h, i) => h.key === b.headers[i]!.key && sameBytes(h.value, b.headers[i]!.value))
  )
}

/** Offsets a batch was stored at. */
export interface OffsetRange {
  baseOffset: number
  lastOffset: number
}

/**
 * A batch the workload appended to a partition with an idempotent producer's identity
 * (idempotent.ts), and what it knows of its fate. A batch is in one of three states:
 * stored (`stored` set: acknowledged, or found in the log at a reopen), absent (known
 * not to be in the log: refused, or missing at the last reopen) or unknown (its send is
 * in flight, or went down with the process).
 */
export interface IdempotentBatch {
  producerId: number
  epoch: number
  baseSequence: number
  records: SentRecord[]
  codec: CompressionCodec
  /** Where it is stored, while the model knows it is (kept when retention or compaction removes it: the producer state remembers it). */
  stored: OffsetRange | null
  /** Whether it was found in the log at a reopen: it is durable then, whatever the flush policy (the open synced what it recovered). */
  durable: boolean
  /** Known not to be in the log. */
  absent: boolean
  /** The boot of its last send, and whether that send settled: one from an earlier boot that never did was in flight at a power cut. */
  lastSendBoot: number
  lastSendSettled: boolean
}

/** An idempotent producer's epoch and next sequence on one partition. */
export interface ProducerSequenceModel {
  epoch: number
  next: number
}

export class PartitionModel {
  /** Records whose send resolved, by the offset it resolved with. Kept when retention or compaction removes them, so that one coming back is checked too. */
  readonly acked = new Map<number, SentRecord>()
  /** Every record sent to this partition, acknowledged or not, by id. */
  readonly sent = new Map<number, SentRecord>()
  /** The highest start offset seen: only retention moves the start, and never back past what it deleted. */
  maxStartSeen = 0
  /** The workload's idempotent producers on this partition, by producer id. */
  readonly producers = new Map<number, ProducerSequenceModel>()
  /** Every batch they sent here, in the order sent. */
  readonly batches: IdempotentBatch[] = []
}

/** How a topic is made: its flush policy, and whether cleanup may remove acknowledged records. */
export interface TopicSpec {
  flush: FlushKind
  options: TopicOptions
  compacted: boolean
  retained: boolean
}

/** One incarnation of a topic (a topic deleted and created again is another one). */
export class TopicModel {
  readonly partitions: PartitionModel[]

  constructor(
    readonly name: string,
    readonly spec: TopicSpec,
    /** As the spool reports it (describeTopic): what tells two incarnations apart. */
    public createdAt: number,
  ) {
    this.partitions = Array.from({ length: spec.options.partitions ?? 1 }, () => new PartitionModel())
  }
}

/** A topic change that was under way when the power went: its outcome may or may not have survived. */
export type PendingChange = { kind: 'create'; model: TopicModel } | { kind: 'delete' }

export interface TopicSlot {
  /** The incarnation as of the acknowledged changes, or null for none. */
  live: TopicModel | null
  pending: PendingChange | null
}

export function tpKey(topic: string, partition: number): string {
  return `${topic}/${partition}`
}

export class GroupModel {
  /** The highest commit acknowledged, per tpKey. */
  readonly ackedCommits = new Map<string, number>()
  /**
   * Per tpKey, the first offset the group has not been given since the point it must
   * resume from: a delivery that starts past it, while the log holds a record in
   * between, skipped that record (contract 7; defect 5 of issue 12).
   */
  readonly cursors = new Map<string, number>()

  constructor(
    readonly name: string,
    readonly topics: readonly string[],
  ) {}
}

export class Model {
  readonly topics = new Map<string, TopicSlot>()
  readonly groups: GroupModel[] = []
  /** A runCleanup was under way when the power went: retention may have moved a start further than seen. */
  cleanupInFlight = false
  /**
   * Topics with an fsync failure armed on one of their partitions, until the next power
   * cut: their sends and closes may fail (they must, after the failure), nothing else.
   */
  readonly faultyTopics = new Set<string>()
  private nextId = 1

  newRecordId(): number {
    return this.nextId++
  }

  slot(name: string): TopicSlot {
    let slot = this.topics.get(name)
    if (slot === undefined) this.topics.set(name, (slot = { live: null, pending: null }))
    return slot
  }

  /** The live incarnations with no change under way: the ones the workload may use. */
  usableTopics(): TopicModel[] {
    return [...this.topics.values()].filter((slot) => slot.pending === null && slot.live !== null).map((slot) => slot.live!)
  }
}
