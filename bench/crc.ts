/**
 * The cost of CRC-32C, format v2's batch checksum, beside CRC-32, format v1's: each
 * implementation's throughput on inputs of 100 B to 1 MiB and of W1's batch sizes, and
 * from it the share of W1's and W2's time that one checksum of every batch takes (each
 * batch is checksummed once as it is encoded, and once as it is read).
 */
import zlib from 'node:zlib'
import { crc32, crc32Reference, crc32Simd } from '../src/record/crc32.js'
import { crc32c, crc32cReference, crc32cSimd } from '../src/record/crc32c.js'
import { SIMD_CRC32_MIN_BYTES } from '../src/limits.js'
import { prng } from '../scripts/lib/prng.js'
import { collectGarbage } from './lib/gc.js'
import type { WorkloadResult } from './lib/result.js'
import { type Summary, round, summarize } from './lib/stats.js'

type Checksum = (bytes: Uint8Array) => number

export interface CrcConfig {
  /** Input sizes besides W1's batch sizes. */
  sizes: number[]
  /** Each sample loops over inputs for at least this long. */
  sampleSeconds: number
  samples: number
}

export interface CrcSize {
  bytes: number
  /** What the size stands for, e.g. "W1 100 B batch". */
  note: string
  /** GB/s (10^9 bytes) per implementation, median (min–max) of the samples. */
  gbPerSec: Record<string, Summary>
  /** crc32c (as used) ÷ crc32 (as used), per round: < 1 means CRC-32C is slower. */
  crc32cVsCrc32: Summary
}

export interface CrcShare {
  /** The workload whose time is split, e.g. `W1.append.100B.never`. */
  workload: string
  /** Its log bytes per second (spool side, median). */
  mbPerSec: number
  /** Its mean batch size, at which the checksum's speed is taken. */
  batchBytes: number
  crc32cGBPerSec: number
  crc32GBPerSec: number
  /** Share of the workload's time spent in CRC-32C: (bytes/s) ÷ (CRC bytes/s). */
  crc32cShare: number
  /** The same for CRC-32, what format v1 spent. */
  crc32Share: number
}

export interface CrcReport {
  /** Which implementations are present and which one each dispatcher uses at what size. */
  implementations: { crc32c: string; crc32: string; simdMinBytes: number }
  sizes: CrcSize[]
  shares: CrcShare[]
}

const POOL_BYTES = 4 * 1024 * 1024

function implementations(): Record<string, Checksum> {
  const out: Record<string, Checksum> = { crc32c, 'crc32c JS (crc-32)': crc32cReference }
  if (crc32cSimd !== null) out['crc32c SIMD (@node-rs/crc32)'] = crc32cSimd
  out['crc32'] = crc32
  out['crc32 JS (crc-32)'] = crc32Reference
  if (crc32Simd !== null) out['crc32 SIMD (@node-rs/crc32)'] = crc32Simd
  return out
}

/** Views of `pool`, `size` bytes each, at varying (unaligned) offsets; made before any timer starts. */
const VIEWS = 64
function viewsOf(pool: Buffer, size: number): Buffer[] {
  const span = pool.length - size
  return Array.from({ length: VIEWS }, (_, i) => {
    const at = (i * 65_537 + i) % span
    return pool.subarray(at, at + size)
  })
}

/** Bytes per second of `fn` over `views` in turn, for at least `seconds`. */
function throughput(fn: Checksum, views: readonly Buffer[], seconds: number): number {
  const size = views[0]!.length
  // Check the clock about every 256 KiB, so that reading it costs nothing next to the checksums.
  const callsPerCheck = Math.max(1, Math.ceil((256 * 1024) / size))
  const budget = BigInt(Math.round(seconds * 1e9))
  let sink = 0
  let calls = 0
  const start = process.hrtime.bigint()
  let elapsed = 0n
  do {
    for (let i = 0; i < callsPerCheck; i++) sink ^= fn(views[(calls + i) & (VIEWS - 1)]!)
    calls += callsPerCheck
    elapsed = process.hrtime.bigint() - start
  } while (elapsed < budget)
  if (sink === 0.5) process.stderr.write('') // keeps `sink` alive
  return (calls * size) / (Number(elapsed) / 1e9)
}

