/**
 * W1 and W2 with each compression codec beside none, on compressible data (JSON-like
 * events from a seeded generator, bench/lib/json-records.ts): W1 = `PartitionLog.append`
 * of the dataset's batches with `{ compression }`, flush 'never', as W1 does; W2 =
 * `PartitionLog.read` of what W1 wrote, from offset 0, as W2 does. Each codec has its raw
 * twin on the very bytes it puts on disk: `fs.writeSync` of the compressed batches (one
 * chunk per batch), and `fs.readSync` of its `.log` files. Every codec and its raw twin
 * run in one interleaved round per run, so "beside none" is a ratio within a round.
 */
import path from 'node:path'
import { compressBatch } from '../src/record/batch-encoder.js'
import { COMPRESSION_CODECS, type CompressionCodec, codecImplementations, loadCodecs } from '../src/record/compression/index.js'
import type { Logger } from '../src/storage/logger.js'
import { PartitionLog } from '../src/storage/partition-log.js'
import { rawWriteChunks } from './append.js'
import { type Dataset, datasetFromArena } from './lib/dataset.js'
import { formatBytes, formatInteger } from './lib/format.js'
import { type Side, interleavedRuns, perRoundRatio } from './lib/interleave.js'
import { jsonRecordBytes } from './lib/json-records.js'
import { readFiles, segmentLogFiles, totalBytes } from './lib/log-files.js'
import { type WorkloadResult, workloadResult } from './lib/result.js'
import { type Summary, summarize } from './lib/stats.js'
import { freshDir, removeDir } from './lib/temp-dir.js'
import { timed } from './lib/timing.js'
import { spoolReplay } from './replay.js'

export interface CompressionConfig {
  /** Value sizes, each with its own record count (a codec's W1 takes seconds at 1 KiB). */
  sizes: { valueBytes: number; records: number }[]
  batchRecords: number
  keyBytes: number
  seed: number
  runs: number
  readBytes: number
  logger: Logger
}

export interface CodecFigures {
  codec: CompressionCodec
  /** What does the work here (codecImplementations()), e.g. 'snappy (native)'. */
  implementation: string
  native: boolean
  valueBytes: number
  records: number
  /** The batches uncompressed: what codec 'none' writes. */
  plainBytes: number
  /** Sum of the partition's `.log` file sizes after W1. */
  diskBytes: number
  /** plainBytes / diskBytes. */
  compressionRatio: number
  /** spool vs fs.writeSync of the same compressed batches. */
  append: WorkloadResult
  /** spool vs fs.readSync of the same `.log` files. */
  replay: WorkloadResult
  /** This codec's records/s ÷ none's, per round. */
  appendVsNone: Summary
  replayVsNone: Summary
}

export interface CompressionReport {
  implementations: Record<CompressionCodec, string>
  flush: 'never'
  /** By value size, then codec in id order (none first). */
  results: CodecFigures[]
}

/** Records only; the raw twin gets `data.encoded` compressed the same way, which spool's files must add up to. */
function compressedBatches(data: Dataset, codec: CompressionCodec): Buffer[] {
  if (codec === 'none') return data.encoded
  // Records carry no timestamp, so the records section is the same whatever time spool stamps: same sizes.
  return data.encoded.map((bytes, i) => compressBatch({ bytes, recordCount: data.batches[i]!.length, maxTimestamp: 0, minTimestamp: 0 }, codec).bytes)
}

async function spoolAppendCompressed(dir: string, data: Dataset, codec: CompressionCodec, logger: Logger): Promise<number> {
  const log = await PartitionLog.open(dir, { flush: 'never', logger })
  // 'none' passes no options: exactly W1's call.
  const options = codec === 'none' ? undefined : { compression: codec }
  let lastOffset = -1
  try {
    const seconds = await timed(async () => {
      for (const batch of data.batches) lastOffset = (await log.append(batch, options)).lastOffset
    })
    if (lastOffset !== data.records - 1) throw new Error(`spool appended up to offset ${lastOffset}, expected ${data.records - 1}`)
    return seconds
  } finally {
    await log.close()
  }
}

const byCodec = <T>(make: (codec: CompressionCodec) => T): Record<CompressionCodec, T> =>
  Object.fromEntries(COMPRESSION_CODECS.map((codec) => [codec, make(codec)])) as Record<CompressionCodec, T>

type SideName = `spool:${CompressionCodec}` | `raw:${CompressionCodec}`

