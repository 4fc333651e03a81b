import { SpoolError, invalidArgument, isSpoolError } from '../errors.js'
import { type TopicPartition, tpKey } from '../groups/assignors.js'
import type { GroupCoordinator, MemberAssignment } from '../groups/coordinator.js'
import { parseTpKey } from '../groups/group-state.js'
import { AUTO_COMMIT_LINGER_MS, CONSUMER_CLOSE_TIMEOUT_MS, DEFAULT_POLL_MAX_RECORDS, DEFAULT_POLL_TIMEOUT_MS, DEFAULT_READ_MAX_BYTES, REBALANCE_RETRY_MS } from '../limits.js'
import type { Logger } from '../storage/logger.js'
import type { PartitionLog } from '../storage/partition-log.js'
import type { Topics } from '../topics/topics.js'
import { integerIn, nonNegativeInteger } from '../validate.js'
import { type ConsumerOptions, type ResolvedConsumerOptions, resolveConsumerOptions } from './consumer-options.js'
import type { GroupHub } from './group-hub.js'
import { type PartitionLag, partitionLag } from './lag.js'
import { CoalescedTask } from './coalesced-task.js'
import { Notifier, settleWithin } from './notifier.js'
import { type FetchedChunk, PrefetchBuffer, recordBytes } from './prefetch-buffer.js'
import { type ConsumedRecord, readLabelled } from './reader.js'

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

/** A partition this member owns, and where it stands on it. */
interface OwnedPartition {
  topic: string
  partition: number
  key: string
  log: PartitionLog
  /** The next offset to read ahead into the buffer. */
  fetchOffset: number
  /** The offset after the last processed record: what a commit stores. */
  processedOffset: number
  committedOffset: number | null
  /** Bumped by a seek, or when the partition is lost: work begun before it no longer counts. */
  epoch: number
  revoking: boolean
  /** Stops the wake-ups from its log's appends. */
  unsubscribe: () => void
  /** Settles when the records handed out for it are processed. */
  inFlight: Promise<void> | null
}

interface Delivery {
  owned: OwnedPartition
  epoch: number
  records: ConsumedRecord[]
}

type Mode = 'run' | 'iterator' | 'poll'

export interface ConsumerContext {
  topics: Topics
  hub: GroupHub
  clock: () => number
  logger: Logger
  /** Called once the consumer has closed, so the spool forgets it. */
  onClosed: (consumer: Consumer) => void
}

/**
 * A member of a consumer group. It joins at once, reads ahead of its handler within its
 * prefetch bounds (contract 8), woken by appends, and delivers each owned partition's
 * records in offset order — pushed (`run`, `for await`) or pulled (`poll`). What it has
 * processed it commits (automatically, or on `commit()`), and always before it gives a
 * partition up, so a partition moves on from where its last owner stopped (contract 7).
 *
 * A record counts as processed when its `eachRecord` (or its batch's `eachBatch`)
 * resolves; in a `for await` loop, when the loop asks for the next record; with `poll`,
 * when `poll` is called again (or `commit()`).
 */
export class Consumer {
  private readonly options: ResolvedConsumerOptions
  private readonly owned = new Map<string, OwnedPartition>()
  private readonly pausedKeys = new Set<string>()
  private readonly buffer: PrefetchBuffer
  /** State changed in a way the fetcher cares about: assignment, credit, seek, resume, close. */
  private readonly fetchWake = new Notifier()
  /** Records arrived, or the consumer closed or failed. */
  private readonly deliveryWake = new Notifier()
  private memberIdValue: string | null = null
  private generationValue = -1
  /** Partitions revoked and committed, to confirm in the next heartbeat. */
  private confirmed: TopicPartition[] = []
  /** Join or heartbeat, then act on the answer: one at a time. */
  private readonly sync = new CoalescedTask(
    () => this.syncOnce(),
    (error) => this.fail(error),
    () => this.closed,
  )
  private heartbeatTimer: NodeJS.Timeout | null = null
  private commitTimer: NodeJS.Timeout | null = null
  private readonly backgroundCommit = new CoalescedTask(
    () => this.commitParts([...this.owned.values()]),
    (error) => this.warnCommit(error),
    () => this.closed,
  )
  private mode: Mode | null = null
  /** Records returned by the last poll(): processed once poll() is called again. */
  private polled: Delivery[] = []
  /** When the handler now running was handed its records; null when none runs. */
  private handlerSince: number | null = null
  /** The member left because its handler looked stuck; it joins again once the handler returns. */
  private abandoned = false
  private failure: unknown = null
  private closed = false
  private closing: Promise<void> | null = null
  /** Set while run() awaits a handler: close() calls it when it stops waiting, and run() returns without the handler. */
  private giveUp: (() => void) | null = null
  private readonly unregister: () => void

