import path from 'node:path'
import { crc32c } from '../record/crc32c.js'
import { readInt64, writeInt64 } from '../record/int64.js'
import { type StorageIO, isMissing } from './io.js'
import type { Logger } from './logger.js'
import { PUBLISHED_END_FILE } from './paths.js'

/**
 * The writer's visible end, published for readers in other processes
 * (`<partition>/published-end`, segments/FORMAT.md).
 *
 * A read-only open in another process cannot see the writer's memory: without help it
 * would read whatever the page cache holds, including a group of appends written but not
 * yet fsynced under flush 'always' (contract 3 forbids showing it: a power cut could
 * take it away and give its offsets to other records). So after each group becomes
 * visible in the writer (after the covering fdatasync under 'always', after the write
 * otherwise), the writer overwrites this tiny file in place with one pwrite: the active
 * segment's base offset, the byte position readers may read up to, the next offset and
 * the log's epoch. Readers read nothing past it.
 *
 * It is a hint for readers only. It is never fsynced (a power cut may leave it stale,
 * absent or empty), and recovery, the writer and the cleaner never read it: the log's
 * own files decide what the log holds. A reader that finds it damaged (the CRC does not
 * match: a read that raced a pwrite, or a torn file after a power cut) reads it again or
 * waits for the next one.
 *
 * Layout (40 bytes, big-endian): magic "SPND" (u32), version (u32, 1), segment base
 * offset (i64), byte position in that segment's `.log` (i64), next offset (i64), epoch
 * (i32), CRC-32C of the 36 bytes before it (u32).
 */
export interface PublishedEnd {
  /** Base offset of the writer's active segment. */
  segmentBase: number
  /** Readers may read that segment's `.log` up to this byte (a batch boundary). */
  position: number
  /** The offset after the last visible record. */
  nextOffset: number
  /** The log incarnation of the writer that published it (epochs.ts). */
  epoch: number
}

const MAGIC = 0x53504e44 // "SPND"
export const PUBLISHED_END_VERSION = 1
export const PUBLISHED_END_BYTES = 40
const CRC_AT = 36

export function publishedEndPath(dir: string): string {
  return path.join(dir, PUBLISHED_END_FILE)
}

export function encodePublishedEnd(end: PublishedEnd, into: Buffer = Buffer.alloc(PUBLISHED_END_BYTES)): Buffer {
  into.writeUInt32BE(MAGIC, 0)
  into.writeUInt32BE(PUBLISHED_END_VERSION, 4)
  writeInt64(into, 8, end.segmentBase)
  writeInt64(into, 16, end.position)
  writeInt64(into, 24, end.nextOffset)
  into.writeInt32BE(end.epoch, 32)
  into.writeUInt32BE(crc32c(into.subarray(0, CRC_AT)), CRC_AT)
  return into
}

/** The end the bytes say, or null when they are not a whole, intact record of this version. */
export function decodePublishedEnd(bytes: Buffer): PublishedEnd | null {
  if (bytes.length < PUBLISHED_END_BYTES) return null
  if (bytes.readUInt32BE(0) !== MAGIC || bytes.readUInt32BE(4) !== PUBLISHED_END_VERSION) return null
  if (bytes.readUInt32BE(CRC_AT) !== crc32c(bytes.subarray(0, CRC_AT))) return null
  const end = { segmentBase: readInt64(bytes, 8), position: readInt64(bytes, 16), nextOffset: readInt64(bytes, 24), epoch: bytes.readInt32BE(32) }
  const counts = [end.segmentBase, end.position, end.nextOffset]
  if (!counts.every((n) => Number.isSafeInteger(n) && n >= 0) || end.nextOffset < end.segmentBase || end.epoch < 0) return null
  return end
}

export function sameEnd(a: PublishedEnd, b: PublishedEnd): boolean {
  return a.segmentBase === b.segmentBase && a.position === b.position && a.nextOffset === b.nextOffset && a.epoch === b.epoch
}

/** Reads the published end of `dir` by name (null: none, or damaged). */
export async function readPublishedEnd(io: StorageIO, dir: string): Promise<PublishedEnd | null> {
  try {
    const bytes = await io.readFileIfExists(publishedEndPath(dir))
    return bytes === null ? null : decodePublishedEnd(bytes)
  } catch {
    return null // a hint: unreadable is as good as absent
  }
}

/**
 * The writer's side: the file is opened (created if absent) before the first append, and
 * each publish is one synchronous pwrite of 40 bytes at position 0, from the writer's
 * turn (no await: it lands before the appends it covers are acknowledged). A failure is
 * warned about once and never fails an append: readers in other processes then wait for
 * the next publish.
 */
export class EndPublisher {
  private fd = -1
  private warned = false
  private readonly buffer = Buffer.alloc(PUBLISHED_END_BYTES)

  constructor(
    private readonly io: StorageIO,
    private readonly dir: string,
    private readonly logger: Logger,
  ) {}

  get isOpen(): boolean {
    return this.fd >= 0
  }

  async open(): Promise<void> {
    if (this.fd >= 0) return
    const file = publishedEndPath(this.dir)
    try {
      // Never truncated: a reader may hold it open and read it at any moment.
      this.fd = await this.io.open(file, 'r+').catch(async (error: unknown) => {
        if (!isMissing(error)) throw error
        return this.io.open(file, 'w+')
      })
    } catch (error) {
      this.warn(`cannot open ${file}: ${(error as Error).message}`)
    }
  }

  publish(end: PublishedEnd): void {
    if (this.fd < 0) return
    try {
      const written = this.io.writevSync(this.fd, [encodePublishedEnd(end, this.buffer)], 0)
      if (written !== PUBLISHED_END_BYTES) throw new Error(`wrote ${written} of ${PUBLISHED_END_BYTES} bytes`)
    } catch (error) {
      this.warn(`cannot write ${publishedEndPath(this.dir)}: ${(error as Error).message}`)
    }
  }

  async close(): Promise<void> {
    const fd = this.fd
    this.fd = -1
    if (fd >= 0) await this.io.close(fd).catch(() => undefined)
  }

  private warn(message: string): void {
    if (this.warned) return
    this.warned = true
    this.logger.warn(`${message}; readers in other processes may not see new records until it can be written (appends go on)`)
  }
}
