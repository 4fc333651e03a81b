/**
 * Foreign oracles for Kafka record batches (magic 2): kafkajs, @platformatic/kafka and kafka-python,
 * each run in its own child process by a small script under test/fixtures/foreign/ that encodes and
 * decodes batches with that library's own code (CRC-32C, compression, record layout).
 *
 * Wire protocol with the scripts (see test/fixtures/foreign/common.mjs): stdin one JSON request or a
 * JSON array of requests; stdout one answer or an array of answers ({"error"} per failed item).
 * Int64s travel as decimal strings and are turned into (safe) numbers here; bytes travel as base64.
 */
import { execFile } from 'node:child_process'
import { existsSync } from 'node:fs'
import path from 'node:path'

export type Codec = 'none' | 'gzip' | 'snappy' | 'lz4' | 'zstd'
export const CODECS: readonly Codec[] = ['none', 'gzip', 'snappy', 'lz4', 'zstd']

export type ForeignLibraryName = 'kafkajs' | '@platformatic/kafka' | 'kafka-python'

export interface ForeignHeader {
  key: string
  value: Buffer | null
}

export interface ForeignRecordInput {
  key: Buffer | null
  value: Buffer | null
  headers?: ForeignHeader[]
  /** Create time in ms; null lets the library stamp Date.now()/time.time(). */
  timestamp: number | null
}

export interface EncodeRequest {
  codec: Codec
  /** Written into bytes 0..7 after the library built the batch (libraries always build at 0). Default 0. */
  baseOffset?: number
  records: ForeignRecordInput[]
  /** Omitted -> the library's own default (kafkajs/platformatic: -1/0/0, kafka-python: -1/-1/-1). */
  producerId?: number
  producerEpoch?: number
  baseSequence?: number
  transactional?: boolean
}

export type SnappyFraming = 'xerial' | 'raw'

const SNAPPY_FRAMING: Record<ForeignLibraryName, ForeignLibrary['snappyFraming']> = {
  kafkajs: { writes: null, reads: [] }, // no snappy codec without a plugin
  '@platformatic/kafka': { writes: 'raw', reads: ['raw'] }, // wasm snappy_decompress panics ("unreachable") on xerial
  'kafka-python': { writes: 'xerial', reads: ['xerial', 'raw'] }, // snappy_decode sniffs the xerial header
}

/** Whether `decoder` can read `codec` batches as `encoder` writes them. */
export function canRead(decoder: ForeignLibrary, encoder: ForeignLibrary, codec: Codec): boolean {
  if (!encoder.codecs.includes(codec) || !decoder.decodeCodecs.includes(codec)) return false
  if (codec !== 'snappy') return true
  return encoder.snappyFraming.writes !== null && decoder.snappyFraming.reads.includes(encoder.snappyFraming.writes)
}

export interface DecodedRecord {
  offset: number
  timestamp: number
  key: Buffer | null
  value: Buffer | null
  headers: ForeignHeader[]
}

export interface DecodedBatch {
  baseOffset: number
  batchLength: number
  partitionLeaderEpoch: number
  magic: number
  /** The CRC stored in the batch (unsigned). */
  crc: number
  /** CRC-32C over attributes..end matches `crc`; see `crcCheckedBy` for whose code said so. */
  crcValid: boolean
  crcCheckedBy: string
  attributes: number
  /** Codec from attributes bits 0-2 ("unknown(n)" for 5..7). */
  codec: Codec | `unknown(${number})`
  timestampType: 'create' | 'logAppend'
  transactional: boolean
  control: boolean
  lastOffsetDelta: number
  firstTimestamp: number
  maxTimestamp: number
  producerId: number
  producerEpoch: number
  baseSequence: number
  /** The header's record count. */
  recordCount: number
  /** null when the library failed to read the records (then `error` says why). */
  records: DecodedRecord[] | null
  error?: string
}

export interface DecodeResult {
  batches: DecodedBatch[]
  /** Trailing bytes too short to hold the next whole batch (a fetch's partial tail). */
  remainingBytes: number
}

