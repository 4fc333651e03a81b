import { createRequire } from 'node:module'
import zlib from 'node:zlib'
import { CodecError, tooLarge } from './codec-error.js'
import { asBuffer, type CodecImplementation } from './implementation.js'
import { scanZstdFrames } from './zstd-frame.js'

/**
 * zstd batches.
 *
 * Native: node:zlib's zstd, present from Node 22.15 and 23.8. Node 20 has none, and the
 * N-API packages (zstd-napi, @mongodb-js/zstd) fetch their binaries from GitHub at install
 * time, which this project's machines cannot do.
 *
 * Fallback: @bokuweb/zstd-wasm, the reference C library in WebAssembly, shipped inside the
 * package; it compresses and decompresses and reports corrupt input as an error code.
 * Its decompress sizes the output from the frame's declared content size, and otherwise
 * from a capacity we pass: we pass the frame's bound capped at maxBytes, so frames without
 * a content size (Java's, librdkafka's and python's streaming compressors write those)
 * decode, and a bomb fails with "destination too small" instead of growing memory.
 * Rejected: @hpcc-js/wasm-zstd guesses 20 times the input for frames without a content
 * size, so 8 MiB of zeros from python's compressobj() fails to decode; fzstd only
 * decompresses, at 185 against 467 MB/s, and decoded a corrupted frame without error.
 *
 * The WebAssembly module is compiled at load (top-level await, about 9 ms), also where
 * node:zlib has zstd, so the fallback stays testable there.
 */

/** zstd's and Kafka's default level (ZSTD_CLEVEL_DEFAULT, compression.zstd.level). */
export const ZSTD_LEVEL = 3

interface ZlibZstd {
  zstdCompressSync(data: Uint8Array, options: { params: Record<number, number> }): Buffer
  zstdDecompressSync(data: Uint8Array, options: { maxOutputLength: number }): Buffer
  constants: { ZSTD_c_compressionLevel: number }
}

interface ZstdWasm {
  init(): Promise<void>
  compress(data: Uint8Array, level: number): Uint8Array
  decompress(data: Uint8Array, options: { defaultHeapSize: number }): Uint8Array
}

/** The error bokuweb's wrapper reports as "Failed to compress with code -70" (ZSTD_error_dstSize_tooSmall). */
const WASM_DST_TOO_SMALL = 'code -70'

function malformed(error: unknown): CodecError {
  return new CodecError('zstd', `malformed input: ${(error as Error).message}`, { cause: error })
}

/**
 * Decodes frame by frame, each within what is left of maxBytes. Both decoders need it:
 * node:zlib's zstd stops after the first frame without an error (and returns nothing when
 * a skippable frame comes first), and bokuweb's sizes its output from the first frame's
 * header only. Kafka writes one frame, but the format allows several.
 */
function decodeFrames(data: Uint8Array, maxBytes: number, decodeFrame: (frame: Uint8Array, capacity: number) => Buffer | null): Buffer {
  const parts: Buffer[] = []
  let total = 0
  for (const frame of scanZstdFrames(data, maxBytes)) {
    const remaining = maxBytes - total
    const capacity = Math.min(frame.outputBound, remaining)
    const part = decodeFrame(data.subarray(frame.start, frame.end), capacity)
    // Past a capacity that maxBytes set, the batch is too large; past the frame's own bound, it lies.
    if (part === null || part.length > capacity) {
      if (capacity < frame.outputBound) throw tooLarge('zstd', maxBytes)
      throw new CodecError('zstd', 'malformed input: a frame decodes past its bound')
    }
    if (frame.contentSize !== null && part.length !== frame.contentSize) {
      throw new CodecError('zstd', `malformed input: ${part.length} bytes where ${frame.contentSize} are declared`)
    }
    parts.push(part)
    total += part.length
  }
  return parts.length === 1 ? parts[0]! : Buffer.concat(parts, total)
}

function nativeCodec(z: ZlibZstd): CodecImplementation {
  const decodeFrame = (frame: Uint8Array, capacity: number): Buffer | null => {
    try {
      // maxOutputLength must be at least 1; an empty capacity is enforced by decodeFrames.
      return z.zstdDecompressSync(frame, { maxOutputLength: Math.max(1, capacity) })
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') return null
      throw malformed(error)
    }
  }
  return {
    name: 'node:zlib zstd (native)',
    native: true,
    compress: (data) => z.zstdCompressSync(data, { params: { [z.constants.ZSTD_c_compressionLevel]: ZSTD_LEVEL } }),
    decompress: (data, maxBytes) => decodeFrames(data, maxBytes, decodeFrame),
  }
}

function wasmCodec(wasm: ZstdWasm): CodecImplementation {
  const decodeFrame = (frame: Uint8Array, capacity: number): Buffer | null => {
    try {
      // With a declared content size the wrapper allocates that (already checked); without, this capacity.
      return asBuffer(wasm.decompress(frame, { defaultHeapSize: capacity }))
    } catch (error) {
      if ((error as Error).message.endsWith(WASM_DST_TOO_SMALL)) return null
      throw malformed(error)
    }
  }
  return {
    name: '@bokuweb/zstd-wasm (WebAssembly fallback)',
    native: false,
    compress: (data) => asBuffer(wasm.compress(data, ZSTD_LEVEL)),
    decompress: (data, maxBytes) => decodeFrames(data, maxBytes, decodeFrame),
  }
}

async function loadWasm(): Promise<ZstdWasm | null> {
  try {
    const wasm = createRequire(import.meta.url)('@bokuweb/zstd-wasm') as ZstdWasm
    await wasm.init()
    return wasm
  } catch {
    return null
  }
}

const zlibZstd = typeof (zlib as unknown as Partial<ZlibZstd>).zstdDecompressSync === 'function' ? (zlib as unknown as ZlibZstd) : null
const wasm = await loadWasm()

/** null before Node 22.15. */
export const zstdNative = zlibZstd === null ? null : nativeCodec(zlibZstd)
/** null only if the WebAssembly module failed to load, in which case zstd works only where node:zlib has it. */
export const zstdFallback = wasm === null ? null : wasmCodec(wasm)
