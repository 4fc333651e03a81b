import { prng } from '../../../scripts/lib/prng.js'

/**
 * The fuzz's one source of randomness: every choice of a run comes from here, so that a
 * seed replays the run exactly (scripts/lib/prng.ts, mulberry32).
 */
export class Random {
  private readonly next: () => number

  constructor(readonly seed: number) {
    this.next = prng(seed)
  }

  /** An integer in [0, n). */
  int(n: number): number {
    return Math.floor((this.next() / 4294967296) * n)
  }

  /** An integer in [min, max]. */
  between(min: number, max: number): number {
    return min + this.int(max - min + 1)
  }

  /** True with probability p. */
  chance(p: number): boolean {
    return this.next() / 4294967296 < p
  }

  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new Error('pick from nothing')
    return items[this.int(items.length)]!
  }

  /** Picks by weight: [[weight, value], …]. */
  weighted<T>(choices: ReadonlyArray<readonly [number, T]>): T {
    const total = choices.reduce((sum, [weight]) => sum + weight, 0)
    let at = this.int(total)
    for (const [weight, value] of choices) {
      if (at < weight) return value
      at -= weight
    }
    return choices[choices.length - 1]![1]
  }

  bytes(length: number): Buffer {
    const out = Buffer.allocUnsafe(length)
    for (let i = 0; i < length; i++) out[i] = this.int(256)
    return out
  }

  /** A child generator: its own stream, fixed by this one's state (connections generate independently of each other's timing). */
  fork(): Random {
    return new Random(this.int(2 ** 32))
  }
}
