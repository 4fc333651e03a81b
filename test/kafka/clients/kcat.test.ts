/**
 * kcat (librdkafka 2.x, Debian's package) produces to and consumes from spool's Kafka
 * listener, in its own process, byte for byte:
 * - 10,000 keyed records with binary keys and values to a 3-partition topic, with
 *   `-X partitioner=murmur2_random` (Java's partitioner) and acks=all: every record comes
 *   back exactly once, byte-exact, per-key order kept, each key on the partition spool's
 *   own partitioner gives (as kcat's %p reports it, and as spool's reader finds it after
 *   the listener closed); librdkafka checks every batch's CRC-32C as it reads.
 * - The same with each of `-z gzip|snappy|lz4|zstd`, 2,000 records per codec to keep the
 *   suite fast; the values compress (see keyedRecords), and the stored batches must carry
 *   the codec kcat was given, so the codec path really was taken. librdkafka falls back to
 *   uncompressed batches, silently, when it thinks the broker lacks the codec: librdkafka
 *   2.0 (rdkafka_msgset_writer.c) compresses gzip and snappy only when the broker's
 *   ApiVersions Produce range includes v0, lz4 only when it also serves FindCoordinator v0
 *   (its "LZ4" feature), zstd only with Produce v7 and Fetch v10.
 * - `kcat -L` sees the topic with its 3 partitions, led by the one broker.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { KCAT_DELIMITERS, type KcatCodec, describeFailure, kcatConsume, kcatProduce, requireKcat, runChild } from '../../helpers/kafka-kcat.js'
import { keyedRecords, roundTripProblems } from '../../helpers/kafka-records.js'
import { type InProcessServer, listenInProcess } from '../../helpers/kafka-server.js'
import { storedCodecs, storedRecords } from '../../helpers/kafka-stored.js'
import { tempDir } from '../../helpers/temp-dir.js'

const PARTITIONS = 3
const MANY_RECORDS = 10_000
const RECORDS_PER_CODEC = 2_000

let server: InProcessServer | null = null
afterEach(async () => {
  await server?.close()
  server = null
})

describe('kcat against spool.listen()', () => {
  it('kcat is installed (CI installs it with scripts/install-oracles.sh)', () => {
    expect(requireKcat()).toBeTruthy()
  })

  it(`produces ${MANY_RECORDS} keyed binary records to ${PARTITIONS} partitions and reads them back byte for byte, each key where spool's partitioner puts it`, async () => {
    const dir = tempDir('spool-kcat-')
    const topic = 'kcat-keyed'
    server = await listenInProcess(dir, { [topic]: { partitions: PARTITIONS } })
    const records = keyedRecords({ count: MANY_RECORDS, keys: 700, seed: 1, avoid: KCAT_DELIMITERS })

    const produced = await kcatProduce({ bootstrap: server.bootstrap, topic, dir, records })
    expect(produced.code, describeFailure('kcat -P', produced)).toBe(0)

    const { result, records: read } = await kcatConsume({ bootstrap: server.bootstrap, topic })
    expect(result.code, describeFailure('kcat -C', result)).toBe(0)
    expect(roundTripProblems(records, read, PARTITIONS)).toEqual([])

    const listed = await runChild(requireKcat(), ['-L', '-J', '-b', server.bootstrap, '-t', topic])
    expect(listed.code, describeFailure('kcat -L', listed)).toBe(0)
    const metadata = JSON.parse(listed.stdout.toString('utf8')) as { brokers: unknown[]; topics: Array<{ topic: string; partitions: Array<{ partition: number; leader: number }> }> }
    expect(metadata.brokers).toHaveLength(1)
    expect(metadata.topics.map((t) => t.topic)).toEqual([topic])
    expect(metadata.topics[0]!.partitions.map((p) => p.partition).sort()).toEqual([0, 1, 2])

    // What kcat was told is what the directory holds, read by spool itself after the listener closed.
    await server.close()
    server = null
    expect(roundTripProblems(records, await storedRecords(dir, topic), PARTITIONS)).toEqual([])
  })

  it.each<KcatCodec>(['gzip', 'snappy', 'lz4', 'zstd'])(`-z %s: ${RECORDS_PER_CODEC} keyed records round-trip, kept compressed with that codec`, async (codec) => {
    const dir = tempDir(`spool-kcat-${codec}-`)
    const topic = `kcat-${codec}`
    server = await listenInProcess(dir, { [topic]: { partitions: PARTITIONS } })
    const records = keyedRecords({ count: RECORDS_PER_CODEC, keys: 150, seed: 10 + codec.length, avoid: KCAT_DELIMITERS, compressible: true })

    const produced = await kcatProduce({ bootstrap: server.bootstrap, topic, dir, records, codec })
    expect(produced.code, describeFailure(`kcat -P -z ${codec}`, produced)).toBe(0)

    const { result, records: read } = await kcatConsume({ bootstrap: server.bootstrap, topic })
    expect(result.code, describeFailure('kcat -C', result)).toBe(0)
    expect(roundTripProblems(records, read, PARTITIONS)).toEqual([])

    await server.close()
    server = null
    for (let partition = 0; partition < PARTITIONS; partition++) {
      const codecs = await storedCodecs(dir, topic, partition)
      // librdkafka sends a batch uncompressed when compressing would not make it smaller
      // (a tail batch of one record, say): 'none' may appear beside the codec, nothing else.
      const what =
        `partition ${partition}: stored batches by codec ${JSON.stringify(codecs)}; kcat was given -z ${codec}. ` +
        'librdkafka 2.0 sends gzip/snappy uncompressed unless ApiVersions advertises Produce v0, lz4 unless it also advertises FindCoordinator v0'
      expect(codecs[codec] ?? 0, what).toBeGreaterThan(0)
      expect(Object.keys(codecs).filter((name) => name !== codec && name !== 'none'), what).toEqual([])
    }
  })
})
