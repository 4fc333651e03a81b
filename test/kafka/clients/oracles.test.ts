/**
 * The oracles themselves, with no spool listener: so that when a client test fails, the
 * fault is the listener's, not the test's.
 * - Spool's partitioner gives every key the partition librdkafka's murmur2_random (kcat's
 *   `-X partitioner=murmur2_random`), kafka-python's DefaultPartitioner and kafkajs's
 *   DefaultPartitioner give it (the Java client's murmur2, positive, modulo the count).
 * - The kcat command lines, byte-exact input and output formats and the parser round-trip
 *   binary records through librdkafka's own mock broker (rdkafka_mock), per codec.
 */
import { Partitioners } from 'kafkajs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { partitionForKey } from '../../../src/topics/partitioner.js'
import { KCAT_DELIMITERS, type KcatCodec, describeFailure, kcatConsume, kcatProduce, requireKcat } from '../../helpers/kafka-kcat.js'
import { HAS_LIBRDKAFKA_CTYPES, foreignPartitions, startMockBroker } from '../../helpers/kafka-oracles.js'
import { keyedRecords, roundTripProblems, seededRandom } from '../../helpers/kafka-records.js'
import { tempDir } from '../../helpers/temp-dir.js'

const PARTITION_COUNTS = [1, 3, 7, 64]

function partitionKeys(count: number): Buffer[] {
  const random = seededRandom(16)
  const keys: Buffer[] = [Buffer.alloc(0), Buffer.from([0]), Buffer.from([0xff, 0xff, 0xff, 0xff])]
  while (keys.length < count) {
    const key = Buffer.alloc(1 + Math.floor(random() * 40))
    for (let i = 0; i < key.length; i++) key[i] = Math.floor(random() * 256)
    keys.push(key)
  }
  return keys
}

describe('oracle self-checks (no spool listener)', () => {
  it('kcat is installed (CI installs it with scripts/install-oracles.sh)', () => {
    expect(requireKcat()).toBeTruthy()
  })

  it("spool's partitioner agrees with kafkajs's DefaultPartitioner", () => {
    const keys = partitionKeys(2000)
    for (const partitions of PARTITION_COUNTS) {
      const partitionMetadata = Array.from({ length: partitions }, (_, partitionId) => ({ partitionId, leader: 0, partitionErrorCode: 0, replicas: [0], isr: [0] }))
      const kafkajs = Partitioners.DefaultPartitioner()
      const disagree = keys.filter((key) => kafkajs({ topic: 't', partitionMetadata, message: { key, value: null } }) !== partitionForKey(key, partitions))
      expect(disagree.map((k) => k.toString('hex')), `${partitions} partitions`).toEqual([])
    }
  })

  it.skipIf(!HAS_LIBRDKAFKA_CTYPES)("spool's partitioner agrees with librdkafka's murmur2_random and kafka-python's DefaultPartitioner", async () => {
    const keys = partitionKeys(2000).filter((key) => key.length > 0) // librdkafka sends an empty key as a key; kcat cannot
    for (const partitions of PARTITION_COUNTS) {
      const foreign = await foreignPartitions(keys, partitions)
      const ours = keys.map((key) => partitionForKey(key, partitions))
      expect(foreign.librdkafka, `librdkafka, ${partitions} partitions`).toEqual(ours)
      if (foreign.kafkaPython !== null) expect(foreign.kafkaPython, `kafka-python, ${partitions} partitions`).toEqual(ours)
    }
  })

  describe.skipIf(!HAS_LIBRDKAFKA_CTYPES)("kcat's formats round-trip binary records through librdkafka's mock broker", () => {
    const CODECS: KcatCodec[] = ['none', 'gzip', 'snappy', 'lz4', 'zstd']
    let broker: { bootstrap: string; stop: () => Promise<void> }
    beforeAll(async () => {
      broker = await startMockBroker(Object.fromEntries(CODECS.map((codec) => [`mock-${codec}`, 3])))
    })
    afterAll(async () => {
      await broker?.stop()
    })

    it.each(CODECS)('codec %s', async (codec) => {
      const dir = tempDir('spool-kcat-mock-')
      const topic = `mock-${codec}`
      const records = keyedRecords({ count: 300, keys: 40, seed: CODECS.indexOf(codec) + 1, avoid: KCAT_DELIMITERS })
      const produced = await kcatProduce({ bootstrap: broker.bootstrap, topic, dir, records, codec })
      expect(produced.code, describeFailure('kcat -P', produced)).toBe(0)
      const { result, records: read } = await kcatConsume({ bootstrap: broker.bootstrap, topic })
      expect(result.code, describeFailure('kcat -C', result)).toBe(0)
      expect(roundTripProblems(records, read, 3)).toEqual([])
    })
  })
})
