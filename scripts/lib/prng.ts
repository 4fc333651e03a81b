/**
 * mulberry32: a small, fast, seeded 32-bit generator, so that benchmarks build the same
 * data every run and randomized tests can be replayed from their seed.
 */
export function prng(seed: number): () => number {
  let state = seed >>> 0
  return () => {
    state = (state + 0x6d2b79f5) >>> 0
    let t = state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return (t ^ (t >>> 14)) >>> 0
  }
}

/** The same sequence as fractions in [0, 1). */
export function randomFraction(seed: number): () => number {
  const next = prng(seed)
  return () => next() / 4294967296
}
