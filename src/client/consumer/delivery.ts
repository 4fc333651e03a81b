/**
 * Delivery: hands the records read ahead to the application — pushed to a handler
 * (`run`), through `for await`, or pulled (`poll`), one way at a time — and moves each
 * partition's processed offset as the application finishes with them.
 *
 * The data path, after the fetcher (fetcher.ts):
 *
 *   PrefetchBuffer
 *     │  take: up to N records of one partition, in offset order (credit goes back to the fetcher)
 *     ▼
 *   handout — in the application's hands: a handler running, a `for await` body, or the result of a poll
 *     │  the application finishes a record
 *     ▼
 *   processed — `processedOffset` = that record's offset + 1
 *     │
 *     ▼
 *   committer (committer.ts) — stores `processedOffset`
 *
 * Invariants:
 * - Per partition, records reach the application in offset order.
 * - `processedOffset` moves here alone (a seek aside), and only past records the
 *   application has finished: when `eachRecord` (or the batch's `eachBatch`) resolves; in
 *   a `for await` loop, when the loop asks for the next record; with `poll`, when `poll`
 *   is called again, or `commit()` — never at close or a revoke alone: the application
 *   may still be working on them (contract 7).
 * - A handout holds its partition's epoch: after a seek or a loss it moves nothing. A
 *   partition sought, paused, revoked or lost in the middle of a handout gets no more of
 *   it, and the fetcher reads the rest again.
 * - With `run` and `for await`, one handout at a time is in the application's hands,
 *   timed for maxPollIntervalMs; a revoke waits for it, and close, up to its timeout.
 * - With `poll`, a revoke of partitions that the last poll handed out waits for the next
 *   `poll()` or `commit()` (Kafka revokes inside poll(), after the previous batch), or
 *   close, timed for maxPollIntervalMs from that poll; what was not processed by then is
 *   not committed, and the partition's next owner gets it again (at-least-once).
 */
import { invalidArgument } from '../../errors.js'
import { DEFAULT_POLL_MAX_RECORDS, DEFAULT_POLL_TIMEOUT_MS } from '../../limits.js'
import { integerIn, nonNegativeInteger } from '../../validate.js'
import { Notifier, settleWithin } from '../notifier.js'
import type { ConsumedRecord } from '../reader.js'
import type { Fetcher } from './fetcher.js'
import type { Lifecycle } from './lifecycle.js'
import type { OwnedPartition, OwnedPartitions } from './owned-partitions.js'

export interface EachBatchPayload {
  topic: string
  partition: number
  /** In offset order; the batch counts as processed when the handler resolves. */
  records: ConsumedRecord[]
}

export interface RunOptions {
  /** Called for each record in order per partition; the record counts as processed when it resolves. */
  eachRecord?: (record: ConsumedRecord) => void | Promise<void>
  eachBatch?: (batch: EachBatchPayload) => void | Promise<void>
}

export interface PollOptions {
  maxRecords?: number
  /** How long to wait for a first record (default 1 s; 0 returns what is buffered now). */
  timeoutMs?: number
}

export interface DeliveryContext {
  clock: () => number
  partitions: OwnedPartitions
  lifecycle: Lifecycle
  fetcher: Fetcher
  /** A batch counts as processed (with poll: the previous poll's): an automatic commit may follow. */
  batchProcessed: () => void
  /** The handler in the application's hands has returned. */
  handlerReturned: () => void
  /** Closes the consumer (after a handler threw). */
  close: () => Promise<void>
}

type Mode = 'run' | 'iterator' | 'poll'

/** Records of one partition handed out together, and the partition's epoch when they were read. */
interface Handout {
  owned: OwnedPartition
  epoch: number
  records: ConsumedRecord[]
}

export class Delivery {
  private mode: Mode | null = null
  /** Records arrived, a partition resumed, or the consumer closed or failed. */
  private readonly woken = new Notifier()
  /** Records returned by the last poll(): processed once poll() is called again, or commit(). */
  private polled: Handout[] = []
  /** When the last poll() returned (the clock's time). */
  private polledAt = 0
  /** While a revoke waits for the application to finish the last poll's records: when that poll returned. */
  private revokeWaitsSince: number | null = null
  /** The handout in the application's hands (with run or for await): its partition, since when, and when it is done with. */
  private inHand: { owned: OwnedPartition; since: number; done: Promise<void> } | null = null
  /** Set while run() awaits a handler: close() calls it when it stops waiting, and run() returns without the handler. */
  private giveUp: (() => void) | null = null

  constructor(private readonly ctx: DeliveryContext) {}

