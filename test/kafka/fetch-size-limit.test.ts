import { afterEach, expect, it } from 'vitest'
import type { Spool } from '../../src/client/spool.js'
import { handleFetch } from '../../src/kafka/handlers/fetch.js'
import type { RequestContext } from '../../src/kafka/handlers/handler.js'
import { openTestSpool } from '../helpers/open-spool.js'
import { tempDir } from '../helpers/temp-dir.js'

const opened: Spool[] = []
afterEach(async () => {
  for (const spool of opened.splice(0)) await spool.close()
})

it('one Fetch cannot make the broker read (and hold) more than a bounded response (Kafka: fetch.max.bytes, 55 MiB)', async () => {
  const spool = await openTestSpool(tempDir())
  opened.push(spool)
  await spool.createTopic('t', { partitions: 1, flush: 'never' })
  const broker = await spool.kafkaBroker({ autoCreateTopics: false })
  const log = await broker.log('t', 0)
  const value = Buffer.alloc(1 << 20, 7)
  for (let i = 0; i < 80; i++) await log.append([{ key: null, value }]) // 80 MiB
  const context: RequestContext = { apiVersion: 11, clientId: 'x', broker, advertised: { host: '127.0.0.1', port: 9092 }, signal: new AbortController().signal, afterResponse: () => undefined }
  const huge = 2 ** 31 - 1
  const response: any = await handleFetch({
    replicaId: -1, maxWaitMs: 0, minBytes: 1, maxBytes: huge, isolationLevel: 0, sessionId: 0, sessionEpoch: -1,
    topics: [{ topic: 't', partitions: [{ partition: 0, currentLeaderEpoch: -1, fetchOffset: 0, logStartOffset: -1, partitionMaxBytes: huge }] }],
    forgottenTopicsData: [], rackId: '',
  }, context)
  const records: Buffer[] = response.responses[0].partitions[0].records
  const bytes = records.reduce((n, c) => n + c.length, 0)
  const backing = new Set(records.map((c) => c.buffer)).size
  console.log('bytes in one response', bytes, 'in', backing, 'buffer(s)')
  expect(bytes).toBeLessThanOrEqual(64 * 1024 * 1024)
})
