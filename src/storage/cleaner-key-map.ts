import { createHash } from 'node:crypto'

/**
 * The cleaner's key → latest offset map (Kafka's SkimpyOffsetMap): fixed-size entries in
 * two preallocated arrays, so its memory is known before a clean starts and never grows.
 * A key is stored as a fingerprint, never as itself.
 *
 * The fingerprint is the first 16 bytes of the key's SHA-256. Two keys share one only by
 * a collision of 128 bits of a cryptographic hash (about n² / 2^129 for n keys: 10^-26
 * for the millions a map holds), which no producer can aim at (SHA-1 or MD5 could be).
 * Such a collision would make the older key's latest record look superseded; every other
 * doubt keeps the record (see KeyMap.verdict in cleaner.ts).
 */
const FINGERPRINT_BYTES = 16
/** A fingerprint and its latest offset (a float64: offsets are below 2^53). */
export const KEY_MAP_ENTRY_BYTES = FINGERPRINT_BYTES + 8
/**
 * Entries stop being added past this share of the slots (Kafka's dedupe buffer load
 * factor): linear probing stays short while most of the memory holds entries.
 */
const LOAD_FACTOR = 0.9
const EMPTY = -1

export class OffsetMap {
  private readonly fingerprints: Buffer
  private readonly offsets: Float64Array
  private readonly slots: number
  /** Entries it takes before it is full. */
  readonly capacity: number
  private entries = 0

  /**
   * A map for up to `keys` distinct keys within `maxBytes` of memory: the memory bound
   * wins, and a small dirty range gets a small map rather than the whole budget.
   */
  constructor(keys: number, maxBytes: number) {
    const slotsByMemory = Math.floor(maxBytes / KEY_MAP_ENTRY_BYTES)
    this.slots = Math.max(2, Math.min(slotsByMemory, Math.ceil(Math.max(keys, 1) / LOAD_FACTOR) + 1))
    this.capacity = Math.max(1, Math.floor(this.slots * LOAD_FACTOR))
    this.fingerprints = Buffer.alloc(this.slots * FINGERPRINT_BYTES)
    this.offsets = new Float64Array(this.slots).fill(EMPTY)
  }

  get size(): number {
    return this.entries
  }

  /** Records `offset` as the latest of `key`; false, changing nothing, when `key` is new and the map is full. */
  put(key: Buffer, offset: number): boolean {
    const fingerprint = fingerprintOf(key)
    const slot = this.slotOf(fingerprint)
    if (this.offsets[slot] === EMPTY) {
      if (this.entries >= this.capacity) return false
      fingerprint.copy(this.fingerprints, slot * FINGERPRINT_BYTES)
      this.entries++
    }
    this.offsets[slot] = offset
    return true
  }

  /** The latest offset recorded for `key`, or -1. */
  get(key: Buffer): number {
    return this.offsets[this.slotOf(fingerprintOf(key))]!
  }

  /** The slot holding `fingerprint`, or the empty one where it would go (linear probing; never full). */
  private slotOf(fingerprint: Buffer): number {
    let slot = fingerprint.readUInt32BE(0) % this.slots
    while (this.offsets[slot] !== EMPTY) {
      const at = slot * FINGERPRINT_BYTES
      if (fingerprint.compare(this.fingerprints, at, at + FINGERPRINT_BYTES) === 0) return slot
      slot = (slot + 1) % this.slots
    }
    return slot
  }
}

function fingerprintOf(key: Buffer): Buffer {
  return createHash('sha256').update(key).digest().subarray(0, FINGERPRINT_BYTES)
}
