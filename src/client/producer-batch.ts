import type { RecordInput } from '../record/types.js'
import type { PartitionLog } from '../storage/partition-log.js'
import { StickyPartitioner } from '../topics/partitioner.js'
import type { TopicConfig } from '../topics/topic-config.js'
import type { BatchSend } from './producer-batch-send.js'

export interface RecordMetadata {
  topic: string
  partition: number
  offset: number
}

/** The metadata of `count` records appended from `baseOffset`, in order. */
export function metadataOf(topic: string, partition: number, baseOffset: number, count: number): RecordMetadata[] {
  const metadata = new Array<RecordMetadata>(count)
  for (let i = 0; i < count; i++) metadata[i] = { topic, partition, offset: baseOffset + i }
  return metadata
}

/**
 * Per topic: the open batch of each partition, the sticky partitioner, and what is being
 * written; and the topic's configuration and logs as the current call found them.
 */
export class TopicBatches {
  /** Set by each call from the spool's topics (the topic may have changed since the last call). */
  config!: TopicConfig
  logs: readonly PartitionLog[] = []
  readonly open: Array<OpenBatch | undefined> = []
  readonly sticky = new StickyPartitioner()
  /** Per partition: batches handed to the log and not settled yet. */
  readonly writing: number[] = []
  /** Per partition: the producer's turn in which a batch of it was last written at once (producer-turns.ts). */
  readonly writtenAtOnce: number[] = []

  constructor(readonly name: string) {}
}

/**
 * Records waiting to be appended to one partition as one batch, and who waits for them:
 * single sends and sendBatch calls (one shared BatchSend each, however many of their
 * records are here). Once appended, the batch settles them all from its base offset.
 *
 * The single sends share one promise of the base offset: each send is `sent.then(toMetadata)`,
 * one handler for all of them, not a promise with its own resolvers and closure (which
 * measured about a fifth slower for 1,000 concurrent sends awaited together). The handler
 * knows which send it answers by counting: a promise runs its reactions in the order
 * they were registered, which is the order of the sends.
 */
export class OpenBatch {
  records: RecordInput[] = []
  /** What the records take framed: the batch is written once it would pass maxBatchBytes. */
  bytes = 0
  /** Whether a keyless record chose this partition: the sticky partitioner moves on once it is sent. */
  keyless = false
  timer: NodeJS.Timeout | null = null
  /** The offset of records[0], once appended; what a BatchSend reads its records' offsets from. */
  baseOffset = -1
  /** The base offset, for the single sends; null until the first. */
  private sent: Promise<number> | null = null
  private resolveSent: ((baseOffset: number) => void) | null = null
  private rejectSent: ((error: unknown) => void) | null = null
  private sends = 0
  /** The i-th send's record is records[sendAt[i]]; null while every record is a single send's (records[i]). */
  private sendAt: number[] | null = null
  /** How many sends toMetadata has answered. */
  private answered = 0
  private readonly toMetadata = (baseOffset: number): RecordMetadata => {
    const i = this.answered++
    return { topic: this.topic, partition: this.partition, offset: baseOffset + (this.sendAt === null ? i : this.sendAt[i]!) }
  }
  private readonly groups: BatchSend[] = []

  constructor(
    readonly topic: string,
    readonly partition: number,
    readonly owner: TopicBatches,
    /** The topic's partition count when the batch opened (for the sticky partitioner). */
    readonly partitions: number,
    readonly log: PartitionLog,
  ) {}

  /** Adds a record; returns its index in the batch. */
  add(record: RecordInput, bytes: number, keyless: boolean): number {
    this.bytes += bytes
    if (keyless) this.keyless = true
    return this.records.push(record) - 1
  }

  /** Adds records (the batch may keep the array); returns the index of the first. */
  addAll(records: RecordInput[], bytes: number, keyless: boolean): number {
    this.bytes += bytes
    if (keyless) this.keyless = true
    const at = this.records.length
    if (at === 0) this.records = records
    else for (const record of records) this.records.push(record)
    return at
  }

  /** A single send of the record just added: resolves with its metadata once the batch is appended. */
  send(): Promise<RecordMetadata> {
    const at = this.records.length - 1
    if (this.sendAt === null && at !== this.sends) this.sendAt = Array.from({ length: this.sends }, (_, i) => i)
    this.sendAt?.push(at)
    this.sends++
    this.sent ??= new Promise<number>((resolve, reject) => {
      this.resolveSent = resolve
      this.rejectSent = reject
    })
    return this.sent.then(this.toMetadata)
  }

  /**
   * `group` has records here: it is told once when the batch settles. Its records are
   * placed one after another, so it is the last group joined if it joined already.
   */
  join(group: BatchSend): boolean {
    if (this.groups.length > 0 && this.groups[this.groups.length - 1] === group) return false
    this.groups.push(group)
    return true
  }

  settle(baseOffset: number): void {
    this.baseOffset = baseOffset
    this.records = [] // encoded and written: only the offsets are needed now
    this.resolveSent?.(baseOffset)
    for (const group of this.groups) group.batchSettled()
  }

  fail(error: unknown): void {
    this.records = []
    this.rejectSent?.(error)
    for (const group of this.groups) group.fail(error)
  }
}