async function oneSize(config: CompressionConfig, valueBytes: number, records: number): Promise<CodecFigures[]> {
  const spec = { records, batchRecords: config.batchRecords, keyBytes: config.keyBytes, valueBytes, seed: config.seed }
  const data = datasetFromArena(spec, jsonRecordBytes(config.seed, records, config.keyBytes, valueBytes))
  const chunks = byCodec((codec) => compressedBatches(data, codec))
  const expected = byCodec((codec) => chunks[codec].reduce((sum, chunk) => sum + chunk.length, 0))
  process.stderr.write(
    `compression: ${formatInteger(records)} JSON-like records of ${valueBytes} B: ${COMPRESSION_CODECS.map((c) => `${c} ${formatBytes(expected[c])}`).join(', ')}\n`,
  )
  const kept = {} as Record<CompressionCodec, string>
  try {
    const appendSides = {} as Record<SideName, Side>
    for (const codec of COMPRESSION_CODECS) {
      appendSides[`spool:${codec}`] = async ({ warmup }) => {
        const dir = freshDir(`c1-spool-${valueBytes}-${codec}`)
        try {
          const seconds = await spoolAppendCompressed(dir, data, codec, config.logger)
          const written = totalBytes(segmentLogFiles(dir))
          if (written !== expected[codec]) throw new Error(`${codec}: spool's .log files hold ${written} bytes, but the batches compress to ${expected[codec]}`)
          if (warmup) kept[codec] = dir
          return seconds
        } finally {
          if (kept[codec] !== dir) removeDir(dir)
        }
      }
      appendSides[`raw:${codec}`] = async () => {
        const dir = freshDir(`c1-raw-${valueBytes}-${codec}`)
        try {
          return await rawWriteChunks(path.join(dir, 'raw.log'), chunks[codec], 'never')
        } finally {
          removeDir(dir)
        }
      }
    }
    const append = await interleavedRuns({ runs: config.runs, label: `W1.append.json-${valueBytes}B.never.codecs`, sides: appendSides })

    const files = byCodec((codec) => segmentLogFiles(kept[codec]))
    const buffer = Buffer.allocUnsafe(config.readBytes)
    const replaySides = {} as Record<SideName, Side>
    for (const codec of COMPRESSION_CODECS) {
      replaySides[`spool:${codec}`] = () => spoolReplay(kept[codec], data, { runs: config.runs, readBytes: config.readBytes, logger: config.logger })
      replaySides[`raw:${codec}`] = async () => {
        let read = 0
        const seconds = await timed(() => {
          read = readFiles(files[codec], buffer)
        })
        if (read !== expected[codec]) throw new Error(`${codec}: raw read ${read} bytes, expected ${expected[codec]}`)
        return seconds
      }
    }
    const replay = await interleavedRuns({
      runs: config.runs,
      label: `W2.replay.json-${valueBytes}B.codecs`,
      sides: replaySides,
      // Page cache warm for every side, as W2 does.
      beforeRound: () => COMPRESSION_CODECS.forEach((codec) => readFiles(files[codec], buffer)),
    })

    const implementations = codecImplementations()
    const loaded = loadCodecs()
    return COMPRESSION_CODECS.map((codec): CodecFigures => {
      const base = { valueBytes, records, bytes: expected[codec] }
      const pair = (samples: typeof append) => ({
        spool: samples.samples[`spool:${codec}`],
        raw: samples.samples[`raw:${codec}`],
        warmup: { spool: samples.warmup[`spool:${codec}`], raw: samples.warmup[`raw:${codec}`] },
      })
      return {
        codec,
        implementation: implementations[codec],
        native: codec === 'none' || loaded[codec].native,
        valueBytes,
        records,
        plainBytes: data.bytes,
        diskBytes: expected[codec],
        compressionRatio: Number((data.bytes / expected[codec]).toFixed(3)),
        append: workloadResult(
          { ...base, id: `W1.append.json-${valueBytes}B.never.${codec}`, workload: 'W1', title: `W1 append JSON ${valueBytes} B, ${codec}, flush 'never'` },
          {
            spool: `PartitionLog.append(batch${codec === 'none' ? '' : `, { compression: '${codec}' }`}), ${data.batchRecords} records a call, awaited in sequence`,
            raw: `fs.writeSync of the same ${codec === 'none' ? '' : 'compressed '}batches, one chunk per batch`,
          },
          pair(append),
          null,
        ),
        replay: workloadResult(
          { ...base, id: `W2.replay.json-${valueBytes}B.${codec}`, workload: 'W2', title: `W2 replay JSON ${valueBytes} B, ${codec}` },
          {
            spool: `PartitionLog.read from offset 0 in a loop, maxBytes ${config.readBytes}`,
            raw: `fs.readSync of the same .log files in ${config.readBytes}-byte chunks`,
          },
          pair(replay),
          null,
        ),
        appendVsNone: summarize(perRoundRatio(append.samples[`spool:${codec}`], append.samples['spool:none'])),
        replayVsNone: summarize(perRoundRatio(replay.samples[`spool:${codec}`], replay.samples['spool:none'])),
      }
    })
  } finally {
    for (const dir of Object.values(kept)) removeDir(dir)
  }
}

export async function compressionWorkloads(config: CompressionConfig): Promise<CompressionReport> {
  const results: CodecFigures[] = []
  for (const { valueBytes, records } of config.sizes) results.push(...(await oneSize(config, valueBytes, records)))
  return { implementations: codecImplementations(), flush: 'never', results }
}