  constructor(
    private readonly ctx: ConsumerContext,
    options: ConsumerOptions,
  ) {
    this.options = resolveConsumerOptions(options, ctx.topics)
    this.buffer = new PrefetchBuffer(this.options.maxPrefetchRecords, this.options.maxPrefetchBytes)
    this.unregister = ctx.hub.register(this.options.group, () => this.sync.request())
    this.heartbeatTimer = setInterval(() => this.heartbeat(), this.options.heartbeatIntervalMs)
    if (this.options.commitIntervalMs !== null) this.commitTimer = setInterval(() => this.backgroundCommit.request(), this.options.commitIntervalMs)
    this.sync.request()
    void this.fetchLoop()
  }

  get group(): string {
    return this.options.group
  }

  /** The coordinator's id for this member, once it has joined. */
  get memberId(): string | null {
    return this.memberIdValue
  }

  get generation(): number {
    return this.generationValue
  }

  /** The partitions this member may consume now. */
  assignment(): TopicPartition[] {
    return [...this.owned.values()].filter((p) => !p.revoking).map(({ topic, partition }) => ({ topic, partition }))
  }

  /** Records read ahead and not yet handed to the application (bounded by the prefetch options). */
  get buffered(): { records: number; bytes: number } {
    return { records: this.buffer.records, bytes: this.buffer.bytes }
  }

  // ---- membership ------------------------------------------------------------------

  private joinRequest(memberId?: string) {
    const { group, topics, sessionTimeoutMs, instanceId, assignor } = this.options
    return { group, topics, sessionTimeoutMs, assignor, ...(instanceId === undefined ? {} : { instanceId }), ...(memberId === undefined ? {} : { memberId }) }
  }

  private async syncOnce(): Promise<void> {
    const coordinator = await this.ctx.hub.coordinator()
    if (this.closed || this.abandoned) return
    let answer: MemberAssignment
    try {
      answer = await this.callCoordinator(coordinator)
    } catch (error) {
      if (!isSpoolError(error, 'UNKNOWN_MEMBER')) throw error
      // Evicted (or replaced): whatever it owned now belongs to others.
      await this.loseAll()
      this.memberIdValue = null
      this.sync.request()
      return
    }
    if (this.closed) return
    this.memberIdValue = answer.memberId
    this.generationValue = answer.generation
    await this.apply(answer, coordinator)
  }

  private async callCoordinator(coordinator: GroupCoordinator): Promise<MemberAssignment> {
    if (this.memberIdValue === null) return coordinator.join(this.joinRequest())
    const revoked = this.confirmed
    this.confirmed = []
    try {
      const answer = await coordinator.heartbeat({ group: this.options.group, memberId: this.memberIdValue, generation: this.generationValue, revoked })
      if (revoked.length > 0) this.ctx.hub.wake(this.options.group) // the partitions' new owners may take them now
      return answer
    } catch (error) {
      // A rebalance happened: join again under the same id. Confirmations are repeated
      // from the answer's revoke list, which still holds them.
      if (!isSpoolError(error, 'ILLEGAL_GENERATION')) throw error
      return coordinator.join(this.joinRequest(this.memberIdValue))
    }
  }