  /** `Consumer.run`: a handler that throws closes the consumer, and run() rejects with its error. */
  async run(handlers: RunOptions): Promise<void> {
    const { eachRecord, eachBatch } = (handlers ?? {}) as RunOptions
    if ((eachRecord === undefined) === (eachBatch === undefined)) throw invalidArgument('run', 'takes exactly one of eachRecord and eachBatch')
    if (typeof (eachRecord ?? eachBatch) !== 'function') throw invalidArgument(eachRecord === undefined ? 'eachBatch' : 'eachRecord', 'must be a function')
    for await (const handout of this.handouts('run')) {
      const work = eachRecord !== undefined ? () => this.eachRecord(handout, eachRecord) : () => this.eachBatch(handout, eachBatch!)
      let outcome: 'done' | 'gave up'
      try {
        outcome = await this.handle(handout, work)
      } catch (error) {
        await this.ctx.close()
        throw error
      }
      if (outcome === 'gave up') return
      this.ctx.batchProcessed()
    }
  }

  /** Runs a handler on a handout: 'gave up' if close stops waiting for it first (it may still be running then). */
  private async handle(handout: Handout, work: () => Promise<void>): Promise<'done' | 'gave up'> {
    try {
      return await new Promise((resolve, reject) => {
        this.giveUp = () => resolve('gave up')
        this.inFlight(handout, work).then(() => resolve('done'), reject)
      })
    } finally {
      this.giveUp = null
    }
  }

  /**
   * As oneByOne, without a generator, and awaiting only what the handler returns that is
   * a promise: a synchronous handler's record is processed when it returns. An await per
   * record (and a generator step) cost more than the delivery itself under fan-out.
   */
  private async eachRecord(handout: Handout, handler: NonNullable<RunOptions['eachRecord']>): Promise<void> {
    const { records } = handout
    for (let i = 0; i < records.length; i++) {
      const record = records[i]!
      if (i > 0 && !this.stillDeliverable(handout)) {
        this.putBack(handout, record.offset)
        return
      }
      const returned = handler(record)
      if (isThenable(returned)) await returned
      this.processed(handout, record.offset + 1)
    }
  }

  private async eachBatch(handout: Handout, handler: NonNullable<RunOptions['eachBatch']>): Promise<void> {
    const { topic, partition } = handout.owned
    await handler({ topic, partition, records: handout.records })
    this.processed(handout, handout.records.at(-1)!.offset + 1)
  }

  /** `for await (const record of consumer)`: the handout stays in the application's hands until the loop asks past its last record. */
  async *iterate(): AsyncGenerator<ConsumedRecord, void, undefined> {
    for await (const handout of this.handouts('iterator')) {
      let release!: () => void
      const released = new Promise<void>((resolve) => (release = resolve))
      const work = this.inFlight(handout, () => released)
      try {
        for (const record of this.oneByOne(handout)) yield record
      } finally {
        release()
        await work
      }
      this.ctx.batchProcessed()
    }
  }

  /** For `run` and `for await`: one handout at a time until the consumer closes, holding the delivery mode meanwhile. */
  private async *handouts(mode: 'run' | 'iterator'): AsyncGenerator<Handout, void, undefined> {
    this.claim(mode)
    try {
      for (;;) {
        const handout = await this.next(Infinity, Infinity)
        if (handout === null) return
        yield handout
      }
    } finally {
      this.mode = null
    }
  }

  /**
   * The records of a handout, one at a time: each counts as processed when the next is
   * asked for (or at the end). Once its partition is sought, paused, revoked or lost, or
   * the consumer closes, the rest is put back to be read again.
   */
  private *oneByOne(handout: Handout): Generator<ConsumedRecord, void, undefined> {
    for (const [i, record] of handout.records.entries()) {
      if (i > 0 && !this.stillDeliverable(handout)) {
        this.putBack(handout, record.offset)
        return
      }
      yield record
      this.processed(handout, record.offset + 1)
    }
  }

  /** `Consumer.poll`: first, the records of the previous poll count as processed. */
  async poll(options: PollOptions = {}): Promise<ConsumedRecord[]> {
    const maxRecords = options.maxRecords === undefined ? DEFAULT_POLL_MAX_RECORDS : integerIn('maxRecords', options.maxRecords, 1)
    const timeoutMs = options.timeoutMs === undefined ? DEFAULT_POLL_TIMEOUT_MS : nonNegativeInteger('timeoutMs', options.timeoutMs)
    this.claim('poll')
    this.markPolled()
    this.ctx.batchProcessed()
    this.ctx.handlerReturned() // a member that left because the application was away joins again
    const out: ConsumedRecord[] = []
    let handout = await this.next(maxRecords, timeoutMs)
    while (handout !== null) {
      this.polled.push(handout)
      out.push(...handout.records)
      if (out.length >= maxRecords) break
      handout = await this.next(maxRecords - out.length, 0)
    }
    this.polledAt = this.ctx.clock()
    return out
  }

