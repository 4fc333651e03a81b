import { invalidArgument } from '../../errors.js'

/** The codecs of a magic-2 batch, in the order of their ids (the low 3 bits of its attributes). */
export const COMPRESSION_CODECS = ['none', 'gzip', 'snappy', 'lz4', 'zstd'] as const

export type CompressionCodec = (typeof COMPRESSION_CODECS)[number]

/** The batch attributes mask holding the codec id. */
export const CODEC_ID_MASK = 0x07

export function codecId(codec: CompressionCodec): number {
  const id = COMPRESSION_CODECS.indexOf(codec)
  if (id < 0) throw invalidArgument('codec', `must be one of ${COMPRESSION_CODECS.join(', ')}`)
  return id
}

/** The codec with this id, or null for the ids Kafka leaves unassigned (5 to 7) and anything else. */
export function codecFromId(id: number): CompressionCodec | null {
  return Number.isInteger(id) && id >= 0 && id < COMPRESSION_CODECS.length ? (COMPRESSION_CODECS[id] ?? null) : null
}

export function parseCompressionCodec(value: unknown, field: string): CompressionCodec {
  if (typeof value === 'string' && (COMPRESSION_CODECS as readonly string[]).includes(value)) return value as CompressionCodec
  throw invalidArgument(field, `must be one of ${COMPRESSION_CODECS.join(', ')}`)
}