  private async apply(answer: MemberAssignment, coordinator: GroupCoordinator): Promise<void> {
    const assigned = new Set(answer.assigned.map(tpKey))
    const revoking = new Set(answer.revoke.map(tpKey))
    const lost = [...this.owned.values()].filter((p) => !assigned.has(p.key) && !revoking.has(p.key))
    if (lost.length > 0) await this.lose(lost)
    const toRevoke: OwnedPartition[] = []
    for (const tp of answer.revoke) {
      const owned = this.owned.get(tpKey(tp))
      if (owned === undefined) this.confirmed.push(tp)
      else if (!owned.revoking) toRevoke.push(owned)
    }
    if (toRevoke.length > 0) await this.revoke(toRevoke)
    const fresh = answer.assigned.filter((tp) => !this.owned.has(tpKey(tp)))
    if (fresh.length > 0) await this.assign(fresh, coordinator)
    if (this.confirmed.length > 0) this.sync.request()
    else if (answer.rebalancing) this.sync.requestAfter(REBALANCE_RETRY_MS)
  }

  private async assign(partitions: TopicPartition[], coordinator: GroupCoordinator): Promise<void> {
    const committed = new Map((await coordinator.fetchOffsets(this.options.group)).map((c) => [tpKey(c), c.offset]))
    for (const tp of partitions) {
      const log = this.ctx.topics.log(tp.topic, tp.partition)
      const stored = committed.get(tpKey(tp))
      const start = this.startOffset(tp, log, stored)
      const owned: OwnedPartition = {
        ...tp,
        key: tpKey(tp),
        log,
        fetchOffset: start,
        processedOffset: start,
        committedOffset: stored ?? null,
        epoch: 0,
        revoking: false,
        // The fetcher sleeps until an owned partition has something for it: woken by the append itself.
        unsubscribe: log.onAppend((endOffset) => {
          if (endOffset > owned.fetchOffset) this.fetchWake.notify()
        }),
        inFlight: null,
      }
      this.owned.set(owned.key, owned)
    }
    await this.callListener('onAssigned', partitions)
    this.fetchWake.notify()
  }

  /** Where to start a partition: its committed offset if the log still holds it, else the reset policy's choice. */
  private startOffset(tp: TopicPartition, log: PartitionLog, committed: number | undefined): number {
    if (committed !== undefined && committed >= log.startOffset && committed <= log.endOffset) return committed
    const where = committed === undefined ? 'has no committed offset' : `committed offset ${committed}, outside the log [${log.startOffset}, ${log.endOffset}]`
    switch (this.options.resetPolicy) {
      case 'earliest':
        if (committed !== undefined) this.ctx.logger.warn(`group "${this.options.group}" ${where} on ${tp.topic}-${tp.partition}; starting at the earliest offset`)
        return log.startOffset
      case 'latest':
        if (committed !== undefined) this.ctx.logger.warn(`group "${this.options.group}" ${where} on ${tp.topic}-${tp.partition}; starting at the latest offset`)
        return log.endOffset
      case 'error':
        throw new SpoolError(
          'OFFSET_OUT_OF_RANGE',
          `group "${this.options.group}" ${where} on ${tp.topic}-${tp.partition} and its resetPolicy is 'error'; set one with spool groups reset-offsets, or use resetPolicy 'earliest' or 'latest'`,
          { details: { group: this.options.group, topic: tp.topic, partition: tp.partition, offset: committed ?? null, startOffset: log.startOffset, endOffset: log.endOffset } },
        )
    }
  }

  /** Gives partitions up in order: stop reading ahead, let the handler finish, commit, tell the listener, confirm. */
  private async revoke(parts: OwnedPartition[]): Promise<void> {
    for (const p of parts) {
      p.revoking = true
      this.buffer.drop(p.key)
    }
    this.fetchWake.notify()
    this.markPolled(parts)
    await Promise.all(parts.map((p) => p.inFlight))
    if (this.options.autoCommit) await this.commitParts(parts).catch((error: unknown) => this.warnCommit(error))
    const tps = parts.map(({ topic, partition }) => ({ topic, partition }))
    await this.callListener('onRevoked', tps)
    for (const p of parts) if (this.owned.get(p.key) === p) this.disown(p)
    this.confirmed.push(...tps)
  }

