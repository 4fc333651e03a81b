import type { Consumer } from '../../src/client/consumer.js'
import type { ConsumedRecord } from '../../src/client/reader.js'
import type { Producer } from '../../src/client/producer.js'
import { CHILD_SAFETY_TIMEOUT_MS } from './safety-timeout.js'

/** What each member of a test processed, as "partition:offset" in processing order. */
export class Processed {
  readonly byMember: string[][] = []
  private readonly waiters: { count: number; resolve: () => void }[] = []
  private total = 0

  record(member: number, record: ConsumedRecord): void {
    ;(this.byMember[member] ??= []).push(`${record.partition}:${record.offset}`)
    this.total++
    for (const waiter of this.waiters.filter((w) => this.total >= w.count)) {
      this.waiters.splice(this.waiters.indexOf(waiter), 1)
      waiter.resolve()
    }
  }

  get count(): number {
    return this.total
  }

  /** Resolves once `count` records were processed in all (by every member together). */
  reach(count: number): Promise<void> {
    if (this.total >= count) return Promise.resolve()
    return new Promise((resolve) => this.waiters.push({ count, resolve }))
  }

  all(): string[] {
    return this.byMember.flat()
  }
}

/** Runs each consumer with an eachRecord that logs into `processed` under its index. */
export function runAll(consumers: readonly Consumer[], processed: Processed): Promise<void>[] {
  return consumers.map((consumer, member) => consumer.run({ eachRecord: (record) => processed.record(member, record) }))
}

/** Sends `count` keyed records to `topic` (keys spread them over the partitions); resolves when all are acknowledged. */
export async function produce(producer: Producer, topic: string, count: number, from = 0): Promise<void> {
  const sends: Promise<unknown>[] = []
  for (let i = from; i < from + count; i++) sends.push(producer.send({ topic, key: `key-${i % 997}`, value: `value-${i}` }))
  await Promise.all(sends)
}

/** Every "partition:offset" of a topic whose partitions end at these offsets (starting at 0). */
export function everyRecord(endOffsets: readonly number[]): string[] {
  return endOffsets.flatMap((end, partition) => Array.from({ length: end }, (_, offset) => `${partition}:${offset}`))
}

/** Polls `check` every few ms until it holds (or fails after `ms`, naming `what`: a guard against hangs, not a speed check). */
export async function eventually(check: () => boolean, what = 'the condition', ms = CHILD_SAFETY_TIMEOUT_MS): Promise<void> {
  const deadline = Date.now() + ms
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 5))
  }
}
