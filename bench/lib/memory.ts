/**
 * What one workload's process held at its peak. Each workload runs in a fresh process of
 * its own (lib/fork.ts), so neither figure carries an earlier workload's heap:
 * - peak RSS: the OS's high-water mark of the whole process's resident set (the runtime,
 *   the dataset, spool, its raw twin); it cannot be reset, so setup counts too.
 * - arrayBuffers (Buffers): sampled from the first measured run on, so that the garbage
 *   of building the dataset (a 16 MiB random pool) does not hide the workload's own
 *   peak; the figure at that start (the live dataset, after a full GC) is kept beside it.
 */
export interface MemoryPeak {
  /** process.resourceUsage().maxRSS of the process, in bytes. */
  maxRssBytes: number
  /** The largest process.memoryUsage().arrayBuffers sampled from the first measured run on, in bytes. */
  peakArrayBuffersBytes: number
  /** arrayBuffers as the first measured run started (after a full GC): what setup left live, the dataset mostly. */
  startArrayBuffersBytes: number
}

/**
 * How often arrayBuffers is sampled. A sample costs ~8 µs (memoryUsage reads the RSS
 * too), so 10 ms keeps it under 0.1% of the time and out of W3's p99; a buffer that
 * lives shorter than that between samples may be missed, which the end sample bounds.
 */
export const MEMORY_SAMPLE_MS = 10

let peak = 0
let start: number | null = null

function sample(): void {
  peak = Math.max(peak, process.memoryUsage().arrayBuffers)
}

/**
 * Called after the full GC before each measured section (lib/gc.ts): the first call
 * restarts the arrayBuffers peak there, after setup's garbage is gone.
 */
export function measuredRunStarts(): void {
  if (start !== null) return
  start = process.memoryUsage().arrayBuffers
  peak = start
}

/** Starts sampling; the returned function stops it and returns the peaks. */
export function sampleMemory(): () => MemoryPeak {
  sample()
  // Unref'd: the sampler never keeps a finished workload's process alive.
  const timer = setInterval(sample, MEMORY_SAMPLE_MS).unref()
  return () => {
    clearInterval(timer)
    sample()
    // maxRSS is in kilobytes (getrusage's ru_maxrss on Linux).
    return { maxRssBytes: process.resourceUsage().maxRSS * 1024, peakArrayBuffersBytes: peak, startArrayBuffersBytes: start ?? 0 }
  }
}
