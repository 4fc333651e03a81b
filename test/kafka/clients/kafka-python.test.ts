/**
 * kafka-python (Debian's python3-kafka 2.0.2, a client nobody here wrote) against
 * spool.listen(), in its own process (test/fixtures/kafka-clients/kafka_python_client.py),
 * with its old protocol versions:
 * - api_version left to auto-negotiation (ApiVersions v0, then what kafka-python infers),
 *   and pinned to (0, 11, 0) (Produce v3, Fetch v4, ListOffsets v1, no ApiVersions request)
 *   and (1, 0) (Produce v4): KafkaProducer with acks=all and a codec, then KafkaConsumer
 *   with group_id=None, assign() and seek() (no group APIs), each partition read back
 *   byte for byte; keys land where spool's partitioner puts them (kafka-python's
 *   DefaultPartitioner is Java's murmur2); end offsets and offsets_for_times agree.
 * - Batches kafka-python compressed with each codec are read back by kcat (librdkafka
 *   decompresses them and checks their CRC-32C): a cross-client check of the Fetch path
 *   for compressed batches that kcat 1.7's own producer cannot make against a broker
 *   whose Produce range starts at v3 (see kcat.test.ts).
 * Skipped, with a message, when kafka-python is not installed.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { KCAT_DELIMITERS, describeFailure, kcatConsume } from '../../helpers/kafka-kcat.js'
import { HAS_KAFKA_PYTHON, KAFKA_PYTHON_MISSING, consumedRecords, runKafkaPython } from '../../helpers/kafka-oracles.js'
import { type ReadRecord, keyedRecords, roundTripProblems } from '../../helpers/kafka-records.js'
import { type InProcessServer, listenInProcess } from '../../helpers/kafka-server.js'
import { tempDir } from '../../helpers/temp-dir.js'

if (!HAS_KAFKA_PYTHON) console.warn(KAFKA_PYTHON_MISSING)

const PARTITIONS = 3
const RECORDS = 200

let server: InProcessServer | null = null
afterEach(async () => {
  await server?.close()
  server = null
})

type Codec = 'none' | 'gzip' | 'snappy' | 'lz4' | 'zstd'

/**
 * Pinned as triples: kafka-python compares tuples, and its consumer picks Fetch v4 only for
 * api_version >= (0, 11, 0), which the pair (0, 11) is not (it would send Fetch v3, the
 * magic-1 era spool does not serve).
 */
const VERSIONS: Array<{ name: string; apiVersion: readonly number[] | null; codec: Codec }> = [
  { name: 'auto-negotiated', apiVersion: null, codec: 'zstd' },
  { name: '(0, 11, 0)', apiVersion: [0, 11, 0], codec: 'gzip' },
  { name: '(1, 0, 0)', apiVersion: [1, 0, 0], codec: 'lz4' },
]

/** Python's tuple order: element by element, a shorter prefix first. */
function atLeast(version: readonly number[], floor: readonly number[]): boolean {
  for (let i = 0; i < Math.max(version.length, floor.length); i++) {
    if (i >= version.length) return false
    if (i >= floor.length) return true
    if (version[i] !== floor[i]) return version[i]! > floor[i]!
  }
  return true
}

