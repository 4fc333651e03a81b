/**
 * W6 open: a data directory whose one topic holds 10,000 segments across its partitions,
 * reopened. Contract 4 has sealed segments' indexes loaded lazily, so the open must stay
 * within 1 s however many segments there are. Timed: openSpool, each partition's end
 * offset and its newest record read back (reopen.ts) — once after a clean close, and once
 * without the clean-shutdown markers, as after a SIGKILL that came right after the last
 * recovery checkpoint (recovery then starts at the recovery point, in the active segment).
 *
 * The directory is built once through the producer: one batch a segment, the topic's
 * segmentBytes set to one batch's size so that every append rolls.
 */
import fs from 'node:fs'
import path from 'node:path'
import { pathToFileURL } from 'node:url'
import { openSpool } from '../src/client/spool.js'
import type { RecordInput } from '../src/record/types.js'
import { type Logger, stderrLogger } from '../src/storage/logger.js'
import { CLEAN_SHUTDOWN_FILE } from '../src/storage/paths.js'
import { partitionDir } from '../src/topics/catalog.js'
import { type Dataset, makeDataset } from './lib/dataset.js'
import { formatInteger } from './lib/format.js'
import { type ReopenTimes, type Reopened, formatReopenTimes, reopenAndReadNewest } from './lib/reopen.js'
import { type DurationResult, type Target, durationResult } from './lib/result.js'
import { freshDir, removeDir } from './lib/temp-dir.js'
import { repeatedTrials, timed } from './lib/timing.js'

export interface OpenOptions {
  /** Segments of the topic, all partitions together. */
  segments: number
  partitions: number
  /** Records of each segment (one batch). */
  recordsPerSegment: number
  keyBytes: number
  valueBytes: number
  seed: number
  runs: number
  logger: Logger
}

interface OpenSample {
  clean: ReopenTimes
  unclean: ReopenTimes
}

const TOPIC = 'open'
/** The target of issue 6, for both opens. */
const TARGET_SECONDS = 1

/** Partition p's segments are written by its own sequential loop; the partitions go on side by side. */
async function build(dir: string, data: Dataset, segmentsPerPartition: number, options: OpenOptions): Promise<void> {
  const spool = await openSpool({ dir, logger: options.logger })
  try {
    await spool.createTopic(TOPIC, { partitions: options.partitions, flush: 'never', segmentBytes: data.encoded[0]!.length })
    const producer = spool.producer()
    const batch = data.batches[0]!
    await Promise.all(
      Array.from({ length: options.partitions }, async (_, partition) => {
        const records = batch.map(({ key, value }) => ({ topic: TOPIC, partition, key, value }))
        for (let s = 0; s < segmentsPerPartition; s++) await producer.sendBatch(records)
      }),
    )
  } finally {
    await spool.close()
  }
}

/** Every partition has all its segments and records, and its newest record is the batch's last. */
function checkOpened(reopened: Reopened, segmentsPerPartition: number, batch: readonly RecordInput[]): void {
  const expected = batch[batch.length - 1]!
  for (const [p, { endOffset, segments, newest }] of reopened.partitions.entries()) {
    if (segments !== segmentsPerPartition) throw new Error(`W6: partition ${p} has ${segments} segments, expected ${segmentsPerPartition}`)
    if (endOffset !== segmentsPerPartition * batch.length) throw new Error(`W6: partition ${p} ends at ${endOffset}, expected ${segmentsPerPartition * batch.length}`)
    if (newest?.offset !== endOffset - 1 || !newest.key?.equals(expected.key!) || !newest.value?.equals(expected.value!)) {
      throw new Error(`W6: the newest record of partition ${p} did not read back as written`)
    }
  }
}

async function reopenOnce(dir: string, segmentsPerPartition: number, batch: readonly RecordInput[], logger: Logger): Promise<ReopenTimes> {
  const reopened = await reopenAndReadNewest(dir, TOPIC, logger)
  try {
    checkOpened(reopened, segmentsPerPartition, batch)
  } finally {
    await reopened.spool.close()
  }
  return reopened.times
}

/** What a SIGKILL right after a checkpoint leaves: the recovery points, but no clean-shutdown markers. */
function removeCleanShutdownMarkers(dir: string, partitions: number): void {
  for (let p = 0; p < partitions; p++) fs.rmSync(path.join(partitionDir(dir, TOPIC, p), CLEAN_SHUTDOWN_FILE))
}

export async function openWorkloads(options: OpenOptions): Promise<DurationResult[]> {
  const { partitions, recordsPerSegment, keyBytes, valueBytes, seed } = options
  if (options.segments % partitions !== 0) throw new Error(`W6: ${options.segments} segments do not split evenly over ${partitions} partitions`)
  const segmentsPerPartition = options.segments / partitions
  const data = makeDataset({ records: recordsPerSegment, batchRecords: recordsPerSegment, keyBytes, valueBytes, seed })
  const batch = data.batches[0]!
  const dir = freshDir('w6-open')
  try {
    const buildSeconds = await timed(() => build(dir, data, segmentsPerPartition, options))
    process.stderr.write(`W6: built ${formatInteger(options.segments)} segments in ${partitions} partitions in ${buildSeconds.toFixed(1)} s\n`)
    const { samples, warmup } = await repeatedTrials<OpenSample>({
      runs: options.runs,
      label: 'W6.open',
      describe: (s) => `clean ${formatReopenTimes(s.clean)}, unclean ${formatReopenTimes(s.unclean)}`,
      run: async () => {
        const clean = await reopenOnce(dir, segmentsPerPartition, batch, options.logger)
        removeCleanShutdownMarkers(dir, partitions)
        return { clean, unclean: await reopenOnce(dir, segmentsPerPartition, batch, options.logger) }
      },
    })
    const what =
      `${formatInteger(options.segments)} segments (${partitions} partitions × ${formatInteger(segmentsPerPartition)}, one ${data.bytes}-byte batch of ${recordsPerSegment} records each; ` +
      `built through the producer in ${buildSeconds.toFixed(1)} s)`
    const timedPart = 'openSpool + describeTopic (end offsets) + read of each partition’s newest record'
    const target: Target<DurationResult> = { text: `≤ ${TARGET_SECONDS} s`, met: (r) => r.spool.seconds.median <= TARGET_SECONDS }
    const count = formatInteger(options.segments)
    return [
      durationResult(
        { id: 'W6.open.clean', workload: 'W6', title: `W6 open ${count} segments, after a clean close` },
        `${timedPart} of ${what}, closed cleanly`,
        samples.map((s) => s.clean.total),
        warmup.clean.total,
        target,
      ),
      durationResult(
        { id: 'W6.open.unclean', workload: 'W6', title: `W6 open ${count} segments, no clean-shutdown marker` },
        `${timedPart} of ${what}, with every clean-shutdown marker removed (a SIGKILL just after a checkpoint): recovery from the recovery point`,
        samples.map((s) => s.unclean.total),
        warmup.unclean.total,
        target,
      ),
    ]
  } finally {
    removeDir(dir)
  }
}

// `node --cpu-prof --import tsx bench/open.ts [segments]`: W6 alone, for profiling.
if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const segments = Number(process.argv[2] ?? 10_000)
  const results = await openWorkloads({ segments, partitions: 10, recordsPerSegment: 10, keyBytes: 16, valueBytes: 100, seed: 0x5eed, runs: 3, logger: stderrLogger })
  process.stdout.write(`${JSON.stringify(results, null, 2)}\n`)
}