  /** The records of the last poll (of these partitions, or all) count as processed. */
  markPolled(parts?: readonly OwnedPartition[]): void {
    const keep: Handout[] = []
    for (const handout of this.polled) {
      if (parts === undefined || parts.includes(handout.owned)) this.processed(handout, handout.records.at(-1)!.offset + 1)
      else keep.push(handout)
    }
    this.polled = keep
    this.woken.notify() // a revoke waiting for them goes on
  }

  /**
   * Before `parts` are revoked: resolves once the application is done with what it holds of
   * them — the handler running on one of them has returned, and the last poll's records of
   * them were processed (the next poll() or commit()), or the consumer closed, or the
   * partitions were lost meanwhile.
   */
  async release(parts: readonly OwnedPartition[]): Promise<void> {
    await this.polledDone(parts)
    await this.handedOut(parts)
  }

  private async polledDone(parts: readonly OwnedPartition[]): Promise<void> {
    const { partitions, lifecycle } = this.ctx
    const holds = (h: Handout): boolean => parts.includes(h.owned) && partitions.isCurrent(h.owned, h.epoch)
    try {
      while (!lifecycle.closed && this.polled.some(holds)) {
        this.revokeWaitsSince = this.polledAt
        await this.woken.wait()
      }
    } finally {
      this.revokeWaitsSince = null
    }
  }

  /** Settles when the handout in the application's hands, if it is of one of `parts`, is done with. */
  handedOut(parts: readonly OwnedPartition[]): Promise<void> {
    const inHand = this.inHand
    return inHand !== null && parts.includes(inHand.owned) ? inHand.done : Promise.resolve()
  }

  /**
   * When the handout now in the application's hands was handed out — or, while a revoke
   * waits for the last poll's records, when that poll returned; null otherwise.
   */
  get runningSince(): number | null {
    return this.inHand?.since ?? this.revokeWaitsSince
  }

  /** Records arrived, a partition resumed or was lost, or the consumer closed or failed: a waiting delivery (or revoke) looks again. */
  wake(): void {
    this.woken.notify()
  }

  /**
   * At close, once it has stopped waiting for the application: run() returns. The last
   * poll's records were not confirmed by a poll() or commit(), so they do not count as
   * processed: the partitions' next owners get them again.
   */
  stop(): void {
    this.giveUp?.()
    this.polled = []
  }

  private claim(mode: Mode): void {
    this.ctx.lifecycle.throwIfUnusable()
    if (this.mode !== null && this.mode !== mode) {
      throw invalidArgument(mode, `cannot start: the consumer already delivers through ${this.mode}; use one way at a time`)
    }
    if (this.mode === mode && mode !== 'poll') throw invalidArgument(mode, 'is already running on this consumer')
    this.mode = mode
  }

  /** The next records to hand out, waiting up to `timeoutMs`; null on timeout or close. */
  private async next(maxRecords: number, timeoutMs: number): Promise<Handout | null> {
    const { lifecycle, fetcher, partitions } = this.ctx
    const deadline = Date.now() + timeoutMs
    for (;;) {
      if (lifecycle.failure !== null) throw lifecycle.failure
      if (lifecycle.closed) return null
      const chunk = fetcher.take(maxRecords)
      if (chunk !== null) return { owned: partitions.get(chunk.key)!, epoch: chunk.epoch, records: chunk.records }
      const left = deadline - Date.now()
      if (left <= 0) return null
      await this.woken.waitAtMost(left)
    }
  }

  /** Marks a handout in the application's hands until `work` settles (a revoke waits for it), timing it for maxPollIntervalMs. */
  private async inFlight<T>(handout: Handout, work: () => Promise<T>): Promise<T> {
    const since = this.ctx.clock()
    const running = work()
    this.inHand = { owned: handout.owned, since, done: settleWithin(running, Infinity) }
    try {
      return await running
    } finally {
      this.inHand = null
      this.ctx.handlerReturned()
    }
  }

  private processed(handout: Handout, nextOffset: number): void {
    if (this.ctx.partitions.isCurrent(handout.owned, handout.epoch)) handout.owned.processedOffset = nextOffset
  }

  /** Whether the rest of a handout may still be handed out (no seek, pause, revoke or loss since, and not closed). */
  private stillDeliverable(handout: Handout): boolean {
    const { partitions, lifecycle } = this.ctx
    return partitions.isCurrent(handout.owned, handout.epoch) && partitions.consumable(handout.owned) && !lifecycle.closed
  }

  /** Puts back what a handout did not hand out: reading resumes at `offset`. */
  private putBack(handout: Handout, offset: number): void {
    if (this.ctx.partitions.isCurrent(handout.owned, handout.epoch)) this.ctx.fetcher.rewind(handout.owned.key, offset)
  }
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  if (value instanceof Promise) return true
  return typeof value === 'object' && value !== null && typeof (value as { then?: unknown }).then === 'function'
}
