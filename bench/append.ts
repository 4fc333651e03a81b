/**
 * W1 append: the dataset's batches appended one `append` call at a time, each awaited
 * before the next, beside the physical limit: `fs.writeSync` of the very bytes spool
 * writes (each batch as spool encodes it, one chunk per batch), without and with an
 * `fdatasync` after each chunk. Only the appends and the writes are timed.
 */
import fs from 'node:fs'
import path from 'node:path'
import { PartitionLog } from '../src/storage/partition-log.js'
import type { Logger } from '../src/storage/logger.js'
import type { Dataset } from './lib/dataset.js'
import { segmentLogFiles, totalBytes } from './lib/log-files.js'
import { type Target, type WorkloadResult, workloadResult } from './lib/result.js'
import { freshDir, removeDir } from './lib/temp-dir.js'
import { pairedRuns, timed } from './lib/timing.js'

export type AppendFlush = 'never' | 'always'

export interface AppendOptions {
  runs: number
  logger: Logger
  /** Keep the warm-up run's spool directory (for W2 to replay); the caller removes it. */
  keepWarmupDir: boolean
}

export interface AppendOutcome {
  result: WorkloadResult
  /** The kept warm-up directory, or null. */
  dir: string | null
}

function targetFor(valueBytes: number, flush: AppendFlush): Target | null {
  if (flush === 'always') return { text: '≥ 70% of raw write+fdatasync', met: (r) => r.ratio.median >= 0.7 }
  if (valueBytes === 100) return { text: '≥ 3,000,000 records/s', met: (r) => r.spool.recordsPerSec.median >= 3_000_000 }
  if (valueBytes === 1024) return { text: '≥ 70% of raw write', met: (r) => r.ratio.median >= 0.7 }
  return null
}

/** Appends every batch in sequence; returns the seconds the appends took. */
export async function spoolAppend(dir: string, data: Dataset, flush: AppendFlush, logger: Logger): Promise<number> {
  const log = await PartitionLog.open(dir, { flush, logger })
  let lastOffset = -1
  try {
    const seconds = await timed(async () => {
      for (const batch of data.batches) lastOffset = (await log.append(batch)).lastOffset
    })
    if (lastOffset !== data.records - 1) throw new Error(`spool appended up to offset ${lastOffset}, expected ${data.records - 1}`)
    return seconds
  } finally {
    await log.close()
  }
}

function writeAll(fd: number, chunk: Buffer): void {
  for (let done = 0; done < chunk.length; ) done += fs.writeSync(fd, chunk, done, chunk.length - done)
}

/** Writes the encoded batches to one file, one chunk per batch; returns the seconds taken. */
export function rawWrite(file: string, data: Dataset, flush: AppendFlush): Promise<number> {
  return rawWriteChunks(file, data.encoded, flush)
}

/** Writes `chunks` to one file in order (and fdatasyncs after each under 'always'); returns the seconds taken. */
export async function rawWriteChunks(file: string, chunks: readonly Buffer[], flush: AppendFlush): Promise<number> {
  const fd = fs.openSync(file, 'w')
  try {
    return await timed(() => {
      for (const chunk of chunks) {
        writeAll(fd, chunk)
        if (flush === 'always') fs.fdatasyncSync(fd)
      }
    })
  } finally {
    fs.closeSync(fd)
  }
}

export async function appendWorkload(data: Dataset, flush: AppendFlush, options: AppendOptions): Promise<AppendOutcome> {
  const id = `W1.append.${data.valueBytes}B.${flush}`
  let kept: string | null = null
  const samples = await pairedRuns({
    runs: options.runs,
    label: id,
    spool: async ({ warmup }) => {
      const dir = freshDir(`w1-spool-${data.valueBytes}-${flush}`)
      const seconds = await spoolAppend(dir, data, flush, options.logger)
      const written = totalBytes(segmentLogFiles(dir))
      if (written !== data.bytes) throw new Error(`spool's .log files hold ${written} bytes, but the batches encode to ${data.bytes}`)
      // Measured runs leave nothing behind, so the next run reuses the same page-cache pages.
      if (warmup && options.keepWarmupDir) kept = dir
      else removeDir(dir)
      return seconds
    },
    raw: async () => {
      const dir = freshDir(`w1-raw-${data.valueBytes}-${flush}`)
      try {
        return await rawWrite(path.join(dir, 'raw.log'), data, flush)
      } finally {
        removeDir(dir)
      }
    },
  })
  const result = workloadResult(
    {
      id,
      workload: 'W1',
      title: `W1 append ${data.valueBytes} B, flush '${flush}'`,
      valueBytes: data.valueBytes,
      records: data.records,
      bytes: data.bytes,
    },
    {
      spool: `PartitionLog.append, ${data.batchRecords} records a call, awaited in sequence, flush '${flush}'`,
      raw: flush === 'always' ? 'fs.writeSync + fs.fdatasyncSync per batch-sized chunk' : 'fs.writeSync per batch-sized chunk',
    },
    samples,
    targetFor(data.valueBytes, flush),
  )
  return { result, dir: kept }
}
