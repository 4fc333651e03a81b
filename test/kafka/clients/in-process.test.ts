/**
 * One log, two ways in: an application that listens keeps producing and consuming
 * in-process while kcat, in another process, does the same over the wire.
 * - Records kcat produces reach, while the listener runs (no reopen, no close), both an
 *   in-process group consumer (spool.consumer) and spool.read(…, { follow: true }) that
 *   were already waiting at the end of the log: they are woken by the appends themselves.
 *   The test waits for them with no clock of its own (the suite's safety timeout is the
 *   only limit), so "at once" means "without anything else happening".
 * - Records an in-process producer sends are read by kcat, byte for byte, each key on
 *   the partition the in-process partitioner chose (which is Java's).
 */
import { afterEach, describe, expect, it } from 'vitest'
import type { ConsumedRecord } from '../../../src/client/reader.js'
import { KCAT_DELIMITERS, describeFailure, kcatConsume, kcatProduce } from '../../helpers/kafka-kcat.js'
import { type ReadRecord, keyedRecords, roundTripProblems } from '../../helpers/kafka-records.js'
import { type InProcessServer, listenInProcess } from '../../helpers/kafka-server.js'
import { tempDir } from '../../helpers/temp-dir.js'

const PARTITIONS = 2
const RECORDS = 500

let server: InProcessServer | null = null
afterEach(async () => {
  await server?.close()
  server = null
})

function readRecord(record: ConsumedRecord): ReadRecord {
  return { partition: record.partition, offset: record.offset, key: record.key && Buffer.from(record.key), value: record.value && Buffer.from(record.value) }
}

/** Resolves when `list` holds `count` items; checked each time one arrives (`notify`). */
function waiter(list: unknown[], count: number): { notify: () => void; done: Promise<void> } {
  let resolve!: () => void
  const done = new Promise<void>((r) => (resolve = r))
  const notify = (): void => {
    if (list.length >= count) resolve()
  }
  return { notify, done }
}

describe('kcat and the application that listens share one log', () => {
  it('records kcat produces reach a waiting in-process consumer and spool.read({ follow: true }) while the listener runs', async () => {
    const dir = tempDir('spool-interplay-')
    const topic = 'from-kcat'
    server = await listenInProcess(dir, { [topic]: { partitions: PARTITIONS } })
    const spool = server.spool

    // A group consumer, joined and waiting at the (empty) end of the log.
    const consumed: ReadRecord[] = []
    const consumedAll = waiter(consumed, RECORDS)
    const consumer = spool.consumer({ group: 'in-process', topics: [topic] })
    const consuming = consumer.run({
      eachRecord: async (record: ConsumedRecord) => {
        consumed.push(readRecord(record))
        consumedAll.notify()
      },
    })

    // Followers on every partition, also waiting at the end.
    const followed: ReadRecord[] = []
    const followedAll = waiter(followed, RECORDS)
    const stop = new AbortController()
    const following = Array.from({ length: PARTITIONS }, async (_, partition) => {
      for await (const record of spool.read(topic, { partition, follow: true, signal: stop.signal })) {
        followed.push(readRecord(record))
        followedAll.notify()
      }
    })

    const records = keyedRecords({ count: RECORDS, keys: 25, seed: 44, avoid: KCAT_DELIMITERS })
    const produced = await kcatProduce({ bootstrap: server.bootstrap, topic, dir, records })
    expect(produced.code, describeFailure('kcat -P', produced)).toBe(0)

    await Promise.all([consumedAll.done, followedAll.done])
    stop.abort()
    await Promise.all(following)
    await consumer.close()
    await consuming.catch(() => undefined)

    expect(roundTripProblems(records, followed, PARTITIONS)).toEqual([])
    expect(roundTripProblems(records, consumed, PARTITIONS)).toEqual([])
  })

  it('records produced in-process are read by kcat, byte for byte, on the partitions spool chose', async () => {
    const dir = tempDir('spool-interplay-out-')
    const topic = 'from-the-application'
    server = await listenInProcess(dir, { [topic]: { partitions: PARTITIONS } })
    const records = keyedRecords({ count: RECORDS, keys: 25, seed: 45 })
    const producer = server.spool.producer()
    const metadata = await producer.sendBatch(records.map((r) => ({ topic, key: r.key, value: r.value })))
    expect(metadata).toHaveLength(RECORDS)

    const { result, records: read } = await kcatConsume({ bootstrap: server.bootstrap, topic })
    expect(result.code, describeFailure('kcat -C', result)).toBe(0)
    expect(roundTripProblems(records, read, PARTITIONS)).toEqual([])
    // kcat sees each record where the in-process producer was told it went.
    const told = new Map(metadata.map((m, i) => [i, `${m.partition}@${m.offset}`]))
    for (const record of read) {
      const index = Number.parseInt(record.value!.subarray(0, 8).toString('latin1'), 16)
      expect(`${record.partition}@${record.offset}`).toBe(told.get(index))
    }
  })
})
