import { fileURLToPath } from 'node:url'
import { defineConfig } from 'vitest/config'
import { SAFETY_TIMEOUT_MS } from './helpers/safety-timeout.js'

export default defineConfig({
  // The config lives in test/ (the repository's top level holds only what a user needs); tests run from the root.
  root: fileURLToPath(new URL('..', import.meta.url)),
  test: {
    // A guard against hangs, not a speed check (see test/helpers/safety-timeout.ts).
    testTimeout: SAFETY_TIMEOUT_MS,
    hookTimeout: SAFETY_TIMEOUT_MS,
  },
})
