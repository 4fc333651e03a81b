import fs from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import type { ProducerIdentity } from '../../src/record/batch-encoder.js'
import type { PartitionLog } from '../../src/storage/partition-log.js'
import { PRODUCER_STATE_FILE } from '../../src/storage/paths.js'
import { ProducerStateTable } from '../../src/storage/producer-state.js'
import { expectCode } from '../helpers/expect-code.js'
import { openLog } from '../helpers/open-log.js'
import { readAll } from '../helpers/read-all.js'
import { batchOf } from '../helpers/records.js'
import { tempDir } from '../helpers/temp-dir.js'

const producer = (baseSequence: number, producerEpoch = 0, producerId = 7): ProducerIdentity => ({ producerId, producerEpoch, baseSequence })

async function count(log: PartitionLog): Promise<number> {
  return (await readAll(log)).length
}

describe('idempotent appends', () => {
  it('store a batch sent again once, answering with the offsets it got the first time', async () => {
    const log = await openLog(tempDir())
    try {
      await log.append(batchOf(0, 2))
      const first = await log.append(batchOf(10, 3), { producer: producer(0) })
      const second = await log.append(batchOf(20, 2), { producer: producer(3) })
      expect(await log.append(batchOf(10, 3), { producer: producer(0) })).toEqual(first)
      expect(await log.append(batchOf(20, 2), { producer: producer(3) })).toEqual(second)
      expect(log.endOffset).toBe(7)
      expect(await count(log)).toBe(7)
    } finally {
      await log.close()
    }
  })

  it('answers a duplicate queued in the same group as its original, once that is durable', async () => {
    const log = await openLog(tempDir())
    try {
      const [a, b] = await Promise.all([log.append(batchOf(0, 2), { producer: producer(0) }), log.append(batchOf(0, 2), { producer: producer(0) })])
      expect(b).toEqual(a)
      expect(await count(log)).toBe(2)
    } finally {
      await log.close()
    }
  })

  it('refuse a gap in the sequence, and an older epoch, with their own codes', async () => {
    const log = await openLog(tempDir())
    try {
      await log.append(batchOf(0, 2), { producer: producer(0, 1) })
      await expectCode(log.append(batchOf(0, 1), { producer: producer(5, 1) }), 'OUT_OF_ORDER_SEQUENCE')
      await expectCode(log.append(batchOf(0, 1), { producer: producer(2, 0) }), 'PRODUCER_FENCED')
      // A new epoch starts again at sequence 0.
      await log.append(batchOf(0, 1), { producer: producer(0, 2) })
      expect(await count(log)).toBe(3)
    } finally {
      await log.close()
    }
  })

  it('recognise duplicates after a clean close, from the snapshot', async () => {
    const dir = tempDir()
    let log = await openLog(dir)
    const first = await log.append(batchOf(0, 4), { producer: producer(0) })
    await log.close()
    expect(fs.existsSync(path.join(dir, PRODUCER_STATE_FILE))).toBe(true)
    log = await openLog(dir)
    try {
      expect(await log.append(batchOf(0, 4), { producer: producer(0) })).toEqual(first)
      expect(await count(log)).toBe(4)
    } finally {
      await log.close()
    }
  })

  it('rebuild the state from the log when the snapshot is missing or damaged', async () => {
    const dir = tempDir()
    let log = await openLog(dir, { segmentBytes: 400 })
    const results = []
    for (let i = 0; i < 10; i++) results.push(await log.append(batchOf(i * 2, 2), { producer: producer(i * 2) }))
    await log.close()
    const warnings: string[] = []
    fs.writeFileSync(path.join(dir, PRODUCER_STATE_FILE), 'not a snapshot')
    log = await openLog(dir, { segmentBytes: 400, logger: { warn: (m) => void warnings.push(m) } })
    try {
      expect(log.segmentCount).toBeGreaterThan(2)
      // The last five batches of the producer are recognised; the sixth-newest no longer is.
      for (let i = 5; i < 10; i++) expect(await log.append(batchOf(i * 2, 2), { producer: producer(i * 2) })).toEqual(results[i])
      await expectCode(log.append(batchOf(8, 2), { producer: producer(8) }), 'OUT_OF_ORDER_SEQUENCE')
      expect(await count(log)).toBe(20)
      expect(warnings.join('\n')).toMatch(/damaged; rebuilding/)
    } finally {
      await log.close()
    }
  })

  it('a snapshot covering more than the log holds is not trusted', async () => {
    const dir = tempDir()
    let log = await openLog(dir)
    await log.append(batchOf(0, 2), { producer: producer(0) })
    await log.close()
    // A later state of a longer log, as if the log had lost its tail since.
    log = await openLog(dir)
    await log.append(batchOf(2, 2), { producer: producer(2) })
    await log.close()
    const longer = fs.readFileSync(path.join(dir, PRODUCER_STATE_FILE))
    fs.rmSync(dir, { recursive: true })
    log = await openLog(dir)
    await log.append(batchOf(0, 2), { producer: producer(0) })
    await log.close()
    fs.writeFileSync(path.join(dir, PRODUCER_STATE_FILE), longer)
    log = await openLog(dir)
    try {
      // The snapshot says sequence 2..3 sits at offsets 2..3, which this log does not hold: it must not answer with them.
      const appended = await log.append(batchOf(2, 2), { producer: producer(2) })
      expect(appended).toEqual({ baseOffset: 2, lastOffset: 3 })
      expect(await count(log)).toBe(4)
    } finally {
      await log.close()
    }
  })

  it('under log-append time, recognise a retry after a reopen although the producer stamped its records long ago', async () => {
    const dir = tempDir()
    const clock = (): number => 1_800_000_000_000
    let log = await openLog(dir, { timestampType: 'logAppend', clock })
    const ancient = batchOf(0, 2).map((record) => ({ ...record, timestamp: 1000 }))
    const first = await log.append(ancient, { producer: producer(0) })
    await log.close()
    log = await openLog(dir, { timestampType: 'logAppend', clock })
    try {
      expect(await log.append(ancient, { producer: producer(0) })).toMatchObject({ baseOffset: first.baseOffset, lastOffset: first.lastOffset })
      expect(await count(log)).toBe(2)
    } finally {
      await log.close()
    }
  })

  it('a roll snapshots the state where the sealed segments end, so that retention and compaction lose nothing a retry needs', async () => {
    const dir = tempDir()
    const log = await openLog(dir, { segmentBytes: 300 })
    try {
      for (let i = 0; i < 10; i++) await log.append(batchOf(i * 3, 3), { producer: producer(i * 3) })
      const snapshot = ProducerStateTable.decodeSnapshot(fs.readFileSync(path.join(dir, PRODUCER_STATE_FILE)))
      expect(snapshot?.coversUpTo).toBe(log.segmentList.at(-1)!.baseOffset)
      expect(snapshot?.table.entry(7)?.batches.length).toBeGreaterThan(0)
    } finally {
      await log.close()
    }
  })
})
