import { constants } from 'node:buffer'
import { invalidArgument } from '../../errors.js'
import { nonNegativeInteger } from '../../validate.js'
import { CodecError } from './codec-error.js'
import { COMPRESSION_CODECS, type CompressionCodec } from './codecs.js'
import { gzip } from './gzip.js'
import type { CodecImplementation } from './implementation.js'
import { lz4Fallback, lz4Native } from './lz4.js'
import { none } from './none.js'
import { snappyFallback, snappyNative } from './snappy.js'
import { zstdFallback, zstdNative } from './zstd.js'

/**
 * The compression codecs of magic-2 batches: what follows the 61-byte batch header,
 * compressed as the batch attributes' low three bits say. Each codec uses its native
 * implementation where one loads and a JavaScript or WebAssembly fallback otherwise; both
 * read and write the same bytes, and every decompression is bounded by `maxBytes`.
 */

export { CodecError } from './codec-error.js'
export { CODEC_ID_MASK, COMPRESSION_CODECS, codecFromId, codecId, parseCompressionCodec, type CompressionCodec } from './codecs.js'
export type { CodecImplementation } from './implementation.js'

export type Codecs = Readonly<Record<CompressionCodec, CodecImplementation>>

export interface LoadCodecsOptions {
  /** false picks every fallback, to test them or compare them; default true. */
  preferNative?: boolean
}

function unavailable(codec: CompressionCodec): CodecImplementation {
  const fail = (): never => {
    throw new CodecError(codec, 'no implementation loaded on this platform')
  }
  return { name: `${codec} (unavailable)`, native: false, compress: fail, decompress: fail }
}

/** The implementation of each codec: native where it loaded (unless told otherwise), else the fallback. */
export function loadCodecs(options: LoadCodecsOptions = {}): Codecs {
  const preferNative = options.preferNative ?? true
  const pick = (native: CodecImplementation | null, fallback: CodecImplementation | null): CodecImplementation | null =>
    (preferNative ? (native ?? fallback) : (fallback ?? native))
  return {
    none,
    gzip,
    snappy: pick(snappyNative, snappyFallback) ?? unavailable('snappy'),
    lz4: pick(lz4Native, lz4Fallback) ?? unavailable('lz4'),
    zstd: pick(zstdNative, zstdFallback) ?? unavailable('zstd'),
  }
}

const active = loadCodecs()

function implementation(codec: CompressionCodec): CodecImplementation {
  const found = (active as Partial<Codecs>)[codec]
  if (found === undefined || !Object.hasOwn(active, codec)) throw invalidArgument('codec', `must be one of ${COMPRESSION_CODECS.join(', ')}`)
  return found
}

export function compress(codec: CompressionCodec, data: Uint8Array): Buffer {
  return implementation(codec).compress(data)
}

/**
 * Throws CodecError when `data` is malformed or truncated, or would decompress to more
 * than `maxBytes` (checked before the output is allocated wherever the format declares
 * its size, so that a crafted batch cannot make the reader allocate without bound).
 */
export function decompress(codec: CompressionCodec, data: Uint8Array, maxBytes: number): Buffer {
  const impl = implementation(codec)
  return impl.decompress(data, Math.min(nonNegativeInteger('maxBytes', maxBytes), constants.MAX_LENGTH))
}

/** Which implementation each codec uses here, e.g. { snappy: 'snappy (native)', ... }, for benchmarks and docs. */
export function codecImplementations(): Record<CompressionCodec, string> {
  return {
    none: active.none.name,
    gzip: active.gzip.name,
    snappy: active.snappy.name,
    lz4: active.lz4.name,
    zstd: active.zstd.name,
  }
}
