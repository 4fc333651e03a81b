/**
 * W1 through the public API: the dataset's batches sent with `producer.sendBatch`, 1,000
 * records a call, each awaited before the next (an application that writes what it has
 * and waits for the acknowledgement), to a one-partition topic with flush 'never' or
 * 'always'; beside fs.writeSync (+ fdatasync under 'always') of the same encoded batches,
 * as W1's storage-layer row (append.ts) has. The ProducerRecords are built before the
 * clock starts, as the storage row's batches are; openSpool, createTopic and close are
 * outside it.
 */
import path from 'node:path'
import type { RecordMetadata } from '../src/client/producer.js'
import { openSpool } from '../src/client/spool.js'
import type { Logger } from '../src/storage/logger.js'
import { partitionDir } from '../src/topics/catalog.js'
import { type AppendFlush, rawWrite } from './append.js'
import type { Dataset } from './lib/dataset.js'
import { segmentLogFiles, totalBytes } from './lib/log-files.js'
import { type WorkloadResult, workloadResult } from './lib/result.js'
import { freshDir, inFreshDir, removeDir } from './lib/temp-dir.js'
import { pairedRuns, timed } from './lib/timing.js'

/** The topic W1's public row writes, and W2's rows read back from the kept directory. */
export const SEND_BATCH_TOPIC = 'bench'

export interface SendBatchOptions {
  runs: number
  logger: Logger
  /** Keep the warm-up run's data directory (a spool with SEND_BATCH_TOPIC) for W2; the caller removes it. */
  keepWarmupDir: boolean
}

export interface SendBatchOutcome {
  result: WorkloadResult
  /** The kept data directory, or null. */
  dir: string | null
}

/** Sends every batch with sendBatch, one awaited after another; returns the seconds taken and the bytes of the partition's .log files. */
export async function sendBatches(dir: string, data: Dataset, flush: AppendFlush, logger: Logger): Promise<{ seconds: number; bytes: number }> {
  const spool = await openSpool({ dir, logger })
  try {
    await spool.createTopic(SEND_BATCH_TOPIC, { partitions: 1, flush })
    const producer = spool.producer()
    const calls = data.batches.map((batch) => batch.map((r) => ({ topic: SEND_BATCH_TOPIC, key: r.key, value: r.value })))
    let last: RecordMetadata[] = []
    const seconds = await timed(async () => {
      for (const records of calls) last = await producer.sendBatch(records)
    })
    const lastOffset = last[last.length - 1]?.offset
    if (lastOffset !== data.records - 1) throw new Error(`sendBatch stored up to offset ${String(lastOffset)}, expected ${data.records - 1}`)
    await producer.close()
    return { seconds, bytes: totalBytes(segmentLogFiles(partitionDir(dir, SEND_BATCH_TOPIC, 0))) }
  } finally {
    await spool.close()
  }
}

export async function sendBatchWorkload(data: Dataset, flush: AppendFlush, options: SendBatchOptions): Promise<SendBatchOutcome> {
  const id = `W1.sendBatch.${data.valueBytes}B.${flush}`
  // Set inside the side callbacks, which the type checker does not follow.
  let kept = null as string | null
  let bytes = 0
  const samples = await pairedRuns({
    runs: options.runs,
    label: id,
    spool: async ({ warmup }) => {
      const dir = freshDir(`w1-send-batch-${data.valueBytes}-${flush}`)
      try {
        const sent = await sendBatches(dir, data, flush, options.logger)
        bytes = sent.bytes
        return sent.seconds
      } finally {
        // Measured runs leave nothing behind, so the next run reuses the same page-cache pages.
        if (warmup && options.keepWarmupDir) kept = dir
        else removeDir(dir)
      }
    },
    raw: () => inFreshDir(`w1-send-batch-raw-${data.valueBytes}-${flush}`, (dir) => rawWrite(path.join(dir, 'raw.log'), data, flush)),
  })
  const result = workloadResult(
    {
      id,
      workload: 'W1',
      title: `W1 producer.sendBatch ${data.valueBytes} B, flush '${flush}'`,
      valueBytes: data.valueBytes,
      records: data.records,
      // What the producer's batches take on disk (it may cut a 1,000-record call into several batches).
      bytes,
    },
    {
      spool: `producer.sendBatch of ${data.batchRecords} records a call, awaited in sequence, default producer (idempotent), flush '${flush}'`,
      raw: flush === 'always' ? 'fs.writeSync + fs.fdatasyncSync per batch-sized chunk' : 'fs.writeSync per batch-sized chunk',
    },
    samples,
    null,
  )
  return { result, dir: kept }
}
