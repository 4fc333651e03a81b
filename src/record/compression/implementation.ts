/**
 * One way to compress and decompress one codec. Each codec has a native implementation
 * (N-API or node:zlib) when one loads, and a fallback in JavaScript or WebAssembly that
 * always does; both read and write the same bytes.
 */
export interface CodecImplementation {
  /** What does the work, for benchmarks and docs: e.g. 'snappy (native)'. */
  readonly name: string
  /** Whether this is the native implementation; false for a JavaScript or WebAssembly fallback. */
  readonly native: boolean
  compress(data: Uint8Array): Buffer
  /** Throws CodecError when the input is malformed or its output would pass `maxBytes`. */
  decompress(data: Uint8Array, maxBytes: number): Buffer
}

/** A Buffer over the same memory, so native bindings that insist on Buffer get one without a copy. */
export function asBuffer(data: Uint8Array): Buffer {
  return Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength)
}

