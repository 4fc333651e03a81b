/**
 * W2 replay: every record W1 wrote (the partition of W1's flush 'never' warm-up run,
 * which W1 keeps for this) read back from offset 0 with `read()` in a loop,
 * beside sequential `fs.readSync` of the same `.log` files in chunks of the same size.
 * Before each pair the files are read once untimed, so both sides read from the page
 * cache: the comparison is spool's per-record cost against a plain copy.
 */
import { pathToFileURL } from 'node:url'
import { PartitionLog } from '../src/storage/partition-log.js'
import { type Logger, stderrLogger } from '../src/storage/logger.js'
import { spoolAppend } from './append.js'
import { type DatasetSize, makeDataset } from './lib/dataset.js'
import { freshDir, removeDir } from './lib/temp-dir.js'
import { rawReadPass, readFiles, segmentLogFiles } from './lib/log-files.js'
import { type WorkloadResult, workloadResult } from './lib/result.js'
import { pairedRuns, timed } from './lib/timing.js'

export interface ReplayOptions {
  runs: number
  /** `maxBytes` of each `read()`, and the raw side's chunk size. */
  readBytes: number
  logger: Logger
}

/** Reads the whole log from offset 0; returns the seconds the reads took. */
export async function spoolReplay(dir: string, data: DatasetSize, options: ReplayOptions): Promise<number> {
  const log = await PartitionLog.open(dir, { readOnly: true, logger: options.logger })
  let count = 0
  try {
    const end = log.endOffset
    const seconds = await timed(async () => {
      let offset = 0
      while (offset < end) {
        const { records, nextOffset } = await log.read(offset, { maxBytes: options.readBytes })
        if (nextOffset <= offset) throw new Error(`read made no progress at offset ${offset}`)
        count += records.length
        offset = nextOffset
      }
    })
    if (count !== data.records) throw new Error(`spool replayed ${count} records, expected ${data.records}`)
    return seconds
  } finally {
    await log.close()
  }
}

/** Replays `dir`, a partition W1 wrote from `data`, `runs` times (plus a warm-up). */
export async function replayWorkload(dir: string, data: DatasetSize, options: ReplayOptions): Promise<WorkloadResult> {
  const id = `W2.replay.${data.valueBytes}B`
  const buffer = Buffer.allocUnsafe(options.readBytes)
  const files = segmentLogFiles(dir)
  const samples = await pairedRuns({
    runs: options.runs,
    label: id,
    beforePair: () => readFiles(files, buffer),
    spool: () => spoolReplay(dir, data, options),
    raw: () => rawReadPass(files, buffer, data.bytes),
  })
  return workloadResult(
    { id, workload: 'W2', title: `W2 replay ${data.valueBytes} B`, valueBytes: data.valueBytes, records: data.records, bytes: data.bytes },
    {
      spool: `PartitionLog.read from offset 0 in a loop, maxBytes ${options.readBytes}, counting records`,
      raw: `fs.readSync of the same .log files in ${options.readBytes}-byte chunks`,
    },
    samples,
    null,
  )
}

// `npx tsx bench/replay.ts [valueBytes]`: W2 alone in a fresh process, on a log W1's way
// (1,000,000 records, flush 'never'), to compare with the figure inside the whole suite.
if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const valueBytes = Number(process.argv[2] ?? 100)
  const dir = freshDir('w2-alone')
  try {
    const size = await (async () => {
      const data = makeDataset({ records: 1_000_000, batchRecords: 1_000, keyBytes: 16, valueBytes, seed: 0x5eed })
      await spoolAppend(dir, data, 'never', stderrLogger)
      return { records: data.records, bytes: data.bytes, valueBytes }
    })()
    const result = await replayWorkload(dir, size, { runs: 3, readBytes: 1024 * 1024, logger: stderrLogger })
    process.stdout.write(`${JSON.stringify(result.spool.recordsPerSec)} records/s\n`)
  } finally {
    removeDir(dir)
  }
}
