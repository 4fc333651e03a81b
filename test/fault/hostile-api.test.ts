import { describe, expect, it } from 'vitest'
import type { SpoolErrorCode } from '../../src/errors.js'
import type { Spool } from '../../src/client/spool.js'
import { openTestSpool } from '../helpers/open-spool.js'
import { tempDir } from '../helpers/temp-dir.js'

/**
 * Wrong input from JavaScript callers (no compiler to stop them) across the public API:
 * each call fails with the stated code — for INVALID_ARGUMENT, naming the field — and the
 * data is as it was (checked at the end by reading everything back).
 */
type Call = [name: string, call: (spool: Spool) => unknown, code: SpoolErrorCode, field?: string]

const big = 'x'.repeat(2 * 1024 * 1024)
const p0 = { topic: 'orders', partition: 0 }
const anyArg = <T>(value: unknown): T => value as T

const calls: Call[] = [
  ['send: no options', (s) => s.producer().send(anyArg(undefined)), 'INVALID_ARGUMENT'],
  ['send: topic not a string', (s) => s.producer().send({ topic: anyArg(42), value: 'v' }), 'INVALID_TOPIC_NAME'],
  ['send: unknown topic', (s) => s.producer().send({ topic: 'nope', value: 'v' }), 'UNKNOWN_TOPIC'],
  ['send: value a number', (s) => s.producer().send({ topic: 'orders', value: anyArg(42) }), 'INVALID_ARGUMENT', 'record.value'],
  ['send: key an object', (s) => s.producer().send({ topic: 'orders', key: anyArg({}), value: 'v' }), 'INVALID_ARGUMENT', 'record.key'],
  ['send: negative partition', (s) => s.producer().send({ topic: 'orders', partition: -1, value: 'v' }), 'INVALID_ARGUMENT', 'partition'],
  ['send: fractional partition', (s) => s.producer().send({ topic: 'orders', partition: 0.5, value: 'v' }), 'INVALID_ARGUMENT', 'partition'],
  ['send: unknown partition', (s) => s.producer().send({ topic: 'orders', partition: 7, value: 'v' }), 'UNKNOWN_PARTITION'],
  ['send: timestamp a string', (s) => s.producer().send({ topic: 'orders', value: 'v', timestamp: anyArg('now') }), 'INVALID_ARGUMENT', 'record.timestamp'],
  ['send: headers a number', (s) => s.producer().send({ topic: 'orders', value: 'v', headers: anyArg(7) }), 'INVALID_ARGUMENT', 'record.headers'],
  ['send: header key not a string', (s) => s.producer().send({ topic: 'orders', value: 'v', headers: anyArg([{ key: 1, value: 'x' }]) }), 'INVALID_ARGUMENT', 'record.headers[0].key'],
  ['send: enormous header', (s) => s.producer().send({ topic: 'orders', value: 'v', headers: { h: big } }), 'RECORD_TOO_LARGE'],
  ['sendBatch: not an array', (s) => s.producer().sendBatch(anyArg('records')), 'INVALID_ARGUMENT'],
  ['read: no partition of two', (s) => s.read('orders').next(), 'INVALID_ARGUMENT', 'partition'],
  ['read: negative fromOffset', (s) => s.read('orders', { partition: 0, fromOffset: -1 }).next(), 'INVALID_ARGUMENT', 'fromOffset'],
  ['read: fractional fromOffset', (s) => s.read('orders', { partition: 0, fromOffset: 1.5 }).next(), 'INVALID_ARGUMENT', 'fromOffset'],
  ['read: fromOffset a string', (s) => s.read('orders', { partition: 0, fromOffset: anyArg('3') }).next(), 'INVALID_ARGUMENT', 'fromOffset'],
  ['read: beyond the end', (s) => s.read('orders', { partition: 0, fromOffset: 1_000 }).next(), 'OFFSET_OUT_OF_RANGE'],
  ['read: unknown partition', (s) => s.read('orders', { partition: 9 }).next(), 'UNKNOWN_PARTITION'],
  ['read: unknown topic', (s) => s.read('nope').next(), 'UNKNOWN_TOPIC'],
  ['read: options a string', (s) => s.read('orders', anyArg('fast')).next(), 'INVALID_ARGUMENT', 'options'],
  ['offsetForTimestamp: not a number', (s) => s.offsetForTimestamp('orders', 0, anyArg('yesterday')), 'INVALID_ARGUMENT', 'timestamp'],
  ['createTopic: bad name', (s) => s.createTopic('a/b'), 'INVALID_TOPIC_NAME'],
  ['createTopic: zero partitions', (s) => s.createTopic('fresh', { partitions: 0 }), 'INVALID_ARGUMENT', 'partitions'],
  ['createTopic: bad flush', (s) => s.createTopic('fresh', { flush: anyArg('sometimes') }), 'INVALID_ARGUMENT', 'flush'],
  ['createTopic: exists', (s) => s.createTopic('orders'), 'TOPIC_EXISTS'],
  ['addPartitions: fewer', (s) => s.addPartitions('orders', 0), 'INVALID_ARGUMENT'],
  ['consumer: topics a string', (s) => s.consumer({ group: 'g', topics: anyArg('orders') }), 'INVALID_ARGUMENT', 'topics'],
  ['consumer: group a number', (s) => s.consumer({ group: anyArg(7), topics: ['orders'] }), 'INVALID_ARGUMENT', 'group'],
  ['consumer: maxPrefetchBytes fractional', (s) => s.consumer({ group: 'g', topics: ['orders'], maxPrefetchBytes: 1.5 }), 'INVALID_ARGUMENT', 'maxPrefetchBytes'],
  ['consumer: onRevoked not a function', (s) => s.consumer({ group: 'g', topics: ['orders'], onRevoked: anyArg('log') }), 'INVALID_ARGUMENT', 'onRevoked'],
  ['seek: not a partition', (s) => s.consumer({ group: 'g2', topics: ['orders'] }).seek(anyArg(null), 0), 'INVALID_ARGUMENT', 'partition'],
  ['seek: not assigned yet', (s) => s.consumer({ group: 'g3', topics: ['orders'] }).seek(p0, 0), 'PARTITION_NOT_ASSIGNED'],
  ['describeGroup: unknown', (s) => s.describeGroup('never-seen'), 'UNKNOWN_GROUP'],
  ['describeGroup: empty name', (s) => s.describeGroup(''), 'INVALID_ARGUMENT', 'group'],
  ['planGroupReset: bad target', (s) => s.planGroupReset('readers', anyArg({ to: 'yesterday' })), 'INVALID_ARGUMENT', 'to'],
  ['deleteTopic: unknown', (s) => s.deleteTopic('nope'), 'UNKNOWN_TOPIC'],
]

