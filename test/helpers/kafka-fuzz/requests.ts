import { APIS, type ApiDefinition } from '../../../src/kafka/apis/index.js'
import { encodeRequest } from '../../../src/kafka/protocol/frames.js'
import { type Field, inRange, isNullable } from '../../../src/kafka/protocol/schema.js'
import type { BatchRegistry } from './batches.js'
import type { Random } from './random.js'

/**
 * Valid requests for every API and version spool serves, bodies built from the API's own
 * schema (so a version added to src/kafka/apis is fuzzed without a change here), with
 * plausible values where it matters: topics that exist and some that do not, partitions
 * in and out of range, offsets near the log's end, real record batches (encodeBatch,
 * compressBatch), admin requests aimed at scratch topics. Everything else is random
 * within the field's type.
 */

export interface FuzzWorld {
  /** Topics that hold the data the final check compares; never named by a valid DeleteTopics. */
  readonly dataTopics: ReadonlyArray<{ readonly name: string; readonly partitions: number }>
  /** Names CreateTopics, CreatePartitions and DeleteTopics play with. */
  readonly scratchTopics: readonly string[]
  readonly batches: BatchRegistry
  readonly now: () => number
}

/** A generated request, before any mutation. */
export interface GeneratedRequest {
  readonly api: ApiDefinition
  readonly version: number
  readonly correlationId: number
  /** The whole frame, size prefix included. */
  readonly frame: Buffer
  /** Batches its records carry. */
  readonly batchIds: readonly number[]
}

interface Gen {
  readonly random: Random
  readonly world: FuzzWorld
  readonly batchIds: number[]
  /** The config name just chosen, so its value can match it (or, on purpose, not). */
  configValues?: readonly (string | null)[]
}

type Hint = (gen: Gen, field: Field, version: number) => unknown
/** Values for fields by API name and path ('topicData.partitionData.index'); arrays name their element count. */
type Hints = Readonly<Record<string, Hint>>

const INT32_MAX = 0x7fffffff
const INVALID_NAMES = ['', '.', '..', 'a'.repeat(250), 'bad/name', 'spaces are bad', '__consumer_offsets', 'ü']

function topicName(gen: Gen): string {
  const { random, world } = gen
  return random.weighted<() => string>([
    [70, () => random.pick(world.dataTopics).name],
    [10, () => random.pick(world.scratchTopics)],
    [10, () => 'no-such-topic'],
    [10, () => random.pick(INVALID_NAMES)],
  ])()
}

function partitionIndex(gen: Gen): number {
  return gen.random.weighted<number>([[85, gen.random.int(3)], [5, -1], [5, gen.random.between(3, 9)], [5, INT32_MAX]])
}

function records(gen: Gen): Buffer | null {
  const { random, world } = gen
  return random.weighted<() => Buffer | null>([
    [85, () => {
      const batch = world.batches.make(random, world.now())
      gen.batchIds.push(batch.id)
      // Now and then two batches in one records field: the broker must take both or refuse.
      if (!random.chance(0.1)) return batch.bytes
      const second = world.batches.make(random, world.now())
      gen.batchIds.push(second.id)
      return Buffer.concat([batch.bytes, second.bytes])
    }],
    [5, () => null],
    [5, () => Buffer.alloc(0)],
    [5, () => random.bytes(random.between(1, 80))],
  ])()
}

const count = (min: number, max: number): Hint => (gen) => gen.random.between(min, max)
const oneOf = (...values: unknown[]): Hint => (gen) => gen.random.pick(values)

const CONFIGS: ReadonlyArray<readonly [string, readonly (string | null)[]]> = [
  ['retention.ms', ['-1', '86400000', '1000', 'abc', null]],
  ['retention.bytes', ['-1', '1048576', '0']],
  ['cleanup.policy', ['delete', 'compact', 'bogus']],
  ['segment.bytes', ['1048576', '14', '99999999999999']],
  ['max.message.bytes', ['1048588', '1', '-5']],
  ['compression.type', ['producer', 'gzip', 'zstd', 'lz5']],
  ['spool.flush', ['never', 'always', '5', '-1', '99999999999999']],
  ['message.timestamp.type', ['CreateTime', 'LogAppendTime', 'Now']],
  ['no.such.config', ['1']],
]

