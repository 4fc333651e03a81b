/**
 * W5 recovery: reopen after a SIGKILL of a writer, on a small and a large log (1 and
 * 4 GiB in the full run). Contract 4 says recovery scans only from the last recovery
 * point, so the time must not grow with the log's size: the large log's recovery must
 * take at most 1.5× the small one's.
 *
 * A child (recovery-writer.ts) appends 1 KiB records with flush 'never' until the log
 * holds its size, then on until `tailBytes` lie past the recovery point on disk, and is
 * SIGKILLed while it goes on appending. Killing at the same tail for both sizes keeps
 * the work contract 4 allows equal, so what differs is only the size. The parent times
 * the reopen (reopen.ts), checks that nothing acknowledged is lost and the newest record
 * reads back, and closes. Each log is built once, by the warm-up: each later run lets a
 * new child reopen it, append another tail and be killed again. The two sizes take turns.
 */
import path from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { RECOVERY_CHECKPOINT_BYTES } from '../src/limits.js'
import type { RecordInput } from '../src/record/types.js'
import { type Logger, stderrLogger } from '../src/storage/logger.js'
import { partitionDir } from '../src/topics/catalog.js'
import { runUntilKilled } from '../test/helpers/kill-child.js'
import { makeDataset } from './lib/dataset.js'
import { formatBytes } from './lib/format.js'
import { logExtent } from './lib/log-files.js'
import { type ReopenTimes, type Reopened, formatReopenTimes, reopenAndReadNewest } from './lib/reopen.js'
import { type DurationResult, type Target, durationResult } from './lib/result.js'
import { summarize } from './lib/stats.js'
import { freshDir, removeDir } from './lib/temp-dir.js'
import { type Trials, inTurns, repeatedTrials, within } from './lib/timing.js'
import type { WriterSpec } from './recovery-writer.js'

export interface RecoveryOptions {
  /** The two log sizes compared, in bytes. */
  smallBytes: number
  largeBytes: number
  /** Each kill comes once this much log lies past the recovery point on disk. */
  tailBytes: number
  keyBytes: number
  valueBytes: number
  /** Records a writer sends at once (one batch). */
  batchRecords: number
  seed: number
  runs: number
  logger: Logger
}

interface RecoverySample {
  times: ReopenTimes
  /** The log's size, and how much of it lay past the recovery point, at the kill. */
  logBytes: number
  tailBytes: number
  /** How long the writer ran before it was killed (the first one builds the log). */
  writerSeconds: number
}

const TOPIC = 'recovery'
const WRITER = path.join(path.dirname(fileURLToPath(import.meta.url)), 'recovery-writer.ts')
/** The large log is written at disk speed: minutes at worst, never this long. */
const WRITER_TIMEOUT_MS = 10 * 60 * 1000
/** Contract 4's target: the large log's recovery takes at most this many times the small one's. */
const MAX_GROWTH = 1.5

/** Runs a writer until it is killed at the tail; returns the end offset it last acknowledged. */
async function killedWriter(dir: string, spec: WriterSpec): Promise<number> {
  const lines = await within(runUntilKilled(WRITER, [dir, JSON.stringify(spec)], 0, 'ready'), WRITER_TIMEOUT_MS, () => `the W5 writer was not ready within ${WRITER_TIMEOUT_MS} ms`)
  const acks = lines.filter((line) => line.startsWith('ack '))
  return acks.length === 0 ? 0 : Number(acks[acks.length - 1]!.slice('ack '.length))
}

/** Nothing acknowledged is lost, the log ends at a whole batch, and its newest record is the one written there. */
function checkRecovered(reopened: Reopened, acked: number, batch: readonly RecordInput[]): void {
  const [partition] = reopened.partitions
  const end = partition?.endOffset ?? 0
  if (end < acked) throw new Error(`W5: the recovered log ends at offset ${end}, below ${acked}, acknowledged before the kill`)
  if (end % batch.length !== 0) throw new Error(`W5: the recovered log ends at offset ${end}, inside a batch of ${batch.length} records`)
  const newest = partition?.newest
  const expected = batch[(end - 1) % batch.length]!
  if (newest?.offset !== end - 1 || !newest.key?.equals(expected.key!) || !newest.value?.equals(expected.value!)) {
    throw new Error(`W5: the newest record (offset ${end - 1}) did not read back as written`)
  }
}

async function recoveryRun(dir: string, spec: WriterSpec, batch: readonly RecordInput[], logger: Logger): Promise<RecoverySample> {
  const started = performance.now()
  const acked = await killedWriter(dir, spec)
  const writerSeconds = (performance.now() - started) / 1000
  const extent = await logExtent(partitionDir(dir, TOPIC, 0))
  const reopened = await reopenAndReadNewest(dir, TOPIC, logger)
  try {
    checkRecovered(reopened, acked, batch)
  } finally {
    await reopened.spool.close()
  }
  return { times: reopened.times, logBytes: extent.bytes, tailBytes: extent.pastRecoveryPoint, writerSeconds }
}

