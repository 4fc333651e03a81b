/**
 * Which partition a record goes to. With a key: Kafka's default partitioner — murmur2 of
 * the key bytes, made positive, modulo the partition count — so a key lands on the same
 * partition number as it would with a Kafka producer. Without a key: sticky, one
 * partition per batch, moving round-robin to the next when a batch is sent.
 */

const MURMUR2_SEED = 0x9747b28c
const MURMUR2_M = 0x5bd1e995
const MURMUR2_R = 24

/** Kafka's `Utils.murmur2`: a signed 32-bit hash of the bytes. */
export function murmur2(data: Uint8Array): number {
  const length = data.length
  let h = MURMUR2_SEED ^ length
  const whole = length & ~3
  for (let i = 0; i < whole; i += 4) {
    let k = data[i]! | (data[i + 1]! << 8) | (data[i + 2]! << 16) | (data[i + 3]! << 24)
    k = Math.imul(k, MURMUR2_M)
    k ^= k >>> MURMUR2_R
    k = Math.imul(k, MURMUR2_M)
    h = Math.imul(h, MURMUR2_M) ^ k
  }
  const rest = length & 3
  if (rest === 3) h ^= data[whole + 2]! << 16
  if (rest >= 2) h ^= data[whole + 1]! << 8
  if (rest >= 1) {
    h ^= data[whole]!
    h = Math.imul(h, MURMUR2_M)
  }
  h ^= h >>> 13
  h = Math.imul(h, MURMUR2_M)
  h ^= h >>> 15
  return h | 0
}

/** Kafka's `Utils.toPositive`: clears the sign bit (not Math.abs, which differs). */
export function toPositive(n: number): number {
  return n & 0x7fffffff
}

export function partitionForKey(key: Uint8Array, partitions: number): number {
  return toPositive(murmur2(key)) % partitions
}

/** Keyless records: one partition per batch, then the next one. */
export class StickyPartitioner {
  private current = -1

  /** The partition the open batch sticks to. */
  partition(partitions: number): number {
    if (this.current < 0 || this.current >= partitions) this.current = Math.floor(Math.random() * partitions)
    return this.current
  }

  /** A batch was sent: the next keyless record starts a batch on the next partition. */
  batchSent(partitions: number): void {
    this.current = (Math.max(this.current, 0) + 1) % partitions
  }
}
