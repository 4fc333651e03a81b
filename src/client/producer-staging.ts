import type { TopicBatches } from './producer-batch.js'

/** Records a staging holds room for at first; it doubles as sendBatch calls need. */
const INITIAL_STAGING_RECORDS = 1024

/**
 * Where sendBatch keeps what it found of each record (its partition, framed size,
 * whether it was keyless) between checking them all and placing them: flat typed
 * arrays, reused from call to call, so a record costs no object here. Records of one
 * topic (the usual call) keep no topic each; `targets` is filled only once a second
 * topic appears.
 */
export class Staging {
  partitions = new Int32Array(INITIAL_STAGING_RECORDS)
  /** Framed sizes: below the largest batch (16 MiB), so they fit an int32. */
  sizes = new Int32Array(INITIAL_STAGING_RECORDS)
  keyless = new Uint8Array(INITIAL_STAGING_RECORDS)
  /** Per record, its topic; null while every record so far went to `first`. */
  targets: TopicBatches[] | null = null
  first: TopicBatches | null = null
  /** Whether the records staged so far all go to one topic and partition. */
  onePartition = true
  bytes = 0
  anyKeyless = false
  /** A call is using it (a getter of a record may call sendBatch again: that call gets its own). */
  inUse = false

  /** Readies it for a call of `count` records. */
  begin(count: number): void {
    if (this.partitions.length < count) {
      const size = Math.max(count, this.partitions.length * 2)
      this.partitions = new Int32Array(size)
      this.sizes = new Int32Array(size)
      this.keyless = new Uint8Array(size)
    }
    this.targets = null
    this.first = null
    this.onePartition = true
    this.bytes = 0
    this.anyKeyless = false
    this.inUse = true
  }

  stage(index: number, target: TopicBatches, partition: number, bytes: number, keyless: boolean): void {
    const first = (this.first ??= target)
    if (target !== first && this.targets === null) this.targets = new Array<TopicBatches>(index).fill(first)
    this.targets?.push(target)
    this.partitions[index] = partition
    if (this.onePartition && (target !== first || partition !== this.partitions[0])) this.onePartition = false
    this.sizes[index] = bytes
    this.keyless[index] = keyless ? 1 : 0
    this.bytes += bytes
    if (keyless) this.anyKeyless = true
  }

  targetOf(index: number): TopicBatches {
    return this.targets === null ? this.first! : this.targets[index]!
  }

  /** The call is done with it: it lets go of the topics. */
  end(): void {
    this.targets = null
    this.first = null
    this.inUse = false
  }
}
