import type { Summary } from './stats.js'

const integer = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 })
const oneDecimal = new Intl.NumberFormat('en-US', { minimumFractionDigits: 1, maximumFractionDigits: 1 })

export const formatInteger = (n: number): string => integer.format(n)
export const formatMB = (n: number): string => oneDecimal.format(n)
/** Whole percents, but two significant digits below 10% (a ratio of 0.3% is not 0%). */
export const formatPercent = (n: number): string => (n >= 0.1 ? `${Math.round(n * 100)}%` : `${Number((n * 100).toPrecision(2))}%`)

/** `median (min–max)`. */
export function formatSummary(summary: Summary, format: (n: number) => string): string {
  return `${format(summary.median)} (${format(summary.min)}–${format(summary.max)})`
}

export function formatBytes(n: number): string {
  if (n >= 1024 * 1024 * 1024) return `${(n / 1024 ** 3).toFixed(2)} GiB`
  if (n >= 1024 * 1024) return `${(n / 1024 ** 2).toFixed(1)} MiB`
  if (n >= 1024) return `${(n / 1024).toFixed(1)} KiB`
  return `${n} B`
}
