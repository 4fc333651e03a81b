import type { PartitionLog } from '../storage/partition-log.js'
import type { Topics } from '../topics/topics.js'
import { TopicBatches } from './producer-batch.js'

/**
 * A producer's view of the spool's topics: each topic's batches (TopicBatches), looked up
 * as cheaply as a send allows, and the sends that wait for a topic's first open.
 */
export class ProducerTopics {
  private readonly byTopic = new Map<string, TopicBatches>()
  /** Per topic, the last send waiting for the topic's first open (see afterOpen). */
  private readonly opening = new Map<string, Promise<void>>()
  /** The topic the last call sent to: most calls send to the one before's. */
  private last: TopicBatches | null = null

  constructor(private readonly topics: Topics) {}

  /**
   * The topic the last call sent to, if `topic` is it and nothing changed since: the same
   * configuration object means the same topic, open (only an open topic is kept), with
   * the same partitions (a change or a new topic of the name brings a new one). One
   * look-up, where mustWaitFor and target would take three and an allocation. Null
   * otherwise, or while earlier sends to it wait for its open (they go first).
   */
  current(topic: unknown): TopicBatches | null {
    const last = this.last
    if (last === null || last.name !== topic || (this.opening.size > 0 && this.opening.has(last.name))) return null
    return this.topics.config(last.name) === last.config ? last : null
  }

  /**
   * Whether a send to `topic` must wait: its partitions are not open yet (a spool opens a
   * topic's partitions on first use), or earlier sends to it are still waiting — so that
   * per-partition order is the order of the calls even across the first open. A name
   * that is not a topic does not wait: preparing the send reports it. (One look-up of
   * the topic, not has() then isOpen().)
   */
  mustWaitFor(topic: unknown): topic is string {
    if (typeof topic !== 'string') return false
    if (this.opening.size > 0 && this.opening.has(topic)) return true
    try {
      return !this.topics.isOpen(topic)
    } catch {
      return false // no such topic, or a closed spool: reported when the send is prepared
    }
  }

  /** Runs `send` once `topics` are open and the sends queued before it for them are placed. */
  afterOpen<T>(topics: readonly string[], send: () => Promise<T>): Promise<T> {
    const ready = Promise.all(topics.map((topic) => this.opening.get(topic) ?? this.topics.ensureOpen(topic)))
    // The next send may go once this one is placed in its batch (send places it before it
    // returns), not once it is durable: sends made together still share a batch.
    let placed!: () => void
    const queued = new Promise<void>((resolve) => (placed = resolve))
    const sent = ready.then(
      () => {
        try {
          return send()
        } finally {
          placed()
        }
      },
      (error: unknown) => {
        placed()
        throw error
      },
    )
    for (const topic of topics) this.opening.set(topic, queued)
    void queued.then(() => {
      for (const topic of topics) if (this.opening.get(topic) === queued) this.opening.delete(topic)
    })
    return sent
  }

  /** Resolves once no send waits for a topic's open: each has been placed in a batch, or failed. */
  async allPlaced(): Promise<void> {
    while (this.opening.size > 0) await Promise.all(this.opening.values())
  }

  /** The topic, with its configuration and logs as they are now (UNKNOWN_TOPIC or INVALID_TOPIC_NAME otherwise; CLOSED once the spool is). */
  target(name: string): TopicBatches {
    const { config, logs } = this.topics.open(name)
    let target = this.last
    if (target === null || target.name !== name) target = this.byTopic.get(name) ?? null
    if (target === null) this.byTopic.set(name, (target = new TopicBatches(name)))
    this.last = target
    target.config = config
    target.logs = logs
    return target
  }

  /** The log of a partition of `target` (the spool's look-up, with its precise error, when the target has none). */
  log(target: TopicBatches, partition: number): PartitionLog {
    return target.logs[partition] ?? this.topics.log(target.name, partition)
  }

  /** Every topic this producer has sent to. */
  all(): IterableIterator<TopicBatches> {
    return this.byTopic.values()
  }
}