const describe = (s: RecoverySample): string =>
  `${formatReopenTimes(s.times)} at ${formatBytes(s.tailBytes)} past the recovery point of ${formatBytes(s.logBytes)}, writer ${s.writerSeconds.toFixed(1)} s`

type Size = 'small' | 'large'
const SIZES: readonly Size[] = ['small', 'large']

/**
 * Both logs side by side: the warm-up builds them, and each measured run recovers both,
 * taking turns which goes first, so that drift (writeback, other work on the machine)
 * does not favour one size.
 */
async function recoveryTrials(options: RecoveryOptions): Promise<Trials<Record<Size, RecoverySample>>> {
  const { keyBytes, valueBytes, batchRecords, seed, tailBytes } = options
  const batchSpec = { records: batchRecords, batchRecords, keyBytes, valueBytes, seed }
  const batch = makeDataset(batchSpec).batches[0]!
  const logs = {
    small: { dir: freshDir('w5-small'), spec: { topic: TOPIC, targetBytes: options.smallBytes, tailBytes, batch: batchSpec } },
    large: { dir: freshDir('w5-large'), spec: { topic: TOPIC, targetBytes: options.largeBytes, tailBytes, batch: batchSpec } },
  }
  const recover = (size: Size): Promise<RecoverySample> => recoveryRun(logs[size].dir, logs[size].spec, batch, options.logger)
  try {
    return await repeatedTrials({
      runs: options.runs,
      label: 'W5.recovery',
      describe: (pair) => SIZES.map((size) => `${size} ${describe(pair[size])}`).join('; '),
      gc: false, // inTurns collects before each side
      run: async (trial) => {
        const [small, large] = await inTurns(trial, () => recover('small'), () => recover('large'))
        return { small, large }
      },
    })
  } finally {
    for (const size of SIZES) removeDir(logs[size].dir)
  }
}

const range = (values: readonly number[]): string => {
  const { min, max } = summarize(values)
  return min === max ? formatBytes(min) : `${formatBytes(min)}–${formatBytes(max)}`
}

function recoveryResult(size: Size, bytes: number, trials: Trials<Record<Size, RecoverySample>>, options: RecoveryOptions, target: Target<DurationResult> | null): DurationResult {
  const samples = trials.samples.map((pair) => pair[size])
  const label =
    `openSpool + describeTopic (end offset) + read of the newest record, after SIGKILL of a writer appending ${options.keyBytes + options.valueBytes} B records ` +
    `(${options.batchRecords} a batch, flush 'never') once ≥ ${formatBytes(options.tailBytes)} lay past the recovery point on disk ` +
    `(measured: ${range(samples.map((s) => s.tailBytes))} of a ${range(samples.map((s) => s.logBytes))} log); ` +
    'a process crash: the tail is in the page cache; the reopen fsyncs it'
  return durationResult(
    { id: `W5.recovery.${size}`, workload: 'W5', title: `W5 reopen after SIGKILL, ${size} log (${formatBytes(bytes)})` },
    label,
    samples.map((s) => s.times.total),
    trials.warmup[size].times.total,
    target,
  )
}

export async function recoveryWorkloads(options: RecoveryOptions): Promise<DurationResult[]> {
  if (options.tailBytes >= RECOVERY_CHECKPOINT_BYTES) {
    throw new Error(`W5: tailBytes must stay below the recovery checkpoint interval (${RECOVERY_CHECKPOINT_BYTES} bytes): a checkpoint would reset the tail before it got there`)
  }
  if (options.smallBytes <= RECOVERY_CHECKPOINT_BYTES) throw new Error('W5: the small log must outgrow one recovery checkpoint interval, or recovery scans all of it')
  const trials = await recoveryTrials(options)
  const small = recoveryResult('small', options.smallBytes, trials, options, null)
  const smallMedian = small.spool.seconds.median
  const target: Target<DurationResult> = { text: `≤ ${MAX_GROWTH}× the small log's`, met: (r) => r.spool.seconds.median <= MAX_GROWTH * smallMedian }
  return [small, recoveryResult('large', options.largeBytes, trials, options, target)]
}

// `node --cpu-prof --import tsx bench/recovery.ts [smallMiB largeMiB tailMiB]`: W5 alone (default 1 GiB, 4 GiB, 48 MiB), for profiling.
if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const MiB = 1024 * 1024
  const [small = 1024, large = 4096, tail = 48] = process.argv.slice(2).map(Number)
  const results = await recoveryWorkloads({
    smallBytes: small * MiB,
    largeBytes: large * MiB,
    tailBytes: tail * MiB,
    keyBytes: 16,
    valueBytes: 1024,
    batchRecords: 1_000,
    seed: 0x5eed,
    runs: 3,
    logger: stderrLogger,
  })
  process.stdout.write(`${JSON.stringify(results, null, 2)}\n`)
}