  /** Partitions taken away without a revoke (eviction, a deleted topic): nothing of theirs can be committed any more. */
  private async lose(parts: OwnedPartition[]): Promise<void> {
    for (const p of parts) {
      p.epoch++
      this.buffer.drop(p.key)
      this.disown(p)
    }
    this.fetchWake.notify()
    await this.callListener(
      'onRevoked',
      parts.map(({ topic, partition }) => ({ topic, partition })),
    )
  }

  private disown(p: OwnedPartition): void {
    p.unsubscribe()
    this.owned.delete(p.key)
  }

  private loseAll(): Promise<void> {
    return this.owned.size === 0 ? Promise.resolve() : this.lose([...this.owned.values()])
  }

  private async callListener(name: 'onAssigned' | 'onRevoked', partitions: TopicPartition[]): Promise<void> {
    const listener = this.options[name]
    if (listener === undefined || partitions.length === 0) return
    try {
      await listener(partitions)
    } catch (error) {
      this.ctx.logger.warn(`the ${name} listener of group "${this.options.group}" threw: ${String(error)}`)
    }
  }

  private heartbeat(): void {
    if (this.handlerSince !== null && this.ctx.clock() - this.handlerSince > this.options.maxPollIntervalMs && !this.abandoned) {
      void this.abandon()
      return
    }
    if (this.sync.running === null) {
      this.sync.request()
      return
    }
    // The member is busy (revoking behind a slow handler): keep its session alive meanwhile.
    const memberId = this.memberIdValue
    if (memberId === null || this.abandoned) return
    void this.ctx.hub
      .coordinator()
      .then((c) => c.heartbeat({ group: this.options.group, memberId, generation: this.generationValue }))
      .catch(() => undefined)
  }

  /** The handler has run past maxPollIntervalMs: leave, so the group moves its partitions on. */
  private async abandon(): Promise<void> {
    this.abandoned = true
    const memberId = this.memberIdValue
    this.ctx.logger.warn(
      `a handler of group "${this.options.group}" has run for over ${this.options.maxPollIntervalMs} ms; leaving the group so its partitions move on (it joins again when the handler returns)`,
    )
    this.memberIdValue = null
    await this.loseAll()
    if (memberId !== null) await (await this.ctx.hub.coordinator()).leave({ group: this.options.group, memberId }).catch(() => undefined)
  }

  // ---- reading ahead -----------------------------------------------------------------

  private fetchable(p: OwnedPartition): boolean {
    return !p.revoking && !this.pausedKeys.has(p.key)
  }

  private async fetchLoop(): Promise<void> {
    let turn = 0
    while (!this.closed) {
      const credit = this.buffer.credit()
      const candidates = [...this.owned.values()].filter((p) => this.fetchable(p))
      if (credit === null || candidates.length === 0) {
        await this.fetchWake.wait()
        continue
      }
      const ready = candidates.filter((p) => p.fetchOffset < p.log.endOffset)
      if (ready.length === 0) {
        await this.fetchWake.wait()
        continue
      }
      const p = ready[turn++ % ready.length]!
      try {
        await this.fetch(p, credit)
      } catch (error) {
        await this.fetchFailed(p, error)
      }
    }
  }

  private async fetch(p: OwnedPartition, credit: { records: number; bytes: number }): Promise<void> {
    const epoch = p.epoch
    const from = p.fetchOffset
    const { records, nextOffset } = await readLabelled(p.log, from, { maxBytes: Math.min(credit.bytes, DEFAULT_READ_MAX_BYTES), label: p })
    // A seek, pause, revoke or loss while reading: what was read is not wanted.
    if (this.owned.get(p.key) !== p || p.epoch !== epoch || !this.fetchable(p) || p.fetchOffset !== from) return
    const taken: ConsumedRecord[] = []
    let bytes = 0
    for (const record of records) {
      const size = recordBytes(record)
      // At least one record when nothing is buffered, so a record larger than the bound still moves.
      const fits = taken.length < credit.records && bytes + size <= credit.bytes
      if (!fits && !(taken.length === 0 && this.buffer.empty)) break
      taken.push(record)
      bytes += size
      if (!fits) break
    }
    p.fetchOffset = taken.length === records.length ? nextOffset : records[taken.length]!.offset
    if (taken.length === 0) return
    this.buffer.push({ key: p.key, epoch, records: taken, bytes })
    this.deliveryWake.notify()
  }

