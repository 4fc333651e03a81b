/**
 * W2 through the public API: `for await (const r of spool.read(topic, { partition: 0 }))`
 * from the first offset to the end, adding up `r.value.length` (an application touches
 * the value; the peers' clients hand over values too), with read()'s defaults. It reads
 * the partition that W1's sendBatch warm-up wrote and kept, in a process of its own, so
 * the warm-up pass (the first `spool.read` this process ever runs) is the cold figure.
 * Beside it, sequential fs.readSync of the same .log files; both from the page cache.
 */
import { openSpool } from '../src/client/spool.js'
import type { Logger } from '../src/storage/logger.js'
import { partitionDir } from '../src/topics/catalog.js'
import { rawReadPass, readFiles, segmentLogFiles, totalBytes } from './lib/log-files.js'
import { type WorkloadResult, workloadResult } from './lib/result.js'
import { pairedRuns, timed } from './lib/timing.js'

export interface PublicReadOptions {
  /** A spool data directory holding `topic`, partition 0. */
  dir: string
  topic: string
  /** Records the partition holds, and the size of each value. */
  records: number
  valueBytes: number
  runs: number
  /** The raw side's chunk size. */
  readBytes: number
  logger: Logger
}

/** One pass of the application's loop; returns the seconds the loop took. */
async function readAll(options: PublicReadOptions): Promise<number> {
  const spool = await openSpool({ dir: options.dir, logger: options.logger })
  try {
    let count = 0
    let valueBytes = 0
    const seconds = await timed(async () => {
      for await (const record of spool.read(options.topic, { partition: 0 })) {
        count++
        valueBytes += record.value?.length ?? 0
      }
    })
    if (count !== options.records) throw new Error(`spool.read gave ${count} records, expected ${options.records}`)
    if (valueBytes !== options.records * options.valueBytes) throw new Error(`spool.read gave ${valueBytes} bytes of values, expected ${options.records * options.valueBytes}`)
    return seconds
  } finally {
    await spool.close()
  }
}

export async function publicReadWorkload(options: PublicReadOptions): Promise<WorkloadResult> {
  const id = `W2.read.${options.valueBytes}B`
  const files = segmentLogFiles(partitionDir(options.dir, options.topic, 0))
  const bytes = totalBytes(files)
  const buffer = Buffer.allocUnsafe(options.readBytes)
  const samples = await pairedRuns({
    runs: options.runs,
    label: id,
    beforePair: () => readFiles(files, buffer),
    spool: () => readAll(options),
    raw: () => rawReadPass(files, buffer, bytes),
  })
  return workloadResult(
    { id, workload: 'W2', title: `W2 spool.read ${options.valueBytes} B`, valueBytes: options.valueBytes, records: options.records, bytes },
    {
      spool: 'for await (const r of spool.read(topic, { partition: 0 })) from the first offset, adding up r.value.length; read() defaults',
      raw: `fs.readSync of the same .log files in ${options.readBytes}-byte chunks`,
    },
    samples,
    null,
  )
}
