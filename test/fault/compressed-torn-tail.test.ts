import fs from 'node:fs'
import path from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { isSpoolError } from '../../src/errors.js'
import { readBatchHeader } from '../../src/record/batch-decoder.js'
import { stampCrc } from '../../src/record/batch-encoder.js'
import { BATCH_HEADER_BYTES, BATCH_LOG_OVERHEAD_BYTES, OFFSET_BATCH_LENGTH } from '../../src/record/batch-format.js'
import { COMPRESSION_CODECS, type CompressionCodec, compress, decompress } from '../../src/record/compression/index.js'
import type { RecordInput, StoredRecord } from '../../src/record/types.js'
import { readZigzagVarlong } from '../../src/record/varint.js'
import { type StorageIO, nodeIO } from '../../src/storage/io.js'
import type { AppendOptions, PartitionLog, PartitionLogOptions } from '../../src/storage/partition-log.js'
import { openLog } from '../helpers/open-log.js'
import { readAll } from '../helpers/read-all.js'
import { plain, recordFor } from '../helpers/records.js'
import { tempDir } from '../helpers/temp-dir.js'

/**
 * Torn tails whose last batch is compressed, and compressed batches crafted to pass the
 * CRC with a damaged payload.
 *
 * The cut loop reopens a copy of the crash image for every byte of the last batch (~200
 * bytes a codec), cut there; and for the garbage variant (overwritten from there on), at
 * every byte of the batch header and every GARBAGE_STRIDE-th byte of its records: past the
 * header, garbage meets the same check (the CRC) wherever it starts, while a cut changes
 * what is left of the batch at every byte. Opened through the real file system with its
 * fsyncs and lock, that was ~40 ms an open, a minute for the four codecs; recovery's
 * decisions do not depend on fsync, so the copies live in /dev/shm where there is one,
 * the reopens use nodeIO with fsync and fdatasync made no-ops and take no lock, and a few
 * run at once.
 */

const CODECS = COMPRESSION_CODECS.filter((codec) => codec !== 'none')
const PRODUCER_ID = 42
/**
 * Small segments: the earlier batches roll once or twice, so a producer-state snapshot
 * exists at the cut. At 800 bytes the last batch lies in the middle of the active segment;
 * at 700 it is the first batch of a new one (its roll wrote a snapshot that covers the log
 * up to it exactly). Two codecs get each layout.
 */
const SEGMENT_BYTES = 800
const LAYOUTS: Record<string, { segmentBytes: number; where: string; startsSegment: boolean }> = {
  gzip: { segmentBytes: 700, where: 'the first batch of its segment', startsSegment: true },
  snappy: { segmentBytes: 800, where: 'mid-segment', startsSegment: false },
  lz4: { segmentBytes: 700, where: 'the first batch of its segment', startsSegment: true },
  zstd: { segmentBytes: 800, where: 'mid-segment', startsSegment: false },
}
const FAST_IO: StorageIO = { ...nodeIO, fsync: async () => undefined, fdatasync: async () => undefined }
const GARBAGE_STRIDE = 4
const PARALLEL_OPENS = 4

const scratchMade: string[] = []

/** A scratch directory, in memory where the system has /dev/shm; removed after the test. */
function scratchDir(): string {
  if (!fs.existsSync('/dev/shm')) return tempDir()
  const dir = fs.mkdtempSync(path.join('/dev/shm', 'spool-torn-'))
  scratchMade.push(dir)
  return dir
}

afterEach(() => {
  for (const dir of scratchMade.splice(0)) fs.rmSync(dir, { recursive: true, force: true })
})

/** Runs `task` on every item, `width` at a time. */
async function inParallel<T>(items: readonly T[], width: number, task: (item: T) => Promise<void>): Promise<void> {
  let next = 0
  const worker = async (): Promise<void> => {
    while (next < items.length) await task(items[next++]!)
  }
  await Promise.all(Array.from({ length: width }, worker))
}

function openFast(dir: string, options: PartitionLogOptions = {}): Promise<PartitionLog> {
  return openLog(dir, { io: FAST_IO, lock: false, segmentBytes: SEGMENT_BYTES, ...options })
}

/** Records that compress, but not to nothing: text with a varying tail. */
function recordsFrom(first: number, count: number): RecordInput[] {
  return Array.from({ length: count }, (_, k) => {
    const record = recordFor(first + k, 16)
    return { ...record, value: Buffer.concat([Buffer.from(record.value!), Buffer.from(`|${(first + k) * 2654435761}|${'xyz'.repeat(k + 1)}`)]) }
  })
}

