/**
 * The Kafka clients nobody here wrote, each run in its own process by a script under
 * test/fixtures/kafka-clients/: kafkajs (devDependency, must be present), kafka-python
 * (Debian's python3-kafka under /usr/bin/python3; tests skip with a message when it is
 * missing), and librdkafka's own partitioner and mock broker through ctypes (the library
 * kcat links). kcat itself is in kafka-kcat.ts.
 */
import { spawn, spawnSync } from 'node:child_process'
import path from 'node:path'
import { type ChildResult, describeFailure, runChild } from './kafka-kcat.js'

const FIXTURES = path.join(import.meta.dirname, '../fixtures/kafka-clients')

/** Debian's python with kafka-python (the `python3` on PATH may be a pyenv shim without it). */
export const ORACLE_PYTHON = process.env['SPOOL_FOREIGN_PYTHON'] ?? '/usr/bin/python3'

/** Keeps pyenv / virtualenv settings from pointing Debian's interpreter at other site-packages. */
export function pythonEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env }
  for (const key of ['PYTHONPATH', 'PYTHONHOME', 'PYTHONSTARTUP', 'VIRTUAL_ENV']) delete env[key]
  return env
}

function pythonCan(statement: string): boolean {
  const result = spawnSync(ORACLE_PYTHON, ['-c', statement], { env: pythonEnv(), encoding: 'utf8', timeout: 30_000 })
  return result.status === 0
}

/** Whether kafka-python can be driven; checked once per test file. */
export const HAS_KAFKA_PYTHON = pythonCan('import kafka; from kafka import KafkaProducer, KafkaConsumer')
export const KAFKA_PYTHON_MISSING = `kafka-python is not installed under ${ORACLE_PYTHON}: its tests are skipped (run \`bash scripts/install-oracles.sh\` to install Debian's python3-kafka)`

/** Whether librdkafka's shared library loads through ctypes (it comes with kcat). */
export const HAS_LIBRDKAFKA_CTYPES = pythonCan("import ctypes, ctypes.util; ctypes.CDLL(ctypes.util.find_library('rdkafka') or 'librdkafka.so.1').rd_kafka_mock_cluster_new")

export class ClientError extends Error {
  constructor(
    readonly client: string,
    readonly result: ChildResult,
  ) {
    super(describeFailure(client, result))
    this.name = 'ClientError'
  }
}

async function runJson(client: string, command: string, args: string[], request: unknown, env?: NodeJS.ProcessEnv): Promise<unknown> {
  const result = await runChild(command, args, JSON.stringify(request), env)
  if (result.code !== 0) throw new ClientError(client, result)
  try {
    return JSON.parse(result.stdout.toString('utf8'))
  } catch {
    throw new Error(`${client}: unparsable answer: ${result.stdout.toString('utf8').slice(0, 300)}\n${result.stderr}`)
  }
}

// ---- kafkajs ----

export interface KafkajsMessage {
  key: Buffer | null
  value: Buffer | null
  partition?: number
  timestamp?: number
  headers?: Record<string, Buffer>
}

export type KafkajsOp =
  | { op: 'produce'; topic: string; acks: -1 | 0 | 1; messages: KafkajsMessage[]; batchSize?: number; compression?: 'none' | 'gzip'; idempotent?: boolean; dropProduceResponses?: number }
  | { op: 'createTopics'; topics: Array<{ topic: string; numPartitions: number; configEntries?: Array<{ name: string; value: string }> }> }
  | { op: 'listTopics' }
  | { op: 'deleteTopics'; topics: string[] }
  | { op: 'topicMetadata'; topics: string[] }
  | { op: 'fetchTopicOffsets'; topic: string }
  | { op: 'fetchTopicOffsetsByTimestamp'; topic: string; timestamp: number }
  | { op: 'fetch'; topic: string; partition: number; offset: number; until?: number; maxBytes?: number }

export interface KafkajsProduceAnswer {
  sent: Array<Array<{ partition: number; baseOffset: string | null; errorCode: number }>>
  dropped: number
}

export interface KafkajsFetchedRecord {
  offset: number
  timestamp: number
  key: Buffer | null
  value: Buffer | null
  headers: Record<string, Buffer | null>
}

const b64 = (value: Buffer | null | undefined): string | null => (value === null || value === undefined ? null : value.toString('base64'))
const fromB64 = (value: unknown): Buffer | null => (typeof value === 'string' ? Buffer.from(value, 'base64') : null)

