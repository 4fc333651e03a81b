import { invalidArgument } from './errors.js'

/**
 * Argument checks shared by every layer. Each returns the value it checked and throws
 * INVALID_ARGUMENT naming the field otherwise.
 */
export function integerIn(field: string, value: unknown, min: number, max = Number.MAX_SAFE_INTEGER): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min || value > max) {
    throw invalidArgument(field, `must be an integer from ${min} to ${max}`)
  }
  return value
}

/** Offsets, partitions, counts of milliseconds: integers from 0. */
export function nonNegativeInteger(field: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw invalidArgument(field, 'must be a non-negative integer')
  }
  return value
}
