import { afterEach, describe, expect, it, vi } from 'vitest'
import type { ResolvedConsumerOptions } from '../../src/client/consumer-options.js'
import { Fetcher } from '../../src/client/consumer/fetcher.js'
import { Lifecycle } from '../../src/client/consumer/lifecycle.js'
import { type OwnedPartition, OwnedPartitions } from '../../src/client/consumer/owned-partitions.js'
import type { ConsumedRecord } from '../../src/client/reader.js'
import type { PartitionLog } from '../../src/storage/partition-log.js'
import { CHILD_SAFETY_TIMEOUT_MS } from '../helpers/safety-timeout.js'

/** vi.waitFor gives up after 1 s by default: a speed check on a loaded machine. */
const WAIT = { timeout: CHILD_SAFETY_TIMEOUT_MS, interval: 5 }

/** A partition log of `count` records with values of `valueBytes` bytes; `hold()` makes reads wait until released. */
function fakeLog(count: number, valueBytes: number) {
  let gate: Promise<void> | null = null
  const log = {
    startOffset: 0,
    endOffset: count,
    async read(from: number, options: { maxBytes?: number } = {}) {
      if (gate !== null) await gate
      const records: ConsumedRecord[] = []
      const maxBytes = options.maxBytes ?? Infinity
      for (let offset = from; offset < log.endOffset && (records.length === 0 || (records.length + 1) * valueBytes <= maxBytes); offset++) {
        records.push({ topic: 't', partition: 0, offset, timestamp: 0, key: null, value: Buffer.alloc(valueBytes), headers: [] })
      }
      return { records, nextOffset: from + records.length }
    },
    onAppend: () => () => undefined,
    hold(): () => void {
      let release!: () => void
      gate = new Promise<void>((resolve) => (release = resolve))
      return () => {
        gate = null
        release()
      }
    },
  }
  return log
}

const started: Lifecycle[] = []

function startFetcher(log: ReturnType<typeof fakeLog>, bounds: { maxPrefetchRecords: number; maxPrefetchBytes: number }) {
  const options = { group: 'g', resetPolicy: 'earliest', ...bounds } as ResolvedConsumerOptions
  const lifecycle = new Lifecycle('g', () => undefined)
  started.push(lifecycle)
  const partitions = new OwnedPartitions('g')
  const fetcher = new Fetcher({ options, logger: { warn: () => undefined }, partitions, lifecycle, onBuffered: () => undefined })
  const p: OwnedPartition = {
    topic: 't',
    partition: 0,
    key: 't:0',
    log: log as unknown as PartitionLog,
    fetchOffset: 0,
    processedOffset: 0,
    committedOffset: null,
    epoch: 0,
    revoking: false,
    unsubscribe: () => undefined,
  }
  partitions.add(p)
  fetcher.wake()
  return { fetcher, partitions, p, stop: () => lifecycle.markClosed() }
}

const settle = (): Promise<void> => new Promise((resolve) => setImmediate(resolve))
const offsets = (records: readonly ConsumedRecord[] | undefined): number[] => (records ?? []).map((r) => r.offset)

describe('consumer fetcher: the read-ahead data path', () => {
  afterEach(() => {
    for (const lifecycle of started.splice(0)) lifecycle.markClosed()
  })

  it('reads ahead no further than its credit, reads on as records are taken, and hands them out in offset order with no gap', async () => {
    const { fetcher } = startFetcher(fakeLog(100, 10), { maxPrefetchRecords: 10, maxPrefetchBytes: 1_000 })
    await vi.waitFor(() => expect(fetcher.buffered.records).toBe(10), WAIT)
    await settle()
    expect(fetcher.buffered).toEqual({ records: 10, bytes: 100 }) // full: it stopped reading
    const taken: number[] = []
    for (let turn = 0; taken.length < 100 && turn < 10_000; turn++) {
      const chunk = fetcher.take(7)
      if (chunk === null) await settle()
      taken.push(...offsets(chunk?.records))
      expect(fetcher.buffered.records).toBeLessThanOrEqual(10)
    }
    expect(taken).toEqual(Array.from({ length: 100 }, (_, i) => i))
  })

  it('keeps to the byte bound, except for one record larger than it while nothing else is buffered', async () => {
    const small = startFetcher(fakeLog(100, 10), { maxPrefetchRecords: 1_000, maxPrefetchBytes: 50 })
    await vi.waitFor(() => expect(small.fetcher.buffered.records).toBe(5), WAIT)
    await settle()
    expect(small.fetcher.buffered).toEqual({ records: 5, bytes: 50 })

    const large = startFetcher(fakeLog(3, 100), { maxPrefetchRecords: 1_000, maxPrefetchBytes: 50 })
    await vi.waitFor(() => expect(large.fetcher.buffered.records).toBe(1), WAIT)
    await settle()
    expect(large.fetcher.buffered).toEqual({ records: 1, bytes: 100 }) // it moves, alone
    expect(offsets(large.fetcher.take(10)?.records)).toEqual([0])
    await vi.waitFor(() => expect(offsets(large.fetcher.take(10)?.records)).toEqual([1]), WAIT)
  })

  it('throws away a read that a seek overtook, and reads on from the seek', async () => {
    const log = fakeLog(100, 10)
    const release = log.hold()
    const { fetcher, p } = startFetcher(log, { maxPrefetchRecords: 5, maxPrefetchBytes: 1_000 })
    await settle() // the read from 0 is waiting
    fetcher.seek(p, 50)
    expect(p).toMatchObject({ fetchOffset: 50, processedOffset: 50, epoch: 1 })
    release()
    await vi.waitFor(() => expect(fetcher.buffered.records).toBe(5), WAIT)
    expect(offsets(fetcher.take(10)?.records)).toEqual([50, 51, 52, 53, 54])
  })

  it('a pause drops the read-ahead, and after resume reading goes on from the first record not taken', async () => {
    const { fetcher, partitions, p } = startFetcher(fakeLog(100, 10), { maxPrefetchRecords: 10, maxPrefetchBytes: 1_000 })
    await vi.waitFor(() => expect(fetcher.buffered.records).toBe(10), WAIT)
    expect(offsets(fetcher.take(3)?.records)).toEqual([0, 1, 2])
    partitions.pause(p.key)
    fetcher.rewind(p.key)
    expect(fetcher.buffered.records).toBe(0)
    expect(p.fetchOffset).toBe(3)
    await settle()
    expect(fetcher.buffered.records).toBe(0) // paused: nothing read, nothing handed out
    partitions.resume(p.key)
    fetcher.wake()
    await vi.waitFor(() => expect(fetcher.buffered.records).toBe(10), WAIT)
    expect(offsets(fetcher.take(2)?.records)).toEqual([3, 4])
  })

  it('waits for credit instead of reading the record that does not fit again and again', async () => {
    const log = fakeLog(10, 100)
    let reads = 0
    const read = log.read.bind(log)
    log.read = async (from, options) => (reads++, read(from, options))
    const { fetcher } = startFetcher(log, { maxPrefetchRecords: 1_000, maxPrefetchBytes: 150 })
    await vi.waitFor(() => expect(fetcher.buffered.records).toBe(1), WAIT)
    for (let i = 0; i < 50; i++) await settle()
    // One read filled the buffer and one found the next record too large: then it waits.
    expect(reads).toBeLessThanOrEqual(3)
    expect(offsets(fetcher.take(10)?.records)).toEqual([0])
    await vi.waitFor(() => expect(offsets(fetcher.take(10)?.records)).toEqual([1]), WAIT)
  })
})
