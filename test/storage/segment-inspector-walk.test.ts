import crypto from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { DEFAULT_MAX_BATCH_BYTES } from '../../src/limits.js'
import { OFFSET_CRC } from '../../src/record/batch-format.js'
import { writeInt64 } from '../../src/record/int64.js'
import type { StoredRecord } from '../../src/record/types.js'
import { nodeIO } from '../../src/storage/io.js'
import { type BatchReport, type InspectOptions, type LogItem, inspectLog, walkLog } from '../../src/storage/segment-inspector.js'
import { layoutOfLog } from '../fault/damage.js'
import { openLog } from '../helpers/open-log.js'
import { tempDir } from '../helpers/temp-dir.js'

/** A record as text, taken when it is seen (walkLog's records are views of buffers it reuses). */
const recordText = (r: StoredRecord): string =>
  `${r.offset}/${r.timestamp}/${r.key?.toString('hex') ?? 'null'}/${r.value === null ? 'null' : crypto.createHash('sha256').update(r.value).digest('hex')}/${r.headers.length}`

const batchText = ({ records, ...batch }: BatchReport): string => JSON.stringify({ ...batch, records: records?.map(recordText) })

/** What inspectLog reports (it keeps everything), as the items walkLog hands over, in file order. */
async function inspected(file: string, options: InspectOptions): Promise<string[]> {
  const report = await inspectLog(nodeIO, file, options)
  const items = [
    ...report.batches.map((b) => ({ at: b.position, text: batchText(b) })),
    ...report.skipped.map((s) => ({ at: s.position, text: JSON.stringify({ kind: 'skipped', ...s }) })),
    ...(report.unreadable === null ? [] : [{ at: report.unreadable.position, text: JSON.stringify({ kind: 'unreadable', ...report.unreadable }) }]),
  ]
  return items.sort((a, b) => a.at - b.at).map((item) => item.text)
}

/** What walkLog hands over, each item read when it is handed over, after a turn of the event loop (as a slow stdout makes it wait). */
async function walked(file: string, options: InspectOptions): Promise<string[]> {
  const seen: string[] = []
  const text = (item: LogItem): string => {
    if (item.kind === 'batch') return batchText(item.batch)
    const { kind, ...rest } = item
    return JSON.stringify({ kind, ...rest })
  }
  await walkLog(nodeIO, file, options, {
    item: async (item) => {
      await new Promise((resolve) => setImmediate(resolve))
      seen.push(text(item))
    },
  })
  return seen
}

describe('walkLog', () => {
  it('hands over what inspectLog reports, records intact, for batches larger than its read chunks, with damage between them', async () => {
    // Batches of 1.5 MB: each larger than a read chunk (1 MiB), so that the batch held back
    // for the offset check shares its buffers with the next two reads.
    const dir = tempDir('spool-walk-')
    const log = await openLog(dir, { flush: 'never' })
    const pool = crypto.randomBytes(2 << 20)
    for (let b = 0; b < 10; b++) {
      const size = b % 3 === 0 ? 300_000 : b % 3 === 1 ? 150 : 280_000
      await log.append(Array.from({ length: 5 }, (_, r) => ({ key: Buffer.from(`k${b}.${r}`), value: pool.subarray(b * 1000 + r, b * 1000 + r + size) })))
    }
    await log.close()
    const file = path.join(dir, '00000000000000000000.log')
    const layout = layoutOfLog(file, 0)
    const intact = fs.readFileSync(file)
    const at = (i: number): number => layout[i]!.position
    // Each damage, and what the report must then hold.
    const damages: Array<[string, (bytes: Buffer) => Buffer, RegExp]> = [
      ['none', (bytes) => bytes, /"ok":true/],
      ['a bad CRC', (bytes) => (bytes.writeUInt8(bytes[at(4) + OFFSET_CRC]! ^ 1, at(4) + OFFSET_CRC), bytes), /CRC mismatch/],
      ['a base offset out of order', (bytes) => (writeInt64(bytes, at(6), layout[3]!.baseOffset), bytes), /is not above the previous batch/],
      ['a broken frame', (bytes) => (bytes.writeInt32BE(3, at(2) + 8), bytes), /"kind":"skipped"/],
      ['a cut tail', (bytes) => bytes.subarray(0, at(9) + 100), /"kind":"unreadable"/],
    ]
    for (const [name, damage, shows] of damages) {
      fs.writeFileSync(file, damage(Buffer.from(intact)))
      for (const options of [{ records: true }, { checkRecords: true }, {}]) {
        const walkOptions = { ...options, maxBatchBytes: DEFAULT_MAX_BATCH_BYTES }
        const expected = await inspected(file, walkOptions)
        expect(expected.length, name).toBeGreaterThan(5)
        expect(expected.join('\n'), name).toMatch(shows)
        expect(await walked(file, walkOptions), `${name} ${JSON.stringify(options)}`).toEqual(expected)
      }
    }
  })
})
