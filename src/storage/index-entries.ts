/**
 * An in-memory sparse index: pairs (key, value) sorted by key, appended in order, found
 * by binary search. The offset index keys by offset and the time index by timestamp.
 */
export class IndexEntries {
  private keys: Float64Array
  private values: Float64Array
  private count = 0

  constructor(initialCapacity = 16) {
    this.keys = new Float64Array(initialCapacity)
    this.values = new Float64Array(initialCapacity)
  }

  get length(): number {
    return this.count
  }

  keyAt(i: number): number {
    return this.keys[i]!
  }

  valueAt(i: number): number {
    return this.values[i]!
  }

  lastValue(): number {
    return this.count === 0 ? 0 : this.values[this.count - 1]!
  }

  lastKey(): number | undefined {
    return this.count === 0 ? undefined : this.keys[this.count - 1]
  }

  append(key: number, value: number): void {
    if (this.count === this.keys.length) {
      const keys = new Float64Array(this.count * 2)
      keys.set(this.keys)
      this.keys = keys
      const values = new Float64Array(this.count * 2)
      values.set(this.values)
      this.values = values
    }
    this.keys[this.count] = key
    this.values[this.count] = value
    this.count++
  }

  /** Index of the last entry whose key is ≤ `key` (or < `key` when `strict`); -1 if none. */
  floor(key: number, strict = false): number {
    let low = 0
    let high = this.count - 1
    let found = -1
    while (low <= high) {
      const mid = (low + high) >>> 1
      const k = this.keys[mid]!
      if (k < key || (!strict && k === key)) {
        found = mid
        low = mid + 1
      } else {
        high = mid - 1
      }
    }
    return found
  }

  /** Drops the entries from index `i` on. */
  truncate(i: number): void {
    if (i < this.count) this.count = Math.max(0, i)
  }

  /** Drops every entry whose value is ≥ `value` (values must be ascending). */
  truncateFromValue(value: number): void {
    let i = this.count
    while (i > 0 && this.values[i - 1]! >= value) i--
    this.count = i
  }
}
