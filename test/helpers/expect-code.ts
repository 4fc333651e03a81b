import { expect } from 'vitest'
import { type SpoolError, type SpoolErrorCode, isSpoolError } from '../../src/errors.js'

/** Awaits `promise` and checks that it failed with a SpoolError of `code`; returns the error. */
export async function expectCode(promise: Promise<unknown>, code: SpoolErrorCode): Promise<SpoolError> {
  try {
    await promise
  } catch (error) {
    expect(isSpoolError(error), String(error)).toBe(true)
    expect((error as { code: string }).code).toBe(code)
    return error as SpoolError
  }
  throw new Error(`expected ${code}, but it succeeded`)
}