function measureSize(bytes: number, note: string, config: CrcConfig, pool: Buffer): CrcSize {
  const impls = implementations()
  const names = Object.keys(impls)
  const samples: Record<string, number[]> = Object.fromEntries(names.map((n) => [n, []]))
  const views = viewsOf(pool, bytes)
  for (const name of names) throughput(impls[name]!, views, config.sampleSeconds / 2) // warm-up (JIT)
  for (let s = 0; s < config.samples; s++) {
    collectGarbage()
    for (let i = 0; i < names.length; i++) {
      const name = names[(s + i) % names.length]!
      samples[name]!.push(throughput(impls[name]!, views, config.sampleSeconds) / 1e9)
    }
  }
  const gbPerSec = Object.fromEntries(names.map((n) => [n, summarize(samples[n]!)]))
  const ratio = samples['crc32c']!.map((v, s) => v / samples['crc32']![s]!)
  process.stderr.write(`  crc ${bytes} B: ${names.map((n) => `${n} ${gbPerSec[n]!.median.toFixed(2)}`).join(', ')} GB/s\n`)
  return { bytes, note, gbPerSec, crc32cVsCrc32: summarize(ratio) }
}

/** `batchSizes`: W1's mean batch size for each workload whose share is asked for. */
export function crcMicro(config: CrcConfig, batchSizes: { bytes: number; note: string }[]): CrcSize[] {
  const next = prng(0xc3c)
  const pool = Buffer.allocUnsafe(POOL_BYTES)
  for (let i = 0; i < POOL_BYTES; i += 4) pool.writeUInt32LE(next(), i)
  const wanted = [...config.sizes.map((bytes) => ({ bytes, note: '' })), ...batchSizes]
  const unique = new Map<number, string>()
  for (const { bytes, note } of wanted) {
    const notes = unique.get(bytes)?.split('; ') ?? []
    if (note !== '' && !notes.includes(note)) notes.push(note)
    unique.set(bytes, notes.filter(Boolean).join('; '))
  }
  return [...unique].sort((a, b) => a[0] - b[0]).map(([bytes, note]) => measureSize(bytes, note, config, pool))
}

/** The share of each workload's time one CRC of each batch takes, at its batch size. */
export function crcShares(sizes: readonly CrcSize[], workloads: readonly WorkloadResult[], batchRecords: number): CrcShare[] {
  return workloads.flatMap((w): CrcShare[] => {
    const batchBytes = meanBatchBytes(w.bytes, w.records, batchRecords)
    const size = sizes.find((s) => s.bytes === batchBytes)
    if (size === undefined) return []
    const mbPerSec = w.spool.mbPerSec.median
    const c = size.gbPerSec['crc32c']!.median
    const v1 = size.gbPerSec['crc32']!.median
    return [{ workload: w.id, mbPerSec, batchBytes, crc32cGBPerSec: c, crc32GBPerSec: v1, crc32cShare: round(mbPerSec / 1e3 / c), crc32Share: round(mbPerSec / 1e3 / v1) }]
  })
}

export function crcImplementations(): CrcReport['implementations'] {
  const simd = (present: boolean, small: string) =>
    present ? `@node-rs/crc32 (SIMD) from ${SIMD_CRC32_MIN_BYTES} B, ${small} below` : `${small} (no SIMD package)`
  return {
    crc32c: simd(crc32cSimd !== null, 'crc-32 (JS)'),
    crc32: simd(crc32Simd !== null, typeof (zlib as { crc32?: unknown }).crc32 === 'function' ? 'node:zlib crc32' : 'crc-32 (JS)'),
    simdMinBytes: SIMD_CRC32_MIN_BYTES,
  }
}

/** The batch size of a dataset of `records` records of `bytes` in all, `batchRecords` a batch. */
export const meanBatchBytes = (bytes: number, records: number, batchRecords: number): number => Math.round(bytes / Math.ceil(records / batchRecords))
