import { expect } from 'vitest'
import { isSpoolError } from '../../src/errors.js'

/** Awaits `promise` and checks that it failed with a SpoolError of `code`; returns the error. */
export async function expectCode(promise: Promise<unknown>, code: string): Promise<Error & { details: Record<string, unknown> }> {
  try {
    await promise
  } catch (error) {
    expect(isSpoolError(error), String(error)).toBe(true)
    expect((error as { code: string }).code).toBe(code)
    return error as Error & { details: Record<string, unknown> }
  }
  throw new Error(`expected ${code}, but it succeeded`)
}
