/**
 * W7 open and close: what one short-lived command costs in a data directory as it grows —
 * `echo x | spool produce keep`: openSpool, one send to a 2-partition topic, close — when
 * another topic of the directory has 10 partitions, and when it has 1,000 (issue 13,
 * defect 11: 17-31 s, 9,216 fsyncs, before). The partitions the command does not write
 * must cost no write and no fsync, so the two should differ by reading, not by syncing.
 * The directory is built once, then closed cleanly; each run reopens it.
 */
import { pathToFileURL } from 'node:url'
import { openSpool } from '../src/client/spool.js'
import { type Logger, stderrLogger } from '../src/storage/logger.js'
import { formatInteger } from './lib/format.js'
import { type DurationResult, durationResult } from './lib/result.js'
import { freshDir, removeDir } from './lib/temp-dir.js'
import { repeatedTrials, timed } from './lib/timing.js'

export interface OpenCloseOptions {
  /** Partition counts of the idle topic, compared (the 10 and 1,000). */
  idlePartitions: readonly number[]
  runs: number
  logger: Logger
}

const IDLE = 'many'
const USED = 'keep'

async function build(dir: string, partitions: number, logger: Logger): Promise<void> {
  const spool = await openSpool({ dir, logger, cleanerIntervalMs: 0 })
  try {
    await spool.createTopic(IDLE, { partitions })
    await spool.createTopic(USED, { partitions: 2 })
    const producer = spool.producer()
    await Promise.all(Array.from({ length: partitions }, (_, partition) => producer.send({ topic: IDLE, partition, value: 'x' })))
  } finally {
    await spool.close()
  }
}

/** One command's life: open, one durable send, close. */
async function produceOne(dir: string, logger: Logger): Promise<number> {
  return timed(async () => {
    const spool = await openSpool({ dir, logger, cleanerIntervalMs: 0 })
    try {
      await spool.producer().send({ topic: USED, value: 'x' })
    } finally {
      await spool.close()
    }
  })
}

export async function openCloseWorkloads(options: OpenCloseOptions): Promise<DurationResult[]> {
  const results: DurationResult[] = []
  for (const partitions of options.idlePartitions) {
    const dir = freshDir('w7-open-close')
    try {
      await build(dir, partitions, options.logger)
      const { samples, warmup } = await repeatedTrials<number>({
        runs: options.runs,
        label: `W7.${partitions}`,
        describe: (seconds) => `${(seconds * 1000).toFixed(1)} ms`,
        run: () => produceOne(dir, options.logger),
      })
      const idle = formatInteger(partitions)
      results.push(
        durationResult(
          { id: `W7.open-close.${partitions}`, workload: 'W7', title: `W7 open, send 1, close; beside ${idle} idle partitions` },
          `openSpool + one send (flush 'always') to a 2-partition topic + close, in a data directory whose other topic has ${idle} partitions (closed cleanly, not written)`,
          samples,
          warmup,
          null,
        ),
      )
    } finally {
      removeDir(dir)
    }
  }
  return results
}

// `npx tsx bench/open-close.ts`: W7 alone.
if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const results = await openCloseWorkloads({ idlePartitions: [10, 1_000], runs: 3, logger: stderrLogger })
  for (const result of results) process.stdout.write(`${result.title}: median ${(result.spool.seconds.median * 1000).toFixed(1)} ms\n`)
}
