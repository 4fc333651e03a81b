import { createRequire } from 'node:module'
import { CodecError } from './codec-error.js'
import { asBuffer, type CodecImplementation } from './implementation.js'
import { decodeSnappyBlock, readSnappyLength } from './snappy-block.js'
import { decodeXerial, isXerial, type RawSnappy } from './xerial.js'

/**
 * Snappy batches: written as one raw snappy block, as librdkafka writes them; read in
 * xerial framing (Kafka's Java client's) when its magic is there and as one raw block
 * otherwise. Raw is what every client reads: snappy-java's SnappyInputStream (so Kafka's
 * Java consumer), librdkafka and kafka-python take either, but @platformatic/kafka reads
 * only raw (test/record/foreign-oracles.test.ts pins it), and a batch spool stores is
 * served to clients as it is.
 *
 * Native: the `snappy` package (napi-rs, Rust's snap crate; its binaries are optional
 * dependencies from the registry). Its uncompressSync allocates whatever length the
 * block declares, so that length is checked against maxBytes first.
 *
 * Fallback: snappyjs compresses (pure JavaScript, no init, no binary; about 3 million
 * downloads a month, and what kafkajs-snappy builds on); our strict decoder
 * (snappy-block.ts) decompresses, since snappyjs's own accepts truncated input.
 * @platformatic/wasm-utils was the other candidate and was rejected: each malformed input
 * traps its WebAssembly instance and leaks the memory it held (3 GB after 4,000 bad
 * inputs, measured), after which valid input fails too; and it declares Node >= 22.19.
 */

interface SnappyNative {
  compressSync(input: Uint8Array, options: { copyOutputData: boolean }): Buffer
  uncompressSync(input: Uint8Array, options: { asBuffer: true; copyOutputData: boolean }): Buffer
}

/**
 * Have the binding copy its output into an ordinary Buffer rather than hand over Rust's
 * memory as an external buffer. The option exists for Electron, but is faster here too:
 * on 1 MiB of JSON in 32 KiB chunks, 1,076 against 315 MB/s compressing and 1,767 against
 * 363 MB/s decompressing (each external buffer carries a finalizer for the GC to run).
 */
const COPY_OUTPUT = true

interface SnappyJs {
  compress(input: Buffer): Buffer
}

const require = createRequire(import.meta.url)

function loadNative(): RawSnappy | null {
  try {
    const snappy = require('snappy') as SnappyNative
    return {
      compress: (block) => snappy.compressSync(block, { copyOutputData: COPY_OUTPUT }),
      decompress(block, maxBytes) {
        readSnappyLength(block, maxBytes)
        try {
          return snappy.uncompressSync(block, { asBuffer: true, copyOutputData: COPY_OUTPUT })
        } catch (error) {
          throw new CodecError('snappy', `malformed input: ${(error as Error).message}`, { cause: error })
        }
      },
    }
  } catch {
    return null
  }
}

const snappyJs = require('snappyjs') as SnappyJs

const fallbackRaw: RawSnappy = {
  compress: (block) => snappyJs.compress(asBuffer(block)),
  decompress: decodeSnappyBlock,
}

function snappyCodec(name: string, native: boolean, raw: RawSnappy): CodecImplementation {
  return {
    name,
    native,
    compress: (data) => raw.compress(data),
    decompress: (data, maxBytes) => (isXerial(data) ? decodeXerial(data, maxBytes, raw) : raw.decompress(data, maxBytes)),
  }
}

const nativeRaw = loadNative()

export const snappyFallback = snappyCodec('snappyjs + own decoder (pure JS fallback)', false, fallbackRaw)
/** null where the native binding does not load for this platform. */
export const snappyNative = nativeRaw === null ? null : snappyCodec('snappy (native)', true, nativeRaw)