describe('hostile API input', () => {
  it(`${calls.length} wrong calls each fail with their code and field, and change no data`, async () => {
    const spool = await openTestSpool(tempDir())
    await spool.createTopic('orders', { partitions: 2 })
    const producer = spool.producer()
    for (let i = 0; i < 5; i++) await producer.send({ topic: 'orders', partition: 0, value: `v${i}` })
    const readers = spool.consumer({ group: 'readers', topics: ['orders'], autoCommit: false })
    await readers.poll({ maxRecords: 2 })
    await readers.commit()
    await readers.close()

    const outcomes: string[] = []
    for (const [name, call, code, field] of calls) {
      let error: unknown = null
      try {
        await call(spool)
      } catch (thrown) {
        error = thrown
      }
      const got = error as { code?: string; details?: { field?: string } } | null
      const ok = got?.code === code && (field === undefined || got.details?.field === field)
      outcomes.push(`${name}: ${ok ? 'ok' : `expected ${code}${field === undefined ? '' : ` (${field})`}, got ${got === null ? 'success' : `${got.code} (${got.details?.field}) ${String(error)}`}`}`)
    }
    expect(outcomes.filter((o) => !o.endsWith(': ok'))).toEqual([])

    // A bad send among good ones that share its batch fails alone.
    const mixed = await Promise.allSettled([
      producer.send({ topic: 'orders', partition: 1, value: 'good-1' }),
      producer.send({ topic: 'orders', partition: 1, value: 'bad', timestamp: -5 }),
      producer.send({ topic: 'orders', partition: 1, value: 'good-2' }),
    ])
    expect(mixed.map((m) => m.status)).toEqual(['fulfilled', 'rejected', 'fulfilled'])

    const values: string[] = []
    for await (const record of spool.read('orders', { partition: 0 })) values.push(record.value!.toString())
    expect(values).toEqual(['v0', 'v1', 'v2', 'v3', 'v4'])
    expect((await spool.describeTopic('orders')).partitions.map((p) => p.endOffset)).toEqual([5, 2])
    expect(spool.listTopics()).toEqual(['orders'])
    expect((await spool.describeGroup('readers')).partitions[0]!.committedOffset).toBe(2)
    await spool.close()
  })
})