const HINTS: Readonly<Record<string, Hints>> = {
  Produce: {
    transactionalId: (gen) => (gen.random.chance(0.05) ? 'tx' : null),
    acks: (gen) => gen.random.weighted<number>([[45, -1], [40, 1], [10, 0], [5, gen.random.between(-3, 3)]]),
    timeoutMs: count(100, 30_000),
    topicData: count(1, 2),
    'topicData.name': topicName,
    'topicData.partitionData': count(1, 2),
    'topicData.partitionData.index': partitionIndex,
    'topicData.partitionData.records': records,
  },
  Fetch: {
    replicaId: (gen) => (gen.random.chance(0.95) ? -1 : gen.random.between(0, 2)),
    maxWaitMs: (gen) => gen.random.weighted<number>([[50, 0], [45, gen.random.between(1, 30)], [5, -1]]),
    minBytes: (gen) => gen.random.weighted<number>([[45, 0], [45, 1], [10, 1_000_000]]),
    maxBytes: (gen) => gen.random.weighted<number>([[60, INT32_MAX], [30, gen.random.between(1, 4096)], [10, gen.random.between(-1, 0)]]),
    isolationLevel: (gen) => gen.random.weighted<number>([[45, 0], [45, 1], [10, gen.random.between(2, 127)]]),
    sessionId: (gen) => (gen.random.chance(0.9) ? 0 : gen.random.between(1, 100)),
    sessionEpoch: (gen) => (gen.random.chance(0.9) ? -1 : gen.random.between(0, 5)),
    topics: count(0, 2),
    'topics.topic': topicName,
    'topics.partitions': count(1, 3),
    'topics.partitions.partition': partitionIndex,
    'topics.partitions.currentLeaderEpoch': (gen) => (gen.random.chance(0.8) ? -1 : gen.random.between(0, 3)),
    'topics.partitions.fetchOffset': (gen) => gen.random.weighted<number>([[80, gen.random.int(30)], [10, -1], [10, 2 ** 40]]),
    'topics.partitions.logStartOffset': oneOf(-1),
    'topics.partitions.partitionMaxBytes': (gen) => gen.random.weighted<number>([[50, 1_048_576], [40, gen.random.between(1, 2048)], [10, gen.random.between(-1, 0)]]),
    forgottenTopicsData: count(0, 0),
    rackId: oneOf(''),
  },
  ListOffsets: {
    replicaId: oneOf(-1),
    isolationLevel: oneOf(0, 1),
    topics: count(1, 2),
    'topics.name': topicName,
    'topics.partitions': count(1, 3),
    'topics.partitions.partitionIndex': partitionIndex,
    'topics.partitions.currentLeaderEpoch': (gen) => (gen.random.chance(0.8) ? -1 : gen.random.between(0, 3)),
    'topics.partitions.timestamp': (gen) => gen.random.weighted<number>([[30, -1], [30, -2], [30, gen.world.now() - gen.random.int(20_000)], [10, gen.random.between(-5, 5)]]),
    'topics.partitions.maxNumOffsets': oneOf(1, 10),
  },
  Metadata: {
    topics: (gen, field, version) => (isNullable(field, version) && gen.random.chance(0.3) ? null : gen.random.between(0, 3)),
    'topics.name': topicName,
  },
  ApiVersions: {
    clientSoftwareName: oneOf('spool-fuzz', 'x', ''),
    clientSoftwareVersion: oneOf('1.0.0', '0', '-'),
  },
  CreateTopics: {
    topics: count(1, 2),
    'topics.name': (gen) => gen.random.weighted<() => string>([[70, () => gen.random.pick(gen.world.scratchTopics)], [10, () => gen.random.pick(gen.world.dataTopics).name], [20, () => gen.random.pick(INVALID_NAMES)]])(),
    'topics.numPartitions': (gen) => gen.random.weighted<number>([[30, -1], [50, gen.random.between(1, 3)], [10, 0], [5, -7], [5, 100_000]]),
    'topics.replicationFactor': (gen) => gen.random.weighted<number>([[45, -1], [45, 1], [10, 3]]),
    'topics.assignments': (gen) => (gen.random.chance(0.9) ? 0 : 1),
    'topics.assignments.partitionIndex': count(0, 1),
    'topics.assignments.brokerIds': count(1, 1),
    'topics.assignments.brokerIds[]': oneOf(0, 1, -1),
    'topics.configs': count(0, 2),
    'topics.configs.name': (gen) => {
      const [name, values] = gen.random.pick(CONFIGS)
      gen.configValues = values
      return name
    },
    // Mostly a value meant for the name; sometimes one meant for another config (a number where a word goes, …).
    'topics.configs.value': (gen) => gen.random.pick(gen.configValues !== undefined && gen.random.chance(0.7) ? gen.configValues : gen.random.pick(CONFIGS)[1]),
    timeoutMs: oneOf(1000, 60_000),
  },
  DeleteTopics: {
    // Never a data topic: the final check holds their data to what was acknowledged.
    topicNames: count(1, 2),
    'topicNames[]': (gen) => (gen.random.chance(0.85) ? gen.random.pick(gen.world.scratchTopics) : gen.random.pick(['no-such-topic', ...INVALID_NAMES])),
    timeoutMs: oneOf(1000, 60_000),
  },
  CreatePartitions: {
    topics: count(1, 2),
    'topics.name': (gen) => (gen.random.chance(0.9) ? gen.random.pick(gen.world.scratchTopics) : gen.random.pick(['no-such-topic', ...INVALID_NAMES])),
    'topics.count': (gen) => gen.random.weighted<number>([[80, gen.random.between(1, 5)], [10, 0], [10, 20_000]]),
    'topics.assignments': (gen) => (gen.random.chance(0.9) ? null : 1),
    'topics.assignments.brokerIds': count(1, 1),
    'topics.assignments.brokerIds[]': oneOf(0, 1),
    timeoutMs: oneOf(1000, 60_000),
  },
  InitProducerId: {
    transactionalId: (gen) => (gen.random.chance(0.85) ? null : gen.random.pick(['tx', ''])),
    transactionTimeoutMs: oneOf(60_000, -1, 0),
    producerId: oneOf(-1, 0, 5),
    producerEpoch: oneOf(-1, 0),
  },
}

