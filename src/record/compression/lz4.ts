import { createRequire } from 'node:module'
import { CodecError } from './codec-error.js'
import { asBuffer, type CodecImplementation } from './implementation.js'
import { decompressLz4Block } from './lz4-block.js'
import { decodeLz4Frame, encodeLz4Frame, type Lz4BlockDecoder, type Lz4BlockEncoder } from './lz4-frame.js'

/**
 * LZ4 batches: the LZ4 frame format (magic 2; older magics used a broken header checksum,
 * not read here). The frame is always ours (lz4-frame.ts), written as Kafka's Java
 * producer writes it; the implementations differ in who compresses and decompresses the
 * blocks inside it.
 *
 * Native: lz4-napi's block functions (napi-rs, Rust's lz4_flex; binaries are optional
 * dependencies from the registry). Not its frame functions: measured on 1 MiB of JSON,
 * they compress at 290 MB/s and decompress at 366 MB/s against 574 and about 2,000 MB/s
 * block by block (its frame decoder sets up 4 MiB block buffers per call), and they write
 * 4 MiB blocks where Java writes 64 KiB. Its block decompressor also takes the output size
 * to allow, so every block is bounded by what is left of maxBytes.
 *
 * Fallback: our own blocks, in plain TypeScript (lz4-block.ts). Both candidates fell short,
 * measured: lz4js ignores checksums, mis-parses frames with block checksums (it looks for
 * the checksum before the block; python's lz4.frame with block_checksum=True decodes to
 * garbage), accepts truncated and corrupt input without error, and writes linked blocks,
 * which Kafka's Java reader refuses. @platformatic/wasm-utils leaks its WebAssembly memory
 * on every malformed input until valid input fails too (see snappy.ts).
 */

/** lz4_flex's block functions put the uncompressed size in front, 4 bytes little-endian. */
const SIZE_PREFIX_BYTES = 4
/** How lz4_flex says the output size it was allowed is too small. */
const OUTPUT_TOO_SMALL = /too small/

interface Lz4Napi {
  compressSync(data: Buffer): Buffer
  uncompressSync(data: Buffer): Buffer
}

function loadNative(): Lz4Napi | null {
  try {
    return createRequire(import.meta.url)('lz4-napi') as Lz4Napi
  } catch {
    return null
  }
}

function nativeEncoder(napi: Lz4Napi): Lz4BlockEncoder {
  return (block, dst, dstPos) => {
    const prefixed = napi.compressSync(asBuffer(block))
    const size = prefixed.length - SIZE_PREFIX_BYTES
    if (size < block.length) dst.set(prefixed.subarray(SIZE_PREFIX_BYTES), dstPos)
    return dstPos + size
  }
}

function nativeDecoder(napi: Lz4Napi): Lz4BlockDecoder {
  return (src, start, end, dst, dstPos, dstLimit, windowStart, overflow) => {
    // Linked blocks (python's lz4.frame default; Kafka refuses them) match into earlier
    // blocks, which lz4_flex's block function cannot see: ours decodes those.
    if (windowStart !== dstPos) return decompressLz4Block(src, start, end, dst, dstPos, dstLimit, windowStart, overflow)
    const prefixed = Buffer.allocUnsafe(SIZE_PREFIX_BYTES + end - start)
    prefixed.writeUInt32LE(dstLimit - dstPos, 0)
    prefixed.set(src.subarray(start, end), SIZE_PREFIX_BYTES)
    let out: Buffer
    try {
      out = napi.uncompressSync(prefixed)
    } catch (error) {
      if (OUTPUT_TOO_SMALL.test((error as Error).message)) throw overflow()
      throw new CodecError('lz4', `malformed block: ${(error as Error).message}`, { cause: error })
    }
    if (out.length > dstLimit - dstPos) throw overflow()
    dst.set(out, dstPos)
    return dstPos + out.length
  }
}

export const lz4Fallback: CodecImplementation = {
  name: 'own TypeScript LZ4 codec (pure JS fallback)',
  native: false,
  compress: (data) => encodeLz4Frame(data),
  decompress: (data, maxBytes) => decodeLz4Frame(data, maxBytes),
}

function nativeCodec(napi: Lz4Napi): CodecImplementation {
  const decoder = nativeDecoder(napi)
  const encoder = nativeEncoder(napi)
  return {
    name: 'lz4-napi blocks (native)',
    native: true,
    compress: (data) => encodeLz4Frame(data, encoder),
    decompress: (data, maxBytes) => decodeLz4Frame(data, maxBytes, decoder),
  }
}

const lz4Napi = loadNative()

/** null where the native binding does not load for this platform. */
export const lz4Native = lz4Napi === null ? null : nativeCodec(lz4Napi)