describe.skipIf(!HAS_KAFKA_PYTHON)('kafka-python against spool.listen()', () => {
  it.each(VERSIONS)('api_version $name: KafkaProducer ($codec) and a group-less KafkaConsumer with assign/seek', async ({ apiVersion, codec }) => {
    const dir = tempDir('spool-kafka-python-')
    const topic = `kafka-python-${codec}`
    server = await listenInProcess(dir, { [topic]: { partitions: PARTITIONS } })
    const records = keyedRecords({ count: RECORDS, keys: 30, seed: 200 + codec.length, compressible: true })

    const produced = await runKafkaPython(server.bootstrap, apiVersion, [
      { op: 'produce', topic, acks: 'all', compression: codec, messages: records.map((r) => ({ key: r.key, value: r.value })) },
      { op: 'endOffsets', topic, partitions: [0, 1, 2] },
      { op: 'partitions', topic },
    ])
    if (apiVersion !== null) expect(produced.apiVersion).toEqual([...apiVersion])
    // Auto-negotiated, it must settle on a version with record batches (magic 2): 0.11 or later.
    else expect(atLeast(produced.apiVersion ?? [], [0, 11, 0]), `kafka-python inferred ${JSON.stringify(produced.apiVersion)}`).toBe(true)
    const sent = produced.answers[0]!['sent'] as Array<{ partition: number; offset: number }>
    expect(sent).toHaveLength(RECORDS)
    const ends = produced.answers[1]!['offsets'] as Record<string, number>
    expect(produced.answers[2]!['partitions']).toEqual([0, 1, 2])
    expect(Object.values(ends).reduce((a, b) => a + b, 0)).toBe(RECORDS)

    // What kafka-python was told (partition, offset) is where the record is, byte for byte.
    const told: ReadRecord[] = sent.map((where, i) => ({ ...where, key: records[i]!.key, value: records[i]!.value }))
    expect(roundTripProblems(records, told, PARTITIONS)).toEqual([])

    // Read each partition back with kafka-python's own consumer, from offset 0 and from the middle.
    const consumeOps = [0, 1, 2].flatMap((partition) => [
      { op: 'consume' as const, topic, partition, offset: 0, count: ends[String(partition)]! },
      { op: 'consume' as const, topic, partition, offset: Math.floor(ends[String(partition)]! / 2), count: ends[String(partition)]! - Math.floor(ends[String(partition)]! / 2) },
    ])
    const consumed = await runKafkaPython(server.bootstrap, apiVersion, consumeOps)
    const read: ReadRecord[] = []
    for (const [i, answer] of consumed.answers.entries()) {
      const partition = Math.floor(i / 2)
      const got = consumedRecords(answer)
      if (i % 2 === 0) read.push(...got.map((r) => ({ partition, offset: r.offset, key: r.key, value: r.value })))
      else expect(got.map((r) => r.offset)).toEqual(read.filter((r) => r.partition === partition).slice(Math.floor(ends[String(partition)]! / 2)).map((r) => r.offset))
    }
    expect(roundTripProblems(records, read, PARTITIONS)).toEqual([])
  })

  it('offsets_for_times finds the first record at or after a time', async () => {
    const dir = tempDir('spool-kafka-python-time-')
    const topic = 'kafka-python-time'
    server = await listenInProcess(dir, { [topic]: { partitions: 1 } })
    const producer = server.spool.producer()
    const base = Date.now() - 3_600_000
    for (let i = 0; i < 10; i++) await producer.send({ topic, key: `k${i}`, value: `v${i}`, timestamp: base + i * 1000 })
    const run = await runKafkaPython(server.bootstrap, null, [
      { op: 'offsetsForTimes', topic, partition: 0, timestamp: base + 4_500 },
      { op: 'offsetsForTimes', topic, partition: 0, timestamp: base + 100_000 },
    ])
    expect(run.answers[0]).toEqual({ offset: 5 })
    expect(run.answers[1]).toEqual({ offset: null })
  })

  it.each<Codec>(['gzip', 'snappy', 'lz4', 'zstd'])('batches kafka-python compressed with %s are read back by kcat', async (codec) => {
    const dir = tempDir('spool-kafka-python-kcat-')
    const topic = `cross-${codec}`
    server = await listenInProcess(dir, { [topic]: { partitions: PARTITIONS } })
    const records = keyedRecords({ count: RECORDS, keys: 30, seed: 300 + codec.length, compressible: true, avoid: KCAT_DELIMITERS })
    await runKafkaPython(server.bootstrap, null, [{ op: 'produce', topic, acks: 'all', compression: codec, messages: records.map((r) => ({ key: r.key, value: r.value })) }])
    const { result, records: read } = await kcatConsume({ bootstrap: server.bootstrap, topic })
    expect(result.code, describeFailure('kcat -C', result)).toBe(0)
    expect(roundTripProblems(records, read, PARTITIONS)).toEqual([])
  })
})
