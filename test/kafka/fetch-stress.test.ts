/**
 * Fetches served from pooled read buffers stay whole and right while other fetches,
 * appends, stalled readers and read-ahead run at once: a buffer given back too early would
 * show up here as a batch that fails its CRC or carries another offset's value.
 */
import net from 'node:net'
import { afterEach, expect, it } from 'vitest'
import type { Spool } from '../../src/client/spool.js'
import { FETCH } from '../../src/kafka/apis/index.js'
import { decodeResponse, encodeRequest } from '../../src/kafka/protocol/frames.js'
import { batchChecksumFormat, decodeRecords, readBatchHeader } from '../../src/record/batch-decoder.js'
import type { StoredRecord } from '../../src/record/types.js'
import { batchOf } from '../helpers/records.js'
import { openTestSpool } from '../helpers/open-spool.js'
import { tempDir } from '../helpers/temp-dir.js'

/**
 * How long the fetches and appends run together: long enough for sealed-segment reads,
 * read-ahead and stalled readers to overlap many times; the assertions count, not time.
 */
const STRESS_MS = 3000

const spools: Spool[] = []
afterEach(async () => {
  await Promise.all(spools.splice(0).map((s) => s.close()))
})

/** A pipelining raw client whose reader stalls now and then (back pressure on the server's writes). */
function client(port: number, stallMs: number) {
  const socket = net.connect(port, '127.0.0.1')
  let buffered = Buffer.alloc(0)
  const waiting: Array<(frame: Buffer) => void> = []
  socket.on('data', (chunk) => {
    buffered = Buffer.concat([buffered, chunk])
    while (buffered.length >= 4) {
      const size = buffered.readInt32BE(0)
      if (buffered.length < 4 + size) break
      const frame = Buffer.from(buffered.subarray(4, 4 + size))
      buffered = buffered.subarray(4 + size)
      waiting.shift()!(frame)
    }
    if (stallMs > 0 && Math.random() < 0.3) {
      socket.pause()
      setTimeout(() => socket.resume(), stallMs)
    }
  })
  socket.on('error', () => undefined)
  let id = 0
  return {
    ready: new Promise<void>((resolve) => socket.once('connect', () => resolve())),
    fetch(offset: number, partitionMaxBytes: number, maxWaitMs = 0, minBytes = 1): Promise<any> {
      const frames = encodeRequest(FETCH, 11, { correlationId: ++id, clientId: 'stress' }, {
        replicaId: -1, maxWaitMs, minBytes, maxBytes: 8 << 20, isolationLevel: 0, sessionId: 0, sessionEpoch: -1,
        topics: [{ topic: 't', partitions: [{ partition: 0, currentLeaderEpoch: -1, fetchOffset: offset, logStartOffset: -1, partitionMaxBytes }] }],
        forgottenTopicsData: [], rackId: '',
      })
      const answer = new Promise<Buffer>((resolve) => waiting.push(resolve))
      for (const f of frames) socket.write(f)
      return answer.then((frame) => decodeResponse(FETCH, 11, frame).body)
    },
    close: () => socket.destroy(),
  }
}

function check(records: Buffer | null, fetchOffset: number, problems: string[]): number {
  if (records === null || records.length === 0) return 0
  let at = 0
  let seen = 0
  while (at + 61 <= records.length) {
    const header = readBatchHeader(records, at)
    if (at + header.sizeBytes > records.length) break // a partial batch at the end is allowed by Kafka
    if (batchChecksumFormat(records, at, header) !== 2) problems.push(`bad CRC at fetch ${fetchOffset}, batch ${header.baseOffset}`)
    const out: StoredRecord[] = []
    decodeRecords(records, at, header, 0, out)
    for (const r of out) {
      const value = Buffer.from(r.value!).toString('latin1')
      if (!value.startsWith(`v${r.offset}:`)) problems.push(`offset ${r.offset} carries ${value.slice(0, 12)} (fetch ${fetchOffset})`)
    }
    seen += out.length
    at += header.sizeBytes
  }
  return seen
}

it('every batch served under concurrent fetches, appends, stalls and read-ahead is whole and right', async () => {
  const spool = await openTestSpool(tempDir(), { cleanerIntervalMs: 0 })
  spools.push(spool)
  await spool.createTopic('t', { partitions: 1, segmentBytes: 256 * 1024, flush: 'never' })
  const { port } = await spool.listen({ host: '127.0.0.1', port: 0 })
  const broker = await spool.kafkaBroker({ autoCreateTopics: false })
  const log = await broker.log('t', 0)
  let next = 0
  const appendSome = async (n: number) => {
    for (let i = 0; i < n; i++) {
      const count = 1 + Math.floor(Math.random() * 20)
      await log.append(batchOf(next, count, 100 + Math.floor(Math.random() * 3000)))
      next += count
    }
  }
  await appendSome(400)
  const problems: string[] = []
  const clients = Array.from({ length: 8 }, (_, i) => client(port, i % 2 === 0 ? 5 : 0))
  await Promise.all(clients.map((c) => c.ready))
  const deadline = Date.now() + STRESS_MS
  let fetched = 0
  const writer = (async () => {
    while (Date.now() < deadline) await appendSome(5)
  })()
  await Promise.all(
    clients.map(async (c, i) => {
      // Sequential consumers (read-ahead hits) and random readers (read-ahead misses), several in flight each.
      let offset = 0
      while (Date.now() < deadline) {
        const offsets = Array.from({ length: 4 }, () => (i % 3 === 0 ? Math.floor(Math.random() * Math.max(1, log.endOffset)) : offset))
        const answers = await Promise.all(offsets.map((o) => c.fetch(o, [1 << 20, 64 << 10, 300 << 10][i % 3]!, i % 4 === 1 ? 50 : 0)))
        answers.forEach((a, k) => {
          const p = a.responses[0].partitions[0]
          if (p.errorCode !== 0) problems.push(`error ${p.errorCode} at ${offsets[k]}`)
          const n = check(p.records, offsets[k]!, problems)
          fetched += n
          if (k === 0 && n > 0) offset = offsets[0]! + 0
        })
        const first = answers[0].responses[0].partitions[0].records as Buffer | null
        if (i % 3 !== 0 && first !== null && first.length > 0) {
          // continue after the last whole batch of the first answer
          let at = 0
          let last = offset
          while (at + 61 <= first.length) {
            const h = readBatchHeader(first, at)
            if (at + h.sizeBytes > first.length) break
            last = h.baseOffset + h.lastOffsetDelta + 1
            at += h.sizeBytes
          }
          offset = last
        }
      }
    }),
  )
  await writer
  for (const c of clients) c.close()
  expect(problems.slice(0, 10)).toEqual([])
  console.log("fetched", fetched, "end", log.endOffset)
  expect(fetched).toBeGreaterThan(1000)
}, 60_000)