/** Runs `ops` in one kafkajs process; resolves with one answer per op (raw JSON, bytes as base64). */
export async function runKafkajs(bootstrap: string, ops: KafkajsOp[]): Promise<Array<Record<string, unknown>>> {
  const message = (m: KafkajsMessage): Record<string, unknown> => ({
    ...m,
    key: b64(m.key),
    value: b64(m.value),
    ...(m.headers === undefined ? {} : { headers: Object.fromEntries(Object.entries(m.headers).map(([k, v]) => [k, b64(v)])) }),
  })
  const wire = ops.map((op) => (op.op === 'produce' ? { ...op, messages: op.messages.map(message) } : op))
  return (await runJson('kafkajs', process.execPath, [path.join(FIXTURES, 'kafkajs-client.mjs')], { brokers: [bootstrap], ops: wire })) as Array<Record<string, unknown>>
}

/** The records of a kafkajs 'fetch' answer, typed. */
export function fetchedRecords(answer: Record<string, unknown>): KafkajsFetchedRecord[] {
  return (answer['records'] as Array<Record<string, unknown>>).map((r) => ({
    offset: Number(r['offset']),
    timestamp: Number(r['timestamp']),
    key: fromB64(r['key']),
    value: fromB64(r['value']),
    headers: Object.fromEntries(Object.entries(r['headers'] as Record<string, unknown>).map(([k, v]) => [k, fromB64(v)])),
  }))
}

// ---- kafka-python ----

export type KafkaPythonOp =
  | { op: 'produce'; topic: string; acks: 'all' | 0 | 1; compression?: 'none' | 'gzip' | 'snappy' | 'lz4' | 'zstd'; messages: Array<{ key: Buffer | null; value: Buffer | null; partition?: number }> }
  | { op: 'consume'; topic: string; partition: number; offset: number; count: number }
  | { op: 'partitions'; topic: string }
  | { op: 'endOffsets'; topic: string; partitions: number[] }
  | { op: 'offsetsForTimes'; topic: string; partition: number; timestamp: number }

export interface KafkaPythonRun {
  /** The api_version kafka-python used (pinned, or what it inferred from ApiVersions). */
  apiVersion: number[] | null
  answers: Array<Record<string, unknown>>
}

export async function runKafkaPython(bootstrap: string, apiVersion: readonly number[] | null, ops: KafkaPythonOp[]): Promise<KafkaPythonRun> {
  const wire = ops.map((op) => (op.op === 'produce' ? { ...op, messages: op.messages.map((m) => ({ ...m, key: b64(m.key), value: b64(m.value) })) } : op))
  return (await runJson('kafka-python', ORACLE_PYTHON, [path.join(FIXTURES, 'kafka_python_client.py')], { bootstrap, apiVersion, ops: wire }, pythonEnv())) as KafkaPythonRun
}

export function consumedRecords(answer: Record<string, unknown>): Array<{ offset: number; timestamp: number; key: Buffer | null; value: Buffer | null }> {
  return (answer['records'] as Array<Record<string, unknown>>).map((r) => ({
    offset: Number(r['offset']),
    timestamp: Number(r['timestamp']),
    key: fromB64(r['key']),
    value: fromB64(r['value']),
  }))
}

// ---- librdkafka through ctypes ----

/** The partitions librdkafka's murmur2_random and kafka-python's DefaultPartitioner give `keys`. */
export async function foreignPartitions(keys: readonly Buffer[], partitions: number): Promise<{ librdkafka: number[]; kafkaPython: number[] | null }> {
  const answer = await runJson('librdkafka partitioner', ORACLE_PYTHON, [path.join(FIXTURES, 'librdkafka_partitioner.py')], { keys: keys.map((k) => k.toString('base64')), partitions }, pythonEnv())
  return answer as { librdkafka: number[]; kafkaPython: number[] | null }
}

/** librdkafka's mock Kafka broker in a python process, with `topics` (name → partitions). */
export function startMockBroker(topics: Readonly<Record<string, number>>): Promise<{ bootstrap: string; stop: () => Promise<void> }> {
  const child = spawn(ORACLE_PYTHON, [path.join(FIXTURES, 'librdkafka_mock_broker.py'), ...Object.entries(topics).map(([t, n]) => `${t}:${n}`)], {
    stdio: ['pipe', 'pipe', 'pipe'],
    env: pythonEnv(),
  })
  let stdout = ''
  let stderr = ''
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()))
  const stop = async (): Promise<void> => {
    child.stdin.end()
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000)
    await exited
    clearTimeout(timer)
  }
  return new Promise((resolve, reject) => {
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString()
      const match = /listening on (\S+)/.exec(stdout)
      if (match !== null) resolve({ bootstrap: match[1]!, stop })
    })
    child.on('error', reject)
    void exited.then(() => reject(new Error(`librdkafka mock broker exited before listening: ${stderr}`)))
  })
}