export type EncodeOutcome = { ok: true; bytes: Buffer; codec: Codec } | { ok: false; error: string }
export type DecodeOutcome = ({ ok: true } & DecodeResult) | { ok: false; error: string }

export interface ForeignLibrary {
  name: ForeignLibraryName
  version: string
  runtime: string
  /** Codecs this library can encode here. */
  codecs: Codec[]
  /** Codecs this library can decode here. */
  decodeCodecs: Codec[]
  /** True when the library itself verifies CRC-32C (otherwise another library's crc32c is used). */
  libraryVerifiesCrc: boolean
  crcCheckedBy: string
  /** False for kafkajs: headers come back as an object (integer-like keys first, duplicates grouped). */
  headerOrderPreserved: boolean
  /**
   * Snappy stream framing: `writes` is what its encoder emits ('xerial' = the 16-byte 0x82"SNAPPY"
   * header + [int32 length, raw block]* that the Java client writes; 'raw' = one bare snappy block),
   * `reads` what its decoder accepts. Pinned by test/record/foreign-oracles.test.ts.
   */
  snappyFraming: { writes: SnappyFraming | null; reads: SnappyFraming[] }
  /** One batch. kafka-python may fall back to codec none when compression does not pay: read `batchCodec(bytes)`. */
  encode(request: EncodeRequest): Promise<Buffer>
  /** Many batches in one child process; per-item failures are reported, not thrown. */
  encodeAll(requests: EncodeRequest[]): Promise<EncodeOutcome[]>
  /** Decodes one or more concatenated batches. */
  decode(bytes: Buffer): Promise<DecodedBatch[]>
  decodeFull(bytes: Buffer): Promise<DecodeResult>
  decodeAll(inputs: Buffer[]): Promise<DecodeOutcome[]>
}

export interface UnavailableLibrary {
  name: ForeignLibraryName
  reason: string
}

export class ForeignError extends Error {
  constructor(
    readonly library: ForeignLibraryName,
    message: string,
  ) {
    super(`${library}: ${message}`)
    this.name = 'ForeignError'
  }
}

const FIXTURES = path.join(import.meta.dirname, '../fixtures/foreign')
/** Debian's python with kafka-python + snappy/lz4/zstandard (the `python3` on PATH is a pyenv shim without them). */
export const FOREIGN_PYTHON = process.env['SPOOL_FOREIGN_PYTHON'] ?? '/usr/bin/python3'
const TIMEOUT_MS = 30_000

interface Script {
  name: ForeignLibraryName
  command: string
  args: string[]
  env?: NodeJS.ProcessEnv
}

const SCRIPTS: Script[] = [
  { name: 'kafkajs', command: process.execPath, args: [path.join(FIXTURES, 'kafkajs-batch.mjs')] },
  { name: '@platformatic/kafka', command: process.execPath, args: [path.join(FIXTURES, 'platformatic-batch.mjs')] },
  {
    name: 'kafka-python',
    command: FOREIGN_PYTHON,
    args: [path.join(FIXTURES, 'kafka_python_batch.py')],
    // keep pyenv / virtualenv settings from redirecting Debian's interpreter to other site-packages
    env: withoutKeys(process.env, ['PYTHONPATH', 'PYTHONHOME', 'PYTHONSTARTUP', 'VIRTUAL_ENV']),
  },
]

function withoutKeys(env: NodeJS.ProcessEnv, keys: string[]): NodeJS.ProcessEnv {
  const copy = { ...env }
  for (const key of keys) delete copy[key]
  return copy
}

/** Runs one script with `input` on stdin; resolves with the parsed JSON answer. */
function run(script: Script, input: unknown): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      script.command,
      script.args,
      { timeout: TIMEOUT_MS, killSignal: 'SIGKILL', maxBuffer: 512 * 1024 * 1024, encoding: 'utf8', env: script.env ?? process.env },
      (error, stdout, stderr) => {
        if (error) {
          const detail = stderr.trim().split('\n').pop() || error.message
          const killed = error.killed ? ` (killed after ${TIMEOUT_MS} ms)` : ''
          reject(new ForeignError(script.name, `${detail}${killed}`))
          return
        }
        try {
          resolve(JSON.parse(stdout))
        } catch {
          reject(new ForeignError(script.name, `unparsable answer: ${stdout.slice(0, 200)}`))
        }
      },
    )
    child.stdin?.on('error', () => {}) // the exit status / stderr tells what happened
    child.stdin?.end(JSON.stringify(input))
  })
}

