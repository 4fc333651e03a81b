/**
 * The cost of idempotence, on W1's data (100 B values): the same records sent through
 * `producer.send()` (as P1 does) by a producer with `idempotent: true` and one with
 * `idempotent: false`, and appended through `PartitionLog.append` (as W1 does) with and
 * without a producer identity (id, epoch, base sequence), each under flush 'never' and
 * 'always'. Both settings and the physical limit (fs.writeSync of the same encoded
 * batches, with fdatasync under 'always') run in one interleaved round per run, their
 * order rotating, so that the ratio on/off is taken within a round.
 */
import path from 'node:path'
import type { ProducerOptions } from '../src/client/producer.js'
import type { Logger } from '../src/storage/logger.js'
import { PartitionLog } from '../src/storage/partition-log.js'
import { type AppendFlush, rawWrite } from './append.js'
import type { Dataset } from './lib/dataset.js'
import { type Side, interleavedRuns, perRoundRatio } from './lib/interleave.js'
import { type SideResult, sideResult } from './lib/result.js'
import { type Summary, summarize } from './lib/stats.js'
import { inFreshDir } from './lib/temp-dir.js'
import { timed } from './lib/timing.js'
import { producerSend } from './producer.js'

export type IdempotencePath = 'producer' | 'append'

export interface IdempotenceResult {
  /** e.g. `I1.producer.100B.never` */
  id: string
  title: string
  path: IdempotencePath
  flush: AppendFlush
  valueBytes: number
  records: number
  bytes: number
  runs: number
  /** idempotent: true / with a producer identity. */
  on: SideResult
  /** idempotent: false / without one. */
  off: SideResult
  /** fs.writeSync of the same encoded batches (+ fdatasync each under 'always'). */
  raw: SideResult
  /** on records/s ÷ off records/s, per round: 1 = free. */
  ratio: Summary
  onVsRaw: Summary
  offVsRaw: Summary
}

/** W1's loop, each batch with the next sequence of one producer when `identified`. */
async function appendWithIdentity(dir: string, data: Dataset, flush: AppendFlush, identified: boolean, logger: Logger): Promise<number> {
  const log = await PartitionLog.open(dir, { flush, logger })
  let lastOffset = -1
  let baseSequence = 0
  try {
    const seconds = await timed(async () => {
      for (const batch of data.batches) {
        const options = identified ? { producer: { producerId: 1, producerEpoch: 0, baseSequence } } : undefined
        baseSequence += batch.length
        lastOffset = (await log.append(batch, options)).lastOffset
      }
    })
    if (lastOffset !== data.records - 1) throw new Error(`spool appended up to offset ${lastOffset}, expected ${data.records - 1}`)
    return seconds
  } finally {
    await log.close()
  }
}

export interface IdempotenceOptions {
  runs: number
  logger: Logger
}

async function oneCase(data: Dataset, via: IdempotencePath, flush: AppendFlush, options: IdempotenceOptions): Promise<IdempotenceResult> {
  const { logger } = options
  const id = `I1.${via}.${data.valueBytes}B.${flush}`
  const spoolSide = (on: boolean): Side =>
    via === 'producer'
      ? () => inFreshDir(`i1-producer-${on}`, (dir) => producerSend(dir, data, flush, logger, { idempotent: on } satisfies ProducerOptions))
      : () => inFreshDir(`i1-append-${on}`, (dir) => appendWithIdentity(dir, data, flush, on, logger))
  const { samples, warmup } = await interleavedRuns({
    runs: options.runs,
    label: id,
    sides: {
      on: spoolSide(true),
      off: spoolSide(false),
      raw: () => inFreshDir('i1-raw', (dir) => rawWrite(path.join(dir, 'raw.log'), data, flush)),
    },
  })
  const side = (label: string, name: 'on' | 'off' | 'raw') => sideResult(label, samples[name], warmup[name], data.records, data.bytes)
  const call =
    via === 'producer'
      ? (on: boolean) => `producer.send (idempotent: ${on}), ${data.batchRecords} awaited together at a time, flush '${flush}'`
      : (on: boolean) => `PartitionLog.append, ${data.batchRecords} records a call, ${on ? 'with' : 'without'} a producer identity, flush '${flush}'`
  return {
    id,
    title: `${via === 'producer' ? 'producer.send' : 'PartitionLog.append'} ${data.valueBytes} B, flush '${flush}'`,
    path: via,
    flush,
    valueBytes: data.valueBytes,
    records: data.records,
    bytes: data.bytes,
    runs: options.runs,
    on: side(call(true), 'on'),
    off: side(call(false), 'off'),
    raw: side(flush === 'always' ? 'fs.writeSync + fs.fdatasyncSync per batch-sized chunk' : 'fs.writeSync per batch-sized chunk', 'raw'),
    ratio: summarize(perRoundRatio(samples.on, samples.off)),
    onVsRaw: summarize(perRoundRatio(samples.on, samples.raw)),
    offVsRaw: summarize(perRoundRatio(samples.off, samples.raw)),
  }
}

export async function idempotenceWorkloads(data: Dataset, options: IdempotenceOptions): Promise<IdempotenceResult[]> {
  const results: IdempotenceResult[] = []
  for (const via of ['producer', 'append'] as const) for (const flush of ['never', 'always'] as const) results.push(await oneCase(data, via, flush, options))
  return results
}
