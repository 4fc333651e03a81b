import { invalidArgument } from '../errors.js'
import { MAX_TIMER_MS } from '../limits.js'

/**
 * When an append is durable (contract 1):
 * - 'always': after the fdatasync that covers it; concurrent appends share one (group commit);
 * - { intervalMs }: written at once, fsynced by a timer;
 * - 'never': written at once, flushed by the operating system.
 */
export type FlushPolicy = 'always' | 'never' | { intervalMs: number }

export function checkFlushPolicy(policy: unknown): FlushPolicy {
  if (policy === 'always' || policy === 'never') return policy
  if (typeof policy === 'object' && policy !== null && 'intervalMs' in policy) {
    const intervalMs = (policy as { intervalMs: unknown }).intervalMs
    if (typeof intervalMs === 'number' && Number.isInteger(intervalMs) && intervalMs > 0 && intervalMs <= MAX_TIMER_MS) return { intervalMs }
  }
  throw invalidArgument('flush', `must be 'always', 'never' or { intervalMs: <integer from 1 to ${MAX_TIMER_MS}> }`)
}