  private async fetchFailed(p: OwnedPartition, error: unknown): Promise<void> {
    if (this.closed || this.owned.get(p.key) !== p) return
    if (isSpoolError(error, 'OFFSET_OUT_OF_RANGE') && this.options.resetPolicy !== 'error') {
      // Retention removed what this member had not read yet.
      const reset = this.startOffset(p, p.log, undefined)
      this.ctx.logger.warn(`${p.topic}-${p.partition}: offset ${p.fetchOffset} is no longer in the log; group "${this.options.group}" goes on from ${reset}`)
      this.seekOwned(p, reset)
      return
    }
    this.fail(error)
  }

  // ---- delivery ----------------------------------------------------------------------

  private claim(mode: Mode): void {
    this.throwIfUnusable()
    if (this.mode !== null && this.mode !== mode) {
      throw invalidArgument(mode, `cannot start: the consumer already delivers through ${this.mode}; use one way at a time`)
    }
    if (this.mode === mode && mode !== 'poll') throw invalidArgument(mode, 'is already running on this consumer')
    this.mode = mode
  }

  private throwIfUnusable(): void {
    if (this.failure !== null) throw this.failure
    if (this.closed) throw new SpoolError('CLOSED', `the consumer of group "${this.options.group}" is closed`)
  }

  private deliverable(chunk: FetchedChunk): boolean {
    const p = this.owned.get(chunk.key)
    return p !== undefined && this.fetchable(p)
  }

  private stale(chunk: FetchedChunk): boolean {
    const p = this.owned.get(chunk.key)
    return p === undefined || p.epoch !== chunk.epoch
  }

  /** The next records to hand out, waiting up to `timeoutMs`; null on timeout or close. */
  private async next(maxRecords: number, timeoutMs: number): Promise<Delivery | null> {
    const deadline = Date.now() + timeoutMs
    for (;;) {
      if (this.failure !== null) throw this.failure
      if (this.closed) return null
      const chunk = this.buffer.take(maxRecords, (c) => this.deliverable(c), (c) => this.stale(c))
      if (chunk !== null) {
        this.fetchWake.notify()
        return { owned: this.owned.get(chunk.key)!, epoch: chunk.epoch, records: chunk.records }
      }
      const left = deadline - Date.now()
      if (left <= 0) return null
      await this.deliveryWake.waitAtMost(left)
    }
  }

  private processed(delivery: Delivery, nextOffset: number): void {
    const p = delivery.owned
    if (this.owned.get(p.key) === p && p.epoch === delivery.epoch) p.processedOffset = nextOffset
  }

  /** Whether the rest of a delivery may still be handed out (no seek, pause, revoke or loss since). */
  private stillDeliverable(delivery: Delivery): boolean {
    const p = delivery.owned
    return this.owned.get(p.key) === p && p.epoch === delivery.epoch && this.fetchable(p) && !this.closed
  }

  /** Puts back what a delivery did not hand out: reading resumes at `offset`. */
  private putBack(delivery: Delivery, offset: number): void {
    const p = delivery.owned
    if (this.owned.get(p.key) !== p || p.epoch !== delivery.epoch) return
    const dropped = this.buffer.drop(p.key)
    p.fetchOffset = Math.min(offset, dropped ?? offset)
    this.fetchWake.notify()
  }

  /** Marks a delivery in flight until `work` settles (a revoke waits for it), timing it for maxPollIntervalMs. */
  private async inFlight<T>(delivery: Delivery, work: () => Promise<T>): Promise<T> {
    this.handlerSince = this.ctx.clock()
    const running = work()
    delivery.owned.inFlight = settleWithin(running, Infinity)
    try {
      return await running
    } finally {
      delivery.owned.inFlight = null
      this.handlerSince = null
      if (this.abandoned) {
        this.abandoned = false
        this.sync.request()
      }
    }
  }

