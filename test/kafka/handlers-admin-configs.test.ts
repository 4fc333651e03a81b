import { describe, expect, it } from 'vitest'
import { KAFKA_TOPIC_CONFIG_NAMES, topicOptionsOf } from '../../src/kafka/handlers/topic-configs.js'
import { expectCode } from '../helpers/expect-code.js'

const options = (entries: Record<string, string | null>): ReturnType<typeof topicOptionsOf> =>
  topicOptionsOf(Object.entries(entries).map(([name, value]) => ({ name, value })))

const refusal = (entries: Record<string, string | null>): Promise<{ message: string; details: Readonly<Record<string, unknown>> }> =>
  expectCode(Promise.resolve().then(() => options(entries)), 'INVALID_ARGUMENT')

describe('Kafka topic configs as spool topic options', () => {
  it('maps each accepted config to its option', () => {
    expect(
      options({
        'retention.ms': '604800000',
        'retention.bytes': '1073741824',
        'cleanup.policy': 'delete',
        'segment.bytes': ' 536870912 ',
        'segment.ms': '3600000',
        'max.message.bytes': '1048588',
        'delete.retention.ms': '0',
        'index.interval.bytes': '8192',
        'compression.type': 'lz4',
        'message.timestamp.type': 'CreateTime',
        'message.timestamp.before.max.ms': '86400000',
        'message.timestamp.after.max.ms': '0',
        'spool.flush': 'always',
      }),
    ).toEqual({
      retentionMs: 604_800_000,
      retentionBytes: 1_073_741_824,
      cleanup: 'delete',
      segmentBytes: 536_870_912,
      segmentMs: 3_600_000,
      maxRecordBytes: 1_048_588,
      deleteRetentionMs: 0,
      indexIntervalBytes: 8192,
      compression: 'lz4',
      timestampType: 'create',
      timestampBeforeMaxMs: 86_400_000,
      timestampAfterMaxMs: 0,
      flush: 'always',
    })
    expect(KAFKA_TOPIC_CONFIG_NAMES).toContain('spool.flush')
    expect(topicOptionsOf(null)).toEqual({})
    expect(topicOptionsOf([])).toEqual({})
  })

  it("reads Kafka's special values: -1 and Long.MAX_VALUE as no limit, uncompressed as none, a number as a flush interval", () => {
    expect(options({ 'retention.ms': '-1', 'retention.bytes': '-1' })).toEqual({ retentionMs: null, retentionBytes: null })
    expect(options({ 'retention.ms': '9223372036854775807', 'message.timestamp.before.max.ms': '9223372036854775807' })).toEqual({
      retentionMs: null,
      timestampBeforeMaxMs: null,
    })
    expect(options({ 'compression.type': 'uncompressed' })).toEqual({ compression: 'none' })
    expect(options({ 'compression.type': 'producer' })).toEqual({ compression: 'producer' })
    expect(options({ 'message.timestamp.type': 'LogAppendTime' })).toEqual({ timestampType: 'logAppend' })
    expect(options({ 'spool.flush': '1000' })).toEqual({ flush: { intervalMs: 1000 } })
    expect(options({ 'spool.flush': 'never' })).toEqual({ flush: 'never' })
  })

  it('refuses, naming the Kafka config: unknown names, null, malformed or out-of-range values, a name twice', async () => {
    expect((await refusal({ 'flush.ms': '1000' })).message).toMatch(/unknown topic config "flush.ms"; spool accepts .*spool.flush/)
    expect((await refusal({ 'retention.ms': null })).message).toMatch(/"retention.ms" has a null value/)
    expect((await refusal({ 'segment.bytes': '1e6' })).message).toMatch(/"1e6" for topic config "segment.bytes": must be an integer/)
    expect((await refusal({ 'segment.bytes': '9223372036854775807' })).message).toMatch(/segment.bytes/)
    expect((await refusal({ 'retention.ms': '0' })).message).toMatch(/"0" for topic config "retention.ms"/)
    expect((await refusal({ 'retention.ms': '-2' })).details).toEqual({ field: 'retention.ms' })
    expect((await refusal({ 'cleanup.policy': 'compact,delete' })).message).toMatch(/must be one of delete, compact/)
    expect((await refusal({ 'compression.type': 'brotli' })).message).toMatch(/compression.type/)
    expect((await refusal({ 'message.timestamp.type': 'createtime' })).message).toMatch(/CreateTime, LogAppendTime/)
    expect((await refusal({ 'spool.flush': '0' })).message).toMatch(/spool.flush/)
    expect((await refusal({ 'spool.flush': 'sometimes' })).message).toMatch(/always, never or a number of milliseconds/)
    expect((await refusal({ 'max.message.bytes': '999999999999' })).message).toMatch(/max.message.bytes/)
    await expectCode(
      Promise.resolve().then(() => topicOptionsOf([{ name: 'retention.ms', value: '1' }, { name: 'retention.ms', value: '2' }])),
      'INVALID_ARGUMENT',
    )
  })
})
