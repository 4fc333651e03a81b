/**
 * P1 producer: the W1 data sent through `producer.send()`, 1,000 sends awaited together
 * at a time, beside the storage-level append of the same records (1,000 per `append`),
 * which is this workload's "raw" twin: the producer path should keep >= 80% of it.
 * P2 group commit: under flush 'always', N senders each awaiting their own sends in a
 * loop; throughput should grow with N because concurrent appends share one fsync.
 */
import type { ProducerOptions } from '../src/client/producer.js'
import { openSpool } from '../src/client/spool.js'
import type { Logger } from '../src/storage/logger.js'
import { type AppendFlush, spoolAppend } from './append.js'
import type { Dataset } from './lib/dataset.js'
import { type WorkloadResult, workloadResult } from './lib/result.js'
import { inFreshDir } from './lib/temp-dir.js'
import { pairedRuns, timed } from './lib/timing.js'

const TOPIC = 'bench'

/** P1's loop: `options` are the producer's (default: spool.producer()'s defaults). */
export async function producerSend(dir: string, data: Dataset, flush: AppendFlush, logger: Logger, options?: ProducerOptions): Promise<number> {
  const spool = await openSpool({ dir, logger })
  try {
    await spool.createTopic(TOPIC, { partitions: 1, flush })
    const producer = spool.producer(options)
    return await timed(async () => {
      for (const batch of data.batches) {
        await Promise.all(batch.map((record) => producer.send({ topic: TOPIC, key: record.key, value: record.value })))
      }
    })
  } finally {
    await spool.close()
  }
}

export async function producerWorkload(data: Dataset, flush: AppendFlush, runs: number, logger: Logger): Promise<WorkloadResult> {
  const id = `P1.producer.${data.valueBytes}B.${flush}`
  const samples = await pairedRuns({
    runs,
    label: id,
    spool: () => inFreshDir('p1-producer', (dir) => producerSend(dir, data, flush, logger)),
    raw: () => inFreshDir('p1-append', (dir) => spoolAppend(dir, data, flush, logger)),
  })
  return workloadResult(
    { id, workload: 'P1', title: `P1 producer.send ${data.valueBytes} B, flush '${flush}'`, valueBytes: data.valueBytes, records: data.records, bytes: data.bytes },
    {
      spool: `producer.send, ${data.batchRecords} awaited together at a time, flush '${flush}'`,
      raw: `PartitionLog.append of the same records, ${data.batchRecords} a call (the storage-level path)`,
    },
    samples,
    { text: '≥ 80% of the storage-level append', met: (r) => r.ratio.median >= 0.8 },
  )
}

/** `senders` loops, each sending `perSender` records one at a time: seconds taken. */
async function concurrentSenders(dir: string, data: Dataset, senders: number, perSender: number, logger: Logger): Promise<number> {
  const spool = await openSpool({ dir, logger })
  try {
    await spool.createTopic(TOPIC, { partitions: 1, flush: 'always' })
    const producer = spool.producer()
    const records = data.batches.flat()
    return await timed(() =>
      Promise.all(
        Array.from({ length: senders }, async (_, s) => {
          for (let i = 0; i < perSender; i++) {
            const record = records[(s * perSender + i) % records.length]!
            await producer.send({ topic: TOPIC, key: record.key, value: record.value })
          }
        }),
      ),
    )
  } finally {
    await spool.close()
  }
}

export const SENDER_COUNTS = [1, 10, 100, 1000] as const

/**
 * P2: throughput against the number of concurrent senders under flush 'always'. Paired
 * with a single sender doing the same number of sends, so the ratio is the speed-up that
 * group commit buys.
 */
export async function groupCommitWorkloads(data: Dataset, sendsPerSender: number, runs: number, logger: Logger): Promise<WorkloadResult[]> {
  const results: WorkloadResult[] = []
  for (const senders of SENDER_COUNTS) {
    const total = senders * sendsPerSender
    const id = `P2.group-commit.${senders}`
    const samples = await pairedRuns({
      runs,
      label: id,
      spool: () => inFreshDir('p2-many', (dir) => concurrentSenders(dir, data, senders, sendsPerSender, logger)),
      raw: () => inFreshDir('p2-one', (dir) => concurrentSenders(dir, data, 1, sendsPerSender, logger)),
    })
    // The single sender did only `sendsPerSender` sends: scale its time to `total` sends.
    const scaled = { ...samples, raw: samples.raw.map((s) => s * senders), warmup: { ...samples.warmup, raw: samples.warmup.raw * senders } }
    results.push(
      workloadResult(
        {
          id,
          workload: 'P2',
          title: `P2 ${senders} concurrent sender(s), flush 'always'`,
          valueBytes: data.valueBytes,
          records: total,
          // about: each send here is its own batch or shares one, so the framing differs from W1's
          bytes: Math.round((total * data.bytes) / data.records),
        },
        { spool: `${senders} senders, each awaiting every send`, raw: '1 sender awaiting every send (its rate)' },
        scaled,
        senders === 1 ? null : { text: 'grows with concurrency (> 1× one sender)', met: (r) => r.ratio.median > 1 },
      ),
    )
  }
  return results
}