interface Sent {
  records: RecordInput[]
  options: AppendOptions
  offsets: { baseOffset: number; lastOffset: number }
}

/** The last `.log` file of a partition directory (the active segment). */
function activeLog(dir: string): string {
  const logs = fs.readdirSync(dir).filter((name) => /^\d{20}\.log$/.test(name)).sort()
  return logs[logs.length - 1]!
}

/**
 * A crash image: nine idempotent batches of one producer (the codecs cycle; a roll or two
 * on the way), the last one compressed with `codec`, and the files as a killed writer
 * leaves them (no clean-shutdown marker, its lock dropped).
 */
async function crashImage(codec: CompressionCodec, segmentBytes: number) {
  const image = tempDir()
  const log = await openLog(image, { segmentBytes, indexIntervalBytes: 64 })
  const sent: Sent[] = []
  let sequence = 0
  const append = async (records: RecordInput[], compression: CompressionCodec): Promise<void> => {
    const options: AppendOptions = { compression, producer: { producerId: PRODUCER_ID, producerEpoch: 0, baseSequence: sequence } }
    sequence += records.length
    sent.push({ records, options, offsets: await log.append(records, options) })
  }
  for (let b = 0; b < 8; b++) await append(recordsFrom(b * 2, 2), COMPRESSION_CODECS[b % COMPRESSION_CODECS.length]!)
  const sizes = new Map(fs.readdirSync(image).map((name) => [name, fs.statSync(path.join(image, name)).size]))
  const prefix = (await readAll(log)).map(plain)
  await append(recordsFrom(100, 3), codec)
  // The last batch may have rolled the segment: then it is the first of a new file.
  const file = activeLog(image)
  const lastBatchStart = sizes.get(file) ?? 0
  const size = fs.statSync(path.join(image, file)).size
  const snapshot = tempDir()
  fs.cpSync(image, snapshot, { recursive: true })
  fs.rmSync(path.join(snapshot, '.lock'), { recursive: true, force: true })
  await log.close()
  expect(fs.existsSync(path.join(snapshot, 'clean-shutdown.json'))).toBe(false)
  return { image: snapshot, file, lastBatchStart, size, prefix, sent }
}

function garbage(seed: number, n: number): Buffer {
  const out = Buffer.alloc(n)
  let state = seed >>> 0
  for (let i = 0; i < n; i++) {
    state = (state * 1103515245 + 12345) >>> 0
    out[i] = state >>> 24
  }
  return out
}

describe('torn tail: every cut point inside a compressed last batch', () => {
  for (const codec of CODECS) {
    const layout = LAYOUTS[codec]!
    it(`${codec}, ${layout.where}: recovery ends at the batch before, serves nothing torn, and the producer's retry of the torn batch is new`, async () => {
      const { image, file, lastBatchStart, size, prefix, sent } = await crashImage(codec, layout.segmentBytes)
      expect(lastBatchStart === 0, `the torn batch is ${layout.where}`).toBe(layout.startsSegment)
      const torn = sent[sent.length - 1]!
      const before = sent[sent.length - 2]!
      const lastBase = torn.offsets.baseOffset
      expect(fs.readdirSync(image), 'a roll wrote a producer-state snapshot before the crash').toContain('producer-state.snapshot')
      expect(size - lastBatchStart).toBeGreaterThan(BATCH_HEADER_BYTES)
      const variants: Array<[string, (file: string, cut: number) => void]> = [
        ['truncated', (target, cut) => fs.truncateSync(target, cut)],
        ['overwritten with garbage', (target, cut) => {
          const fd = fs.openSync(target, 'r+')
          fs.writeSync(fd, garbage(cut, size - cut), 0, size - cut, cut)
          fs.closeSync(fd)
        }],
      ]
      const cuts: Array<[string, (file: string, cut: number) => void, number]> = []
      for (let cut = lastBatchStart; cut < size; cut++) {
        cuts.push([...variants[0]!, cut])
        if (cut < lastBatchStart + BATCH_HEADER_BYTES || (cut - lastBatchStart) % GARBAGE_STRIDE === 0) cuts.push([...variants[1]!, cut])
      }
      const scratch = scratchDir()
      let checked = 0
      await inParallel(cuts, PARALLEL_OPENS, async ([name, damage, cut]) => {
        const what = `${codec}, ${name} at byte ${cut}`
        const dir = path.join(scratch, `${name.length}-${cut}`)
        fs.cpSync(image, dir, { recursive: true })
        damage(path.join(dir, file), cut)
        const log = await openFast(dir, { segmentBytes: layout.segmentBytes })
        try {
          expect(log.endOffset, what).toBe(lastBase)
          expect((await readAll(log)).map(plain), what).toEqual(prefix)
          expect(fs.statSync(path.join(dir, file)).size, what).toBe(lastBatchStart)
          // The producer never got an answer for the torn batch: sent again, it is new, at the end.
          expect(await log.append(torn.records, torn.options), `${what}: the torn batch sent again`).toEqual(torn.offsets)
          // The batch before it was acknowledged: sent again, it is a duplicate.
          expect(await log.append(before.records, before.options), `${what}: the batch before sent again`).toEqual(before.offsets)
          expect((await readAll(log)).map(plain), what).toEqual([...prefix, ...torn.records.map(plain)])
        } finally {
          await log.close()
        }
        fs.rmSync(dir, { recursive: true })
        checked++
      })
      expect(checked).toBe(cuts.length)
      expect(cuts.filter(([name]) => name === 'truncated').length).toBe(size - lastBatchStart)
      // The untouched image recovers everything, the last batch included, and knows it.
      const whole = await openFast(image, { segmentBytes: layout.segmentBytes })
      expect(whole.endOffset).toBe(lastBase + 3)
      expect(await whole.append(torn.records, torn.options)).toEqual(torn.offsets)
      expect(whole.endOffset).toBe(lastBase + 3)
      await whole.close()
    })
  }
})

