/**
 * kcat (librdkafka's command-line client, Debian's package) as an oracle for spool's Kafka
 * listener: it produces and consumes in its own process, with librdkafka's code on every byte.
 *
 * Byte-exact formats, both ways:
 * - Producing: `-K <key delimiter> -D <message delimiter> -l <file>`: each message is
 *   key, key delimiter, value, message delimiter. kcat cuts the input at the first
 *   message delimiter, then the message at the first key delimiter (kcat.c, input.c), so
 *   any bytes work provided neither delimiter occurs inside a key or a value. Both
 *   delimiters are made of distinct bytes, so one cannot start inside the data and end in
 *   a delimiter; kcatInput() checks the cut by doing it once more. (Empty messages are
 *   skipped by kcat, so every record here has a key and a non-empty value.)
 * - Consuming: `-f '%p %o %T %K %S\n%k%s\n'`: a text header with the key and value
 *   lengths (-1 for null), then the raw key and value bytes (kcat fwrite()s them), so the
 *   parser never looks for a delimiter inside data.
 */
import { spawn } from 'node:child_process'
import { accessSync, constants, writeFileSync } from 'node:fs'
import path from 'node:path'
import type { KeyedRecord, ReadRecord } from './kafka-records.js'
import { CHILD_SAFETY_TIMEOUT_MS } from './safety-timeout.js'

/** kcat's `\xNN` escapes (parse_delim in kcat.c): distinct bytes, none 0 (a C string). */
export const KEY_DELIMITER = Buffer.from([0xa6, 0x97, 0x88])
export const MESSAGE_DELIMITER = Buffer.from([0xf1, 0xe2, 0xd3, 0xc4, 0xb5])
export const KCAT_DELIMITERS: readonly Buffer[] = [KEY_DELIMITER, MESSAGE_DELIMITER]

function escaped(bytes: Buffer): string {
  return [...bytes].map((b) => `\\x${b.toString(16).padStart(2, '0')}`).join('')
}

/** Every byte kcat prints is the message's own, between two lengths: see the module comment. */
export const KCAT_FORMAT = '%p %o %T %K %S\\n%k%s\\n'

export type KcatCodec = 'none' | 'gzip' | 'snappy' | 'lz4' | 'zstd'

/** Where kcat is: $KCAT, else `kcat` or `kafkacat` on PATH; null when absent. */
export function findKcat(): string | null {
  const candidates = process.env['KCAT'] !== undefined ? [process.env['KCAT']] : []
  for (const dir of (process.env['PATH'] ?? '').split(path.delimiter)) {
    if (dir !== '') candidates.push(path.join(dir, 'kcat'), path.join(dir, 'kafkacat'))
  }
  for (const candidate of candidates) {
    try {
      accessSync(candidate, constants.X_OK)
      return candidate
    } catch {
      // next one
    }
  }
  return null
}

/** kcat must be there (CI installs it): a missing kcat fails the suite rather than skipping it. */
export function requireKcat(): string {
  const kcat = findKcat()
  if (kcat === null) throw new Error('kcat is not installed: run `bash scripts/install-oracles.sh` (Debian package kcat), or set $KCAT')
  return kcat
}

export interface ChildResult {
  code: number | null
  signal: NodeJS.Signals | null
  stdout: Buffer
  stderr: string
}

/**
 * Runs a command without blocking the event loop (an in-process listener must keep
 * serving while a client runs), with stdin from `input`, killed after the safety limit.
 */
export function runChild(command: string, args: readonly string[], input?: Buffer | string, env?: NodeJS.ProcessEnv): Promise<ChildResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['pipe', 'pipe', 'pipe'], env: env ?? process.env })
    const stdout: Buffer[] = []
    const stderr: Buffer[] = []
    child.stdout.on('data', (chunk: Buffer) => stdout.push(chunk))
    child.stderr.on('data', (chunk: Buffer) => stderr.push(chunk))
    const timer = setTimeout(() => child.kill('SIGKILL'), CHILD_SAFETY_TIMEOUT_MS)
    child.on('error', (error) => {
      clearTimeout(timer)
      reject(error)
    })
    child.on('close', (code, signal) => {
      clearTimeout(timer)
      resolve({ code, signal, stdout: Buffer.concat(stdout), stderr: Buffer.concat(stderr).toString('utf8') })
    })
    child.stdin.on('error', () => {}) // the exit status and stderr say what happened
    child.stdin.end(input ?? '')
  })
}

/** What a failed client run printed, for the assertion message (the exact client error). */
export function describeFailure(what: string, result: ChildResult): string {
  const status = result.signal !== null ? `killed by ${result.signal}` : `exit ${result.code}`
  return `${what}: ${status}\n--- stderr ---\n${result.stderr.trim().split('\n').slice(-15).join('\n')}`
}

