import path from 'node:path'
import { SpoolError } from '../errors.js'
import { parseJsonOrNull, readFileOrNull, writeFileAtomic } from './atomic-file.js'
import type { StorageIO } from './io.js'

/**
 * Producer ids of a data directory (Kafka's ProducerIdManager, with the data directory in
 * place of ZooKeeper): every id is handed out at most once, across restarts, crashes and
 * power cuts. `producer-ids.json` holds `{ version, nextBlockStart }`: every id below
 * `nextBlockStart` may have been handed out. Ids are handed out from a block that is
 * reserved first, by writing the block's end there durably (write aside, fsync, rename,
 * fsync the directory); only then are its ids given. A restart starts at the last
 * reserved end, so at most a block's worth of ids is skipped, never one repeated.
 *
 * Ids start at 1: 0 is a valid id in Kafka, but a first id that is not 0 makes a
 * default-initialised (zero) field easy to tell from a real id.
 */
export const PRODUCER_IDS_FILE = 'producer-ids.json'
export const PRODUCER_IDS_VERSION = 1
export const FIRST_PRODUCER_ID = 1
/**
 * Ids reserved per durable write (Kafka reserves blocks of 1,000 in ZooKeeper too). A
 * reservation costs two fsyncs (~1–10 ms); one per thousand producers started is nothing,
 * and a restart skips at most this many ids of the 2^53 a JS number holds exactly.
 */
export const PRODUCER_ID_BLOCK_SIZE = 1000

export class ProducerIdAllocator {
  /** The next id to hand out. */
  private next: number
  /** Ids below it are durably reserved; at it, a block must be reserved before the next id. */
  private reservedEnd: number
  /** The reservation in progress, which every allocate() short of ids waits for. */
  private reserving: Promise<void> | null = null

  private constructor(
    private readonly io: StorageIO,
    private readonly file: string,
    nextBlockStart: number,
  ) {
    this.next = nextBlockStart
    this.reservedEnd = nextBlockStart
  }

  /** Reads `producer-ids.json` in `dir` (an existing directory); none there starts at FIRST_PRODUCER_ID. */
  static async open(dir: string, io: StorageIO): Promise<ProducerIdAllocator> {
    const file = path.join(dir, PRODUCER_IDS_FILE)
    const contents = await readFileOrNull(io, file)
    if (contents === null) return new ProducerIdAllocator(io, file, FIRST_PRODUCER_ID)
    const parsed = parseJsonOrNull(contents) as { version?: unknown; nextBlockStart?: unknown } | null
    const start = parsed?.nextBlockStart
    if (parsed?.version !== PRODUCER_IDS_VERSION || !isBlockStart(start)) {
      // It is only ever replaced whole, so this is outside damage. Guessing a start could
      // hand out an id twice, which would make the partitions take one producer for another.
      throw new SpoolError(
        'CORRUPT_CATALOG',
        `the producer id file ${file} is damaged; restore it from a backup, or write {"version":${PRODUCER_IDS_VERSION},"nextBlockStart":N} in it with N above every producer id ever handed out`,
        { details: { path: file } },
      )
    }
    return new ProducerIdAllocator(io, file, start)
  }

  /** A producer id never handed out before in this data directory. */
  async allocate(): Promise<number> {
    while (this.next >= this.reservedEnd) {
      this.reserving ??= this.reserveBlock().finally(() => {
        this.reserving = null
      })
      await this.reserving
    }
    return this.next++
  }

  /** Makes the next block durable before any of its ids is handed out; on failure nothing changes. */
  private async reserveBlock(): Promise<void> {
    const end = this.reservedEnd + PRODUCER_ID_BLOCK_SIZE
    const contents = Buffer.from(JSON.stringify({ version: PRODUCER_IDS_VERSION, nextBlockStart: end }))
    await writeFileAtomic(this.io, this.file, contents)
    this.reservedEnd = end
  }
}

function isBlockStart(value: unknown): value is number {
  return Number.isSafeInteger(value) && (value as number) >= FIRST_PRODUCER_ID && (value as number) <= Number.MAX_SAFE_INTEGER - PRODUCER_ID_BLOCK_SIZE
}
