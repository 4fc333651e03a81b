/**
 * How long a test or hook may run before vitest gives up on it (vitest.config.ts makes it
 * the default of every test and hook): a guard against hangs, never a speed check. A
 * test must pass on a loaded CI runner as on an idle laptop, so no test sets a shorter
 * limit of its own: vitest's 5 s default, and the 20 s to 180 s that long tests used to
 * set, failed tests that were merely slow (`bash scripts/test-under-load.sh` finds them).
 */
export const SAFETY_TIMEOUT_MS = 600_000

/**
 * The limit for a child process a test waits on (spawnSync's or execFile's `timeout`):
 * half the test's, so that a hung child is killed, and what it printed reported, before
 * vitest gives up on the test.
 */
export const CHILD_SAFETY_TIMEOUT_MS = SAFETY_TIMEOUT_MS / 2
