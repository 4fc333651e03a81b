import { tooLarge } from './codec-error.js'
import type { CodecImplementation } from './implementation.js'

/** Codec 0: the records as they are. Copies, so the result never aliases the caller's bytes, as with every other codec. */
export const none: CodecImplementation = {
  name: 'none',
  native: true,
  compress: (data) => Buffer.from(data),
  decompress(data, maxBytes) {
    if (data.length > maxBytes) throw tooLarge('none', maxBytes)
    return Buffer.from(data)
  },
}