  /**
   * Pushes records to a handler until the consumer closes. Settles when it closes; if a
   * handler throws, the record it failed on is not committed, the consumer closes (its
   * partitions move on, and the record is delivered again), and this rejects with the error.
   */
  async run(handlers: RunOptions): Promise<void> {
    const { eachRecord, eachBatch } = (handlers ?? {}) as RunOptions
    if ((eachRecord === undefined) === (eachBatch === undefined)) throw invalidArgument('run', 'takes exactly one of eachRecord and eachBatch')
    if (typeof (eachRecord ?? eachBatch) !== 'function') throw invalidArgument(eachRecord === undefined ? 'eachBatch' : 'eachRecord', 'must be a function')
    this.claim('run')
    try {
      for (;;) {
        const delivery = await this.next(Infinity, Infinity)
        if (delivery === null) return
        try {
          const handled = new Promise<'done' | 'gave up'>((resolve, reject) => {
            this.giveUp = () => resolve('gave up')
            const work = () => (eachRecord !== undefined ? this.eachRecord(delivery, eachRecord) : this.eachBatch(delivery, eachBatch!))
            this.inFlight(delivery, work).then(() => resolve('done'), reject)
          })
          if ((await handled) === 'gave up') return
        } catch (error) {
          await this.close()
          throw error
        } finally {
          this.giveUp = null
        }
        if (this.options.commitAfterBatch) this.backgroundCommit.requestAfter(AUTO_COMMIT_LINGER_MS) // one commit for the batches of the next few ms
      }
    } finally {
      this.mode = null
    }
  }

  private async eachRecord(delivery: Delivery, handler: NonNullable<RunOptions['eachRecord']>): Promise<void> {
    for (const [i, record] of delivery.records.entries()) {
      if (i > 0 && !this.stillDeliverable(delivery)) {
        this.putBack(delivery, record.offset)
        return
      }
      await handler(record)
      this.processed(delivery, record.offset + 1)
    }
  }

  private async eachBatch(delivery: Delivery, handler: NonNullable<RunOptions['eachBatch']>): Promise<void> {
    const { topic, partition } = delivery.owned
    await handler({ topic, partition, records: delivery.records })
    this.processed(delivery, delivery.records.at(-1)!.offset + 1)
  }

  /** `for await (const record of consumer)`: a record counts as processed when the loop asks for the next one. */
  async *[Symbol.asyncIterator](): AsyncGenerator<ConsumedRecord, void, undefined> {
    this.claim('iterator')
    try {
      for (;;) {
        const delivery = await this.next(Infinity, Infinity)
        if (delivery === null) return
        let release!: () => void
        const done = new Promise<void>((resolve) => (release = resolve))
        const work = this.inFlight(delivery, () => done)
        try {
          for (const [i, record] of delivery.records.entries()) {
            if (i > 0 && !this.stillDeliverable(delivery)) {
              this.putBack(delivery, record.offset)
              break
            }
            yield record
            this.processed(delivery, record.offset + 1)
          }
        } finally {
          release()
          await work
        }
        if (this.options.commitAfterBatch) this.backgroundCommit.requestAfter(AUTO_COMMIT_LINGER_MS) // one commit for the batches of the next few ms
      }
    } finally {
      this.mode = null
    }
  }

  /**
   * Pulls up to `maxRecords`, waiting up to `timeoutMs` for the first. The records of the
   * previous poll count as processed now (Kafka's semantics), and are committed with autoCommit.
   */
  async poll(options: PollOptions = {}): Promise<ConsumedRecord[]> {
    const maxRecords = options.maxRecords === undefined ? DEFAULT_POLL_MAX_RECORDS : integerIn('maxRecords', options.maxRecords, 1)
    const timeoutMs = options.timeoutMs === undefined ? DEFAULT_POLL_TIMEOUT_MS : nonNegativeInteger('timeoutMs', options.timeoutMs)
    this.claim('poll')
    this.markPolled()
    if (this.options.commitAfterBatch) this.backgroundCommit.requestAfter(AUTO_COMMIT_LINGER_MS) // one commit for the batches of the next few ms
    const out: ConsumedRecord[] = []
    let delivery = await this.next(maxRecords, timeoutMs)
    while (delivery !== null) {
      this.polled.push(delivery)
      out.push(...delivery.records)
      if (out.length >= maxRecords) break
      delivery = await this.next(maxRecords - out.length, 0)
    }
    return out
  }

