import type { CompressionCodec } from './codecs.js'

/**
 * A compressed payload could not be turned back into bytes: it is malformed or truncated,
 * its checksum does not match, or it would decompress past the caller's limit. Callers
 * treat all of these alike (the batch is corrupt), so one type carries them; `codec` and
 * the message say which and why.
 */
export class CodecError extends Error {
  override readonly name = 'CodecError'
  readonly codec: CompressionCodec

  constructor(codec: CompressionCodec, message: string, options: { cause?: unknown } = {}) {
    super(`${codec}: ${message}`, options.cause === undefined ? undefined : { cause: options.cause })
    this.codec = codec
  }
}

/** The error for output past `maxBytes`, worded the same for every codec. */
export function tooLarge(codec: CompressionCodec, maxBytes: number): CodecError {
  return new CodecError(codec, `decompresses to more than maxBytes (${maxBytes})`)
}