async function runMany(script: Script, requests: unknown[]): Promise<Array<Record<string, unknown>>> {
  if (requests.length === 0) return []
  const answers = await run(script, requests)
  if (!Array.isArray(answers) || answers.length !== requests.length) {
    throw new ForeignError(script.name, `expected ${requests.length} answers`)
  }
  return answers as Array<Record<string, unknown>>
}

// ---- JSON <-> typed values ----

function b64(value: Buffer | null): string | null {
  return value === null ? null : value.toString('base64')
}

function bytes(value: unknown): Buffer | null {
  if (value === null || value === undefined) return null
  if (typeof value !== 'string') throw new TypeError(`expected base64, got ${typeof value}`)
  return Buffer.from(value, 'base64')
}

function num(value: unknown, what: string): number {
  const n = typeof value === 'string' ? Number(value) : value
  if (typeof n !== 'number' || !Number.isSafeInteger(n)) throw new TypeError(`${what}: ${String(value)} is not a safe integer`)
  return n
}

function requestJson(request: EncodeRequest): Record<string, unknown> {
  const json: Record<string, unknown> = {
    op: 'encode',
    codec: request.codec,
    baseOffset: request.baseOffset ?? 0,
    records: request.records.map(r => ({
      key: b64(r.key),
      value: b64(r.value),
      headers: (r.headers ?? []).map(h => ({ key: h.key, value: b64(h.value) })),
      timestamp: r.timestamp,
    })),
  }
  for (const field of ['producerId', 'producerEpoch', 'baseSequence', 'transactional'] as const) {
    if (request[field] !== undefined) json[field] = request[field]
  }
  return json
}

function toBatch(json: Record<string, unknown>): DecodedBatch {
  const records = json['records'] as Array<Record<string, unknown>> | null
  const batch: DecodedBatch = {
    baseOffset: num(json['baseOffset'], 'baseOffset'),
    batchLength: num(json['batchLength'], 'batchLength'),
    partitionLeaderEpoch: num(json['partitionLeaderEpoch'], 'partitionLeaderEpoch'),
    magic: num(json['magic'], 'magic'),
    crc: num(json['crc'], 'crc'),
    crcValid: json['crcValid'] === true,
    crcCheckedBy: String(json['crcCheckedBy']),
    attributes: num(json['attributes'], 'attributes'),
    codec: json['codec'] as DecodedBatch['codec'],
    timestampType: json['timestampType'] === 'logAppend' ? 'logAppend' : 'create',
    transactional: json['transactional'] === true,
    control: json['control'] === true,
    lastOffsetDelta: num(json['lastOffsetDelta'], 'lastOffsetDelta'),
    firstTimestamp: num(json['firstTimestamp'], 'firstTimestamp'),
    maxTimestamp: num(json['maxTimestamp'], 'maxTimestamp'),
    producerId: num(json['producerId'], 'producerId'),
    producerEpoch: num(json['producerEpoch'], 'producerEpoch'),
    baseSequence: num(json['baseSequence'], 'baseSequence'),
    recordCount: num(json['recordCount'], 'recordCount'),
    records:
      records === null
        ? null
        : records.map(r => ({
            offset: num(r['offset'], 'offset'),
            timestamp: num(r['timestamp'], 'timestamp'),
            key: bytes(r['key']),
            value: bytes(r['value']),
            headers: (r['headers'] as Array<Record<string, unknown>>).map(h => ({ key: String(h['key']), value: bytes(h['value']) })),
          })),
  }
  if (typeof json['error'] === 'string') batch.error = json['error']
  return batch
}

function toDecodeResult(json: Record<string, unknown>): DecodeResult {
  return {
    batches: (json['batches'] as Array<Record<string, unknown>>).map(toBatch),
    remainingBytes: num(json['remainingBytes'], 'remainingBytes'),
  }
}