  /** The records of the last poll (of these partitions, or all) count as processed. */
  private markPolled(parts?: OwnedPartition[]): void {
    const keep: Delivery[] = []
    for (const delivery of this.polled) {
      if (parts === undefined || parts.includes(delivery.owned)) this.processed(delivery, delivery.records.at(-1)!.offset + 1)
      else keep.push(delivery)
    }
    this.polled = keep
  }

  // ---- commits -----------------------------------------------------------------------

  /**
   * Commits what this member has processed on every partition it owns; resolves once
   * LevelDB holds it. Refused (UNKNOWN_MEMBER) if the member was evicted meanwhile.
   */
  async commit(): Promise<void> {
    this.throwIfUnusable()
    this.markPolled()
    await this.commitParts([...this.owned.values()])
  }

  private warnCommit(error: unknown): void {
    this.ctx.logger.warn(`group "${this.options.group}": commit failed (${String(error)}); its records will be delivered again after the next rebalance`)
  }

  private async commitParts(parts: OwnedPartition[]): Promise<void> {
    const coordinator = await this.ctx.hub.coordinator()
    for (let attempt = 0; ; attempt++) {
      const due = parts.filter((p) => this.owned.get(p.key) === p && p.processedOffset !== p.committedOffset)
      const memberId = this.memberIdValue
      if (due.length === 0) return
      if (memberId === null) {
        throw new SpoolError('UNKNOWN_MEMBER', `the consumer of group "${this.options.group}" is not a member now; what it processed will be delivered again`, {
          details: { group: this.options.group },
        })
      }
      const offsets = due.map((p) => ({ topic: p.topic, partition: p.partition, offset: p.processedOffset }))
      try {
        await coordinator.commit({ group: this.options.group, memberId, generation: this.generationValue, offsets })
      } catch (error) {
        // A rebalance since the last heartbeat: refresh the generation, and retry what is still ours.
        if (attempt > 0 || !isSpoolError(error, 'ILLEGAL_GENERATION')) throw error
        const answer = await coordinator.join(this.joinRequest(memberId))
        this.generationValue = answer.generation
        this.sync.request()
        continue
      }
      for (const [i, p] of due.entries()) p.committedOffset = offsets[i]!.offset
      return
    }
  }

  // ---- positions ---------------------------------------------------------------------

  private ownedPartition(tp: TopicPartition, field = 'partition'): OwnedPartition {
    if (typeof tp !== 'object' || tp === null) throw invalidArgument(field, 'must be { topic, partition }')
    const p = this.owned.get(tpKey(tp))
    if (p === undefined || p.revoking) {
      throw new SpoolError('PARTITION_NOT_ASSIGNED', `${tp.topic}-${tp.partition} is not assigned to this member of group "${this.options.group}"; seek in onAssigned, or after it ran`, {
        details: { group: this.options.group, topic: tp.topic, partition: tp.partition },
      })
    }
    return p
  }

  private seekOwned(p: OwnedPartition, offset: number): void {
    p.epoch++
    this.buffer.drop(p.key)
    p.fetchOffset = offset
    p.processedOffset = offset
    this.fetchWake.notify()
  }

  /** The next record delivered from this partition is `offset`; committing now stores it. */
  seek(tp: TopicPartition, offset: number): void {
    const p = this.ownedPartition(tp)
    nonNegativeInteger('offset', offset)
    p.log.checkInRange(offset)
    this.seekOwned(p, offset)
  }

