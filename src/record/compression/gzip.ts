import zlib from 'node:zlib'
import { CodecError, tooLarge } from './codec-error.js'
import type { CodecImplementation } from './implementation.js'

/**
 * Kafka's Java producer writes gzip at Deflater's default level (6) unless
 * compression.gzip.level says otherwise; the same level keeps ratios comparable with
 * batches it wrote. zlib's own default is also 6; naming it keeps that choice visible.
 */
export const GZIP_LEVEL = 6

/**
 * gzip has only one implementation: node:zlib is always there and native. Java writes a
 * single gzip member; gunzip also reads several concatenated members, as Java's
 * GZIPInputStream does.
 */
export const gzip: CodecImplementation = {
  name: 'node:zlib gzip (native)',
  native: true,
  compress: (data) => zlib.gzipSync(data, { level: GZIP_LEVEL }),
  decompress(data, maxBytes) {
    try {
      // maxOutputLength must be at least 1; an empty limit is enforced by the check below.
      const out = zlib.gunzipSync(data, { maxOutputLength: Math.max(1, maxBytes) })
      if (out.length > maxBytes) throw tooLarge('gzip', maxBytes)
      return out
    } catch (error) {
      if (error instanceof CodecError) throw error
      if ((error as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') throw tooLarge('gzip', maxBytes)
      throw new CodecError('gzip', `malformed input: ${(error as Error).message}`, { cause: error })
    }
  },
}
