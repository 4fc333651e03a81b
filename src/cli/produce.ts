import fs from 'node:fs'
import readline from 'node:readline'
import { Command } from 'commander'
import type { ProducerRecord, RecordMetadata } from '../client/producer.js'
import { invalidArgument } from '../errors.js'
import type { CompressionCodec } from '../record/compression/index.js'
import { integerOption, withSpool } from './open.js'
import { type CliStreams, type GlobalOptions, writeJson, writeLine } from './output.js'

/** Lines sent per sendBatch: bounded memory for any input size, and large batches. */
const PRODUCE_CHUNK_LINES = 1000

interface ProduceFlags {
  file?: string
  keySeparator?: string
  partition?: string
  header: string[]
  quiet?: boolean
  compression?: string
}

function parseHeaders(pairs: readonly string[]): Record<string, string> {
  const headers: Record<string, string> = {}
  for (const pair of pairs) {
    const at = pair.indexOf('=')
    if (at <= 0) throw invalidArgument('--header', `must be key=value, not "${pair}"`)
    headers[pair.slice(0, at)] = pair.slice(at + 1)
  }
  return headers
}

function recordOf(topic: string, line: string, flags: ProduceFlags, partition: number | undefined, headers: Record<string, string>): ProducerRecord {
  const record: ProducerRecord = { topic, value: line, headers }
  if (partition !== undefined) record.partition = partition
  if (flags.keySeparator !== undefined) {
    const at = line.indexOf(flags.keySeparator)
    if (at < 0) throw invalidArgument('--key-separator', `"${flags.keySeparator}" is missing from the line "${line.slice(0, 60)}"`)
    record.key = line.slice(0, at)
    record.value = line.slice(at + flags.keySeparator.length)
  }
  return record
}

export function produceCommand(out: CliStreams, globals: () => GlobalOptions): Command {
  return new Command('produce')
    .description('send records to a topic, one per line of stdin (or --file)')
    .argument('<topic>')
    .option('--file <path>', 'read the lines from a file instead of stdin')
    .option('--key-separator <sep>', 'split each line at the first <sep> into key and value')
    .option('--partition <n>', 'send every record to this partition')
    .option('--header <k=v>', 'add a header to every record (repeatable)', (value: string, all: string[]) => [...all, value], [])
    .option('--quiet', 'print only the number of records written')
    .option('--compression <codec>', "compress batches on disk: 'none' (default), 'gzip', 'snappy', 'lz4' or 'zstd'")
    .action(async (topic: string, flags: ProduceFlags) => {
      const partition = integerOption('partition', flags.partition)
      const headers = parseHeaders(flags.header)
      const input = flags.file === undefined ? process.stdin : fs.createReadStream(flags.file)
      const json = globals().json
      const written: RecordMetadata[] = [] // kept only for --json, which prints them as one array
      let count = 0
      await withSpool(globals(), 'write', async (spool) => {
        // The engine checks the codec's name and names the field.
        const producer = spool.producer(flags.compression === undefined ? {} : { compression: flags.compression as CompressionCodec })
        let chunk: ProducerRecord[] = []
        const send = async (): Promise<void> => {
          const results = await producer.sendBatch(chunk)
          chunk = []
          count += results.length
          if (flags.quiet) return
          if (json) written.push(...results)
          else for (const r of results) writeLine(out.stdout, `partition ${r.partition} offset ${r.offset}`)
        }
        for await (const line of readline.createInterface({ input, crlfDelay: Infinity })) {
          chunk.push(recordOf(topic, line, flags, partition, headers))
          if (chunk.length >= PRODUCE_CHUNK_LINES) await send()
        }
        if (chunk.length > 0) await send()
      })
      if (json) writeJson(out.stdout, flags.quiet ? { records: count } : written)
      else if (flags.quiet) writeLine(out.stdout, `${count} records written`)
    })
}