  /** Seeks to the first record stamped at or after `timestamp` (the end if none is). */
  async seekToTimestamp(tp: TopicPartition, timestamp: number): Promise<void> {
    const p = this.ownedPartition(tp)
    const offset = (await p.log.offsetForTimestamp(timestamp)) ?? p.log.endOffset
    this.seekOwned(this.ownedPartition(tp), offset)
  }

  seekToBeginning(partitions: readonly TopicPartition[] = this.assignment()): void {
    for (const p of partitions.map((tp) => this.ownedPartition(tp))) this.seekOwned(p, p.log.startOffset)
  }

  seekToEnd(partitions: readonly TopicPartition[] = this.assignment()): void {
    for (const p of partitions.map((tp) => this.ownedPartition(tp))) this.seekOwned(p, p.log.endOffset)
  }

  /** Stops delivering these partitions (kept across rebalances) until `resume`; what was read ahead is dropped. */
  pause(partitions: readonly TopicPartition[]): void {
    for (const tp of partitions) {
      const key = tpKey(tp)
      this.pausedKeys.add(key)
      const p = this.owned.get(key)
      const dropped = this.buffer.drop(key)
      if (p !== undefined && dropped !== null) p.fetchOffset = Math.min(p.fetchOffset, dropped)
    }
    this.fetchWake.notify()
  }

  resume(partitions: readonly TopicPartition[]): void {
    for (const tp of partitions) this.pausedKeys.delete(tpKey(tp))
    this.fetchWake.notify()
    this.deliveryWake.notify()
  }

  paused(): TopicPartition[] {
    return [...this.pausedKeys].map(parseTpKey)
  }

  /** Per owned partition: how far this member's processed position is behind the end, in records, bytes and time. */
  async lag(): Promise<PartitionLag[]> {
    this.throwIfUnusable()
    const now = this.ctx.clock()
    return Promise.all(
      [...this.owned.values()].filter((p) => !p.revoking).map((p) => partitionLag(p.topic, p.partition, p.log, p.processedOffset, now)),
    )
  }

  // ---- end ---------------------------------------------------------------------------

  private fail(error: unknown): void {
    if (this.closed) return
    this.failure = error
    this.deliveryWake.notify()
    void this.close()
  }

  /**
   * Leaves the group cleanly: stops delivery, waits for the running handler (up to
   * `timeoutMs`, default 30 s), commits what was processed (with autoCommit), calls
   * onRevoked, and leaves, so the partitions move on at once — unless it is a static
   * member (`instanceId`), whose partitions wait for it for its session timeout.
   */
  close(options: { timeoutMs?: number } = {}): Promise<void> {
    const timeoutMs = options.timeoutMs === undefined ? CONSUMER_CLOSE_TIMEOUT_MS : nonNegativeInteger('timeoutMs', options.timeoutMs)
    this.closing ??= (async () => {
      this.closed = true
      for (const timer of [this.heartbeatTimer, this.commitTimer]) if (timer !== null) clearInterval(timer)
      this.sync.cancelLater()
      this.backgroundCommit.cancelLater()
      this.deliveryWake.notify()
      this.fetchWake.notify()
      const parts = [...this.owned.values()]
      await settleWithin(Promise.all([...parts.map((p) => p.inFlight), this.sync.running, this.backgroundCommit.running]), timeoutMs)
      this.giveUp?.()
      this.markPolled()
      const memberId = this.memberIdValue
      if (this.options.autoCommit && memberId !== null) await this.commitParts([...this.owned.values()]).catch((error: unknown) => this.warnCommit(error))
      await this.callListener('onRevoked', this.assignment())
      for (const p of [...this.owned.values()]) this.disown(p)
      this.unregister()
      this.memberIdValue = null
      // A static member does not leave (as Kafka's group.instance.id): a restart within its
      // session timeout takes its partitions back with no rebalance.
      if (memberId !== null && this.options.instanceId === undefined) {
        await (await this.ctx.hub.coordinator()).leave({ group: this.options.group, memberId }).catch(() => undefined)
      }
      this.ctx.onClosed(this)
    })()
    return this.closing
  }
}
