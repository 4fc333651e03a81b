import type { TopicBatches } from './producer-batch.js'

/**
 * When a batch opened with lingerMs 0 is written: at the end of the current tick (a
 * microtask, after the synchronous code that may add to it) when its partition is idle,
 * else at setImmediate.
 *
 * At once saves a send the event loop's hop to setImmediate (push latency). But a send
 * written at once is settled within microtasks under flush 'never' (the write is
 * synchronous), so a loop of awaited sends written at once would never yield to I/O and
 * would starve everything else in the process (timers, sockets, consumers). Hence, per
 * partition, at most one batch is written at once per turn of the event loop (a turn
 * ends at the producer's next setImmediate callback); the next waits for setImmediate.
 * And a partition with a batch still being written (an fsync under 'always') gets its
 * next batch at setImmediate too: meanwhile more sends join it, one write for them all.
 *
 * A sendBatch that is a batch by itself is written at once whatever the turn (it has
 * nothing to wait for: producer.ts, sendBatchDirect); past its turn's one, its
 * acknowledgement waits for setImmediate instead, which keeps the same guarantee.
 */
export class WriteTurns {
  /** Counts the setImmediate callbacks that ended a turn in which something was written at once. */
  private turn = 0
  private turnEnding = false
  private readonly endTurn = (): void => {
    this.turn++
    this.turnEnding = false
  }

  /** Whether a batch of `partition` opened now may be written at once; if so, counts it against this turn. */
  writeAtOnce(owner: TopicBatches, partition: number): boolean {
    return (owner.writing[partition] ?? 0) === 0 && this.takeTurn(owner, partition)
  }

  /**
   * Whether `partition` has had nothing written at once in this turn; if so, counts one.
   * A sendBatch written at once when this says no is acknowledged at setImmediate instead.
   */
  takeTurn(owner: TopicBatches, partition: number): boolean {
    if (owner.writtenAtOnce[partition] === this.turn) return false
    owner.writtenAtOnce[partition] = this.turn
    if (!this.turnEnding) {
      this.turnEnding = true
      setImmediate(this.endTurn)
    }
    return true
  }
}
