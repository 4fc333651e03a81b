import type { OpenBatch, RecordMetadata } from './producer-batch.js'

/**
 * One sendBatch call: one promise for all its records, not one a record. Its records
 * are placed in batches as runs (consecutive records at consecutive indexes of one
 * batch: one run for a sendBatch to a single partition); once every batch holding some
 * settles, each record's offset is its batch's base offset plus its index there, and
 * the metadata is built then, in the call's order. The first batch that fails rejects
 * the call (as Promise.all over the records would).
 */
export class BatchSend {
  readonly promise: Promise<RecordMetadata[]>
  private resolve!: (metadata: RecordMetadata[]) => void
  private reject!: (error: unknown) => void
  /** Batches holding records of this call and not settled yet. */
  private pending = 0
  private settled = false
  /** Run k: records [runFirst[k], runFirst[k] + runCount[k]) of the call, from index runAt[k] of runBatch[k]. */
  private readonly runBatch: OpenBatch[] = []
  private readonly runFirst: number[] = []
  private readonly runAt: number[] = []
  private readonly runCount: number[] = []

  constructor(private readonly count: number) {
    this.promise = new Promise((resolve, reject) => {
      this.resolve = resolve
      this.reject = reject
    })
  }

  /** Records [first, first + count) of the call were placed from `at` in `batch`; records are placed in the call's order. */
  placed(first: number, batch: OpenBatch, at: number, count = 1): void {
    const last = this.runBatch.length - 1
    if (last >= 0 && this.runBatch[last] === batch && this.runAt[last]! + this.runCount[last]! === at) {
      this.runCount[last]! += count
      return
    }
    if (batch.join(this)) this.pending++
    this.runBatch.push(batch)
    this.runFirst.push(first)
    this.runAt.push(at)
    this.runCount.push(count)
  }

  batchSettled(): void {
    if (--this.pending > 0 || this.settled) return
    this.settled = true
    const metadata = new Array<RecordMetadata>(this.count)
    for (let k = 0; k < this.runBatch.length; k++) {
      const { topic, partition, baseOffset } = this.runBatch[k]!
      const first = this.runFirst[k]!
      const offset = baseOffset + this.runAt[k]! - first
      for (let i = first, end = first + this.runCount[k]!; i < end; i++) metadata[i] = { topic, partition, offset: offset + i }
    }
    this.resolve(metadata)
  }

  fail(error: unknown): void {
    if (this.settled) return
    this.settled = true
    this.reject(error)
  }
}