/** The plain records region of a batch (decompressed when it is compressed). */
function recordsRegionOf(batch: Buffer, codec: CompressionCodec): Buffer {
  const payload = batch.subarray(BATCH_HEADER_BYTES)
  return codec === 'none' ? Buffer.from(payload) : decompress(codec, payload, 1 << 20)
}

/** `batch` with its records region replaced by `payload` (already compressed as its codec says), its length and CRC made to match. */
function withPayload(batch: Buffer, payload: Buffer): Buffer {
  const out = Buffer.concat([batch.subarray(0, BATCH_HEADER_BYTES), payload])
  out.writeInt32BE(out.length - BATCH_LOG_OVERHEAD_BYTES, OFFSET_BATCH_LENGTH)
  stampCrc(out)
  return out
}

function compressed(codec: CompressionCodec, region: Buffer): Buffer {
  return codec === 'none' ? region : compress(codec, region)
}

/** Byte ranges of each record (length varint included) in a plain records region. */
function recordSpans(region: Buffer): Array<{ start: number; end: number; offsetDeltaAt: number }> {
  const out: VarintOut = { value: 0, next: 0 }
  const spans: Array<{ start: number; end: number; offsetDeltaAt: number }> = []
  for (let at = 0; at < region.length; ) {
    readZigzagVarlong(region, at, region.length, out)
    const bodyStart = out.next
    const end = bodyStart + out.value
    readZigzagVarlong(region, bodyStart + 1, end, out) // timestamp delta, after the attributes byte
    spans.push({ start: at, end, offsetDeltaAt: out.next })
    at = end
  }
  return spans
}

interface VarintOut {
  value: number
  next: number
}

/** A closed log: B0 (2 records, plain), B1 (3 records, `codec`), B2 (1 record, plain); where B1 lies in the file. */
async function threeBatches(codec: CompressionCodec) {
  const dir = scratchDir()
  const log = await openFast(dir, { segmentBytes: 1 << 20 })
  const b0 = recordsFrom(0, 2)
  const b1 = recordsFrom(10, 3)
  const b2 = recordsFrom(20, 1)
  await log.append(b0)
  await log.append(b1, { compression: codec })
  await log.append(b2)
  await log.close()
  const file = path.join(dir, activeLog(dir))
  const bytes = fs.readFileSync(file)
  const b1Start = readBatchHeader(bytes, 0).sizeBytes
  const b1Size = readBatchHeader(bytes, b1Start).sizeBytes
  return { dir, file, bytes, b1Start, b1Size, b0, b2 }
}

/**
 * Writes the file with B1 replaced by `crafted` and drops the indexes and the
 * clean-shutdown marker, so that the open recovers (and checks) every batch; then opens it.
 */
async function openCrafted(setup: Awaited<ReturnType<typeof threeBatches>>, crafted: Buffer): Promise<PartitionLog> {
  const { dir, file, bytes, b1Start, b1Size } = setup
  fs.writeFileSync(file, Buffer.concat([bytes.subarray(0, b1Start), crafted, bytes.subarray(b1Start + b1Size)]))
  for (const name of fs.readdirSync(dir)) {
    if (/\.(index|timeindex)$/.test(name) || name === 'clean-shutdown.json' || name === 'recovery-point.json') fs.rmSync(path.join(dir, name))
  }
  return openFast(dir)
}

