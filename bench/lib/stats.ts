/** Median, min and max of a set of samples, rounded to 6 significant digits for stable JSON diffs. */
export interface Summary {
  median: number
  min: number
  max: number
}

export function round(value: number): number {
  return Number(value.toPrecision(6))
}

export function summarize(samples: readonly number[]): Summary {
  if (samples.length === 0) throw new Error('summarize: no samples')
  const sorted = [...samples].sort((a, b) => a - b)
  const middle = sorted.length >> 1
  const median = sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2
  return { median: round(median), min: round(sorted[0]!), max: round(sorted[sorted.length - 1]!) }
}

/** The nearest-rank `q`-quantile (0 < q <= 1) of samples sorted in ascending order. */
export function quantile(sorted: ArrayLike<number>, q: number): number {
  if (sorted.length === 0) throw new Error('quantile: no samples')
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!
}