function generic(gen: Gen, field: Field, version: number): unknown {
  const { random } = gen
  if (isNullable(field, version) && random.chance(0.05)) return null
  switch (field.kind) {
    case 'bool':
      return random.chance(0.5)
    case 'int8':
      return random.between(-1, 3)
    case 'int16':
      return random.between(-1, 5)
    case 'uint16':
      return random.int(6)
    case 'int32':
    case 'int64':
      return random.weighted<number>([[90, random.between(-1, 100)], [10, INT32_MAX]])
    case 'uint32':
      return random.int(101)
    case 'float64':
      return random.int(1000) / 7
    case 'string':
      return random.bytes(random.int(12)).toString('base64url').slice(0, 12)
    case 'bytes':
      return random.bytes(random.int(16))
    case 'records':
      return records(gen)
    case 'uuid':
      return random.bytes(16)
    case 'struct':
      throw new Error('structs are built by fields()')
  }
}

function fields(gen: Gen, hints: Hints, list: readonly Field[], version: number, path: string): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  for (const field of list) {
    if (!inRange(field.versions, version)) continue
    const at = path === '' ? field.key : `${path}.${field.key}`
    const hint = hints[at]
    if (field.array) {
      const length = hint !== undefined ? hint(gen, field, version) : isNullable(field, version) && gen.random.chance(0.05) ? null : gen.random.int(3)
      if (length === null) {
        out[field.key] = null
        continue
      }
      const items: unknown[] = []
      for (let i = 0; i < (length as number); i++) {
        if (field.kind === 'struct') items.push(fields(gen, hints, field.fields, version, at))
        else items.push((hints[`${at}[]`] ?? generic)(gen, field, version))
      }
      out[field.key] = items
    } else if (field.kind === 'struct') {
      out[field.key] = fields(gen, hints, field.fields, version, at)
    } else {
      out[field.key] = (hint ?? generic)(gen, field, version)
    }
  }
  return out
}

/** The APIs and versions the fuzz covers: every one APIS serves. */
export function servedVersions(): Array<{ api: ApiDefinition; version: number }> {
  const out: Array<{ api: ApiDefinition; version: number }> = []
  for (const api of APIS.values()) for (let version = api.minVersion; version <= api.maxVersion; version++) out.push({ api, version })
  return out
}

/** A valid request of `api` at `version`, encoded by the codec's own encodeRequest. */
export function generateRequest(random: Random, world: FuzzWorld, api: ApiDefinition, version: number, correlationId: number): GeneratedRequest {
  const gen: Gen = { random, world, batchIds: [] }
  const body = fields(gen, HINTS[api.name] ?? {}, api.request.fields, version, '')
  const clientId = random.weighted<string | null>([[80, 'spool-fuzz'], [10, null], [10, '']])
  const frame = Buffer.concat(encodeRequest(api, version, { correlationId, clientId }, body))
  return { api, version, correlationId, frame, batchIds: gen.batchIds }
}