/**
 * What a read of the crafted batch must give: CORRUPT_BATCH, with nothing of it served;
 * the batch before it reads whole (a read from the start stops before the bad batch), and
 * so does the one after it. Returns whether the damage was caught.
 */
async function checkCrafted(log: PartitionLog, setup: Awaited<ReturnType<typeof threeBatches>>, what: string, mustCatch: boolean): Promise<boolean> {
  expect(log.endOffset, `${what}: the CRC matches, so recovery keeps every batch`).toBe(6)
  const head = await log.read(0, { maxBytes: 1 })
  expect(head.records.map(plain), `${what}: the batch before reads whole`).toEqual(setup.b0.map(plain))
  expect((await log.read(5)).records.map(plain), `${what}: the batch after reads whole`).toEqual(setup.b2.map(plain))
  let records: StoredRecord[] | null = null
  try {
    records = (await log.read(2, { maxBytes: 1 })).records
  } catch (error) {
    expect(isSpoolError(error, 'CORRUPT_BATCH'), `${what}: ${String(error)}`).toBe(true)
  }
  if (mustCatch) expect(records?.map((r) => r.offset), `${what}: reported as CORRUPT_BATCH, not served`).toBeUndefined()
  // Not caught (a flipped value byte in a codec without a checksum of its own decodes): the records are whole ones, at the batch's offsets.
  if (records !== null) expect(records.map((r) => r.offset), `${what}: records served from the crafted batch are at its offsets`).toEqual([2, 3, 4])
  return records === null
}

describe('a compressed batch with a damaged payload and a matching CRC (a crafted file)', () => {
  for (const codec of COMPRESSION_CODECS) {
    it(`${codec}: is CORRUPT_BATCH on read, never a crash nor records that are not whole`, async () => {
      const setup = await threeBatches(codec)
      const original = setup.bytes.subarray(setup.b1Start, setup.b1Start + setup.b1Size)
      const payload = original.subarray(BATCH_HEADER_BYTES)
      const region = recordsRegionOf(original, codec)
      const spans = recordSpans(region)
      expect(spans.length).toBe(3)
      const crafts: Array<[string, Buffer]> = [
        ['payload replaced by noise', withPayload(original, garbage(7, payload.length))],
        ['payload cut in half', withPayload(original, payload.subarray(0, payload.length >> 1))],
        ['second half of the payload zeroed', withPayload(original, Buffer.concat([payload.subarray(0, payload.length >> 1), Buffer.alloc(payload.length - (payload.length >> 1))]))],
        ['a payload that decompresses to no records', withPayload(original, compressed(codec, Buffer.alloc(64, 0xff)))],
        ['a payload one record short of the count', withPayload(original, compressed(codec, region.subarray(0, spans[1]!.end)))],
      ]
      for (const [name, crafted] of crafts) {
        const log = await openCrafted(setup, crafted)
        await checkCrafted(log, setup, `${codec}, ${name}`, true)
        await log.close()
      }
      // One byte flipped at every position of the payload: caught, or (a value byte in a
      // codec without a checksum of its own) decoded into whole records at the batch's offsets.
      let caught = 0
      for (let at = 0; at < payload.length; at++) {
        const flipped = Buffer.from(payload)
        flipped[at]! ^= 0x5a
        const log = await openCrafted(setup, withPayload(original, flipped))
        if (await checkCrafted(log, setup, `${codec}, byte ${at} of the payload flipped`, false)) caught++
        await log.close()
      }
      expect(caught, `${codec}: some flips are caught`).toBeGreaterThan(0)
    })

    it(`${codec}: a record claiming an offset outside its batch is CORRUPT_BATCH, not served at that offset`, async () => {
      const setup = await threeBatches(codec)
      const original = setup.bytes.subarray(setup.b1Start, setup.b1Start + setup.b1Size)
      const region = recordsRegionOf(original, codec)
      const outside = Buffer.from(region)
      outside[recordSpans(region)[2]!.offsetDeltaAt] = 2 * 9 // zigzag(9): the third record claims offset delta 9, past the batch's last (2)
      const log = await openCrafted(setup, withPayload(original, compressed(codec, outside)))
      await checkCrafted(log, setup, `${codec}, a record whose offset lies outside the batch`, true)
      await log.close()
    })
  }
})