/** The codec a batch's attributes name (bytes 21..22), for checking what a library actually wrote. */
export function batchCodec(batch: Buffer): Codec | `unknown(${number})` {
  const id = batch.readInt16BE(21) & 0x07
  return CODECS[id] ?? `unknown(${id})`
}

function makeLibrary(script: Script, probe: Record<string, unknown>): ForeignLibrary {
  const name = script.name
  async function encodeAll(requests: EncodeRequest[]): Promise<EncodeOutcome[]> {
    const answers = await runMany(script, requests.map(requestJson))
    return answers.map(a =>
      typeof a['error'] === 'string'
        ? { ok: false as const, error: a['error'] }
        : { ok: true as const, bytes: bytes(a['batch'])!, codec: a['codec'] as Codec },
    )
  }
  async function decodeAll(inputs: Buffer[]): Promise<DecodeOutcome[]> {
    const answers = await runMany(script, inputs.map(b => ({ op: 'decode', batch: b.toString('base64') })))
    return answers.map(a => (typeof a['error'] === 'string' ? { ok: false as const, error: a['error'] } : { ok: true as const, ...toDecodeResult(a) }))
  }
  return {
    name,
    version: String(probe['version']),
    runtime: String(probe['runtime']),
    codecs: probe['codecs'] as Codec[],
    decodeCodecs: probe['decodeCodecs'] as Codec[],
    libraryVerifiesCrc: probe['libraryVerifiesCrc'] === true,
    crcCheckedBy: String(probe['crcCheckedBy']),
    headerOrderPreserved: probe['headerOrderPreserved'] === true,
    snappyFraming: SNAPPY_FRAMING[name],
    async encode(request) {
      const answer = (await run(script, requestJson(request))) as Record<string, unknown>
      return bytes(answer['batch'])!
    },
    encodeAll,
    async decode(input) {
      return toDecodeResult((await run(script, { op: 'decode', batch: input.toString('base64') })) as Record<string, unknown>).batches
    },
    async decodeFull(input) {
      return toDecodeResult((await run(script, { op: 'decode', batch: input.toString('base64') })) as Record<string, unknown>)
    },
    decodeAll,
  }
}

let probed: Promise<{ available: ForeignLibrary[]; unavailable: UnavailableLibrary[] }> | undefined

/** Probes every oracle once per process (spawns run in parallel); the answer is cached. */
export function probeForeignLibraries(): Promise<{ available: ForeignLibrary[]; unavailable: UnavailableLibrary[] }> {
  probed ??= (async () => {
    const results = await Promise.all(
      SCRIPTS.map(async script => {
        if (script.name === 'kafka-python' && !existsSync(FOREIGN_PYTHON)) {
          return { name: script.name, reason: `${FOREIGN_PYTHON} not found` }
        }
        try {
          return makeLibrary(script, (await run(script, { op: 'codecs' })) as Record<string, unknown>)
        } catch (error) {
          return { name: script.name, reason: error instanceof Error ? error.message : String(error) }
        }
      }),
    )
    return {
      available: results.filter((r): r is ForeignLibrary => 'encode' in r),
      unavailable: results.filter((r): r is UnavailableLibrary => !('encode' in r)),
    }
  })()
  return probed
}

/** The oracles usable here (a library whose runtime/modules are missing is left out; see probeForeignLibraries). */
export async function foreignLibraries(): Promise<ForeignLibrary[]> {
  return (await probeForeignLibraries()).available
}

/**
 * Headers in a form two decoders can be compared in: wire order when the library keeps it,
 * otherwise grouped by key (per-key order kept), keys sorted - what kafkajs's object can say.
 */
export function comparableHeaders(headers: ForeignHeader[], orderPreserved: boolean): Array<[string, string | null]> {
  const pairs = headers.map((h): [string, string | null] => [h.key, h.value === null ? null : h.value.toString('hex')])
  if (orderPreserved) return pairs
  const keys = [...new Set(pairs.map(p => p[0]))].sort()
  return keys.flatMap(k => pairs.filter(p => p[0] === k))
}