/** kcat's producer input for `records`, checked by cutting it again as kcat does. */
export function kcatInput(records: readonly KeyedRecord[]): Buffer {
  const parts: Buffer[] = []
  for (const record of records) parts.push(record.key, KEY_DELIMITER, record.value, MESSAGE_DELIMITER)
  const input = Buffer.concat(parts)
  let at = 0
  for (const record of records) {
    const end = input.indexOf(MESSAGE_DELIMITER, at)
    const message = input.subarray(at, end)
    const cut = message.indexOf(KEY_DELIMITER)
    if (cut < 0 || !message.subarray(0, cut).equals(record.key) || !message.subarray(cut + KEY_DELIMITER.length).equals(record.value)) {
      throw new Error(`record #${record.index} would not survive kcat's delimiters: make keyedRecords avoid them`)
    }
    at = end + MESSAGE_DELIMITER.length
  }
  return input
}

export interface KcatProduceOptions {
  bootstrap: string
  topic: string
  /** Written to a file in `dir` and sent with `-l` (kcat reads it like stdin). */
  dir: string
  records: readonly KeyedRecord[]
  codec?: KcatCodec
  /** Fixed partition (-p); by default librdkafka's murmur2_random partitioner (Java's). */
  partition?: number
  acks?: 'all' | '1' | '0'
  /** More `-X prop=value` settings. */
  config?: readonly string[]
}

export function kcatProduceArgs(options: Omit<KcatProduceOptions, 'records' | 'dir'>, inputFile?: string): string[] {
  const args = ['-P', '-b', options.bootstrap, '-t', options.topic, '-K', escaped(KEY_DELIMITER), '-D', escaped(MESSAGE_DELIMITER)]
  args.push('-X', `acks=${options.acks ?? 'all'}`, '-X', 'partitioner=murmur2_random')
  if (options.partition !== undefined) args.push('-p', String(options.partition))
  if (options.codec !== undefined && options.codec !== 'none') args.push('-z', options.codec)
  for (const setting of options.config ?? []) args.push('-X', setting)
  if (inputFile !== undefined) args.push('-l', inputFile)
  return args
}

/** Produces `records` with kcat; resolves with its run (the caller checks the exit status). */
export async function kcatProduce(options: KcatProduceOptions): Promise<ChildResult> {
  const file = path.join(options.dir, `kcat-input-${options.topic}-${options.codec ?? 'none'}.bin`)
  writeFileSync(file, kcatInput(options.records))
  return runChild(requireKcat(), kcatProduceArgs(options, file))
}

export interface KcatRecord extends ReadRecord {
  timestamp: number
}

/** Parses KCAT_FORMAT output: header line, then exactly K key bytes and S value bytes, then "\n". */
export function parseKcatOutput(output: Buffer): KcatRecord[] {
  const records: KcatRecord[] = []
  let at = 0
  while (at < output.length) {
    const newline = output.indexOf(0x0a, at)
    if (newline < 0) throw new Error(`kcat output: torn header at byte ${at}`)
    const header = output.subarray(at, newline).toString('latin1')
    const fields = header.split(' ').map(Number)
    if (fields.length !== 5 || fields.some((n) => !Number.isInteger(n))) throw new Error(`kcat output: bad header ${JSON.stringify(header)} at byte ${at}`)
    const [partition, offset, timestamp, keyLength, valueLength] = fields as [number, number, number, number, number]
    at = newline + 1
    const key = keyLength < 0 ? null : output.subarray(at, at + keyLength)
    at += Math.max(keyLength, 0)
    const value = valueLength < 0 ? null : output.subarray(at, at + valueLength)
    at += Math.max(valueLength, 0)
    if (output[at] !== 0x0a) throw new Error(`kcat output: record at ${partition}@${offset} is not followed by a newline (lengths ${keyLength}/${valueLength})`)
    at += 1
    records.push({ partition, offset, timestamp, key, value })
  }
  return records
}

export interface KcatConsumeOptions {
  bootstrap: string
  topic: string
  partition?: number
  /** kcat's -o: 'beginning', an offset, 's@<ms>' … (default beginning). */
  offset?: string
  /** Stop after this many records (-c) instead of at the end of every partition (-e). */
  count?: number
  config?: readonly string[]
}

export function kcatConsumeArgs(options: KcatConsumeOptions): string[] {
  const args = ['-C', '-b', options.bootstrap, '-t', options.topic, '-o', options.offset ?? 'beginning', '-f', KCAT_FORMAT, '-q']
  args.push('-X', 'check.crcs=true') // librdkafka checks every batch's CRC-32C itself
  if (options.partition !== undefined) args.push('-p', String(options.partition))
  if (options.count !== undefined) args.push('-c', String(options.count))
  else args.push('-e')
  for (const setting of options.config ?? []) args.push('-X', setting)
  return args
}

/** Reads a topic with kcat (to the end of every partition, or `count` records). */
export async function kcatConsume(options: KcatConsumeOptions): Promise<{ result: ChildResult; records: KcatRecord[] }> {
  const result = await runChild(requireKcat(), kcatConsumeArgs(options))
  if (result.code !== 0) return { result, records: [] }
  return { result, records: parseKcatOutput(result.stdout) }
}
