import { SpoolError } from '../errors.js'
import type { PartitionLog } from '../storage/partition-log.js'
import type { ConsumedRecord } from './reader.js'

/** One log read's records (labelled with their topic and partition) and where the next read starts. */
export interface LabelledRead {
  records: ConsumedRecord[]
  nextOffset: number
}

/** What a stream reads, resolved from the caller's options by readTopic. */
export interface StreamBounds {
  topic: string
  partition: number
  /** The last offset to deliver (inclusive), or Infinity. */
  last: number
  follow: boolean
  signal: AbortSignal | undefined
}

/**
 * The partition's log, the first offset to deliver, and how to read a chunk from an
 * offset: found at the first read, as a generator's body would.
 */
export type StreamStart = () => Promise<{ log: PartitionLog; from: number; read: (offset: number) => Promise<LabelledRead> }>

/**
 * Reads a partition a chunk (one log read, `maxBytes`) at a time, in offset order, within
 * the bounds; with `follow`, waits for appends at the end. The next chunk's read starts as
 * soon as one is handed out, so that the disk works while the application does.
 */
export class ChunkReader {
  private log: PartitionLog | null = null
  private readAt: (offset: number) => Promise<LabelledRead> = () => Promise.reject(new Error('read before the start'))
  /** The offset the next read starts at. */
  private offset = 0
  /** The read of the chunk after the one handed out last. */
  private ahead: Promise<LabelledRead> | null = null
  private finished = false

  constructor(
    private readonly bounds: StreamBounds,
    private readonly start: StreamStart,
  ) {}

  /** The next chunk's records (never empty), or null at the end. A failure ends the reader. */
  async next(): Promise<ConsumedRecord[] | null> {
    try {
      return await this.read()
    } catch (error) {
      this.finish()
      throw error
    }
  }

  /** Ends the reader: a read in flight is left to settle, its records dropped. */
  finish(): void {
    this.finished = true
    this.ahead = null
  }

  get done(): boolean {
    return this.finished
  }

  private async read(): Promise<ConsumedRecord[] | null> {
    const { bounds } = this
    if (this.log === null && !this.finished) {
      const { log, from, read } = await this.start()
      this.log = log
      this.offset = from
      this.readAt = read
    }
    const log = this.log!
    while (!this.finished && this.offset <= bounds.last && bounds.signal?.aborted !== true) {
      if (this.ahead === null && this.offset >= log.endOffset) {
        if (!bounds.follow || !(await log.waitForAppend(this.offset, bounds.signal))) break
        continue
      }
      const records = await this.take(log, this.ahead ?? this.readAt(this.offset))
      if (records.length > 0) return records
    }
    this.finish()
    return null
  }

  /** A read's records up to the last offset wanted; starts reading the next chunk. */
  private async take(log: PartitionLog, read: Promise<LabelledRead>): Promise<ConsumedRecord[]> {
    const { bounds } = this
    this.ahead = null
    const from = this.offset
    const { records, nextOffset } = await read
    if (this.finished) return []
    if (nextOffset <= from) throw new SpoolError('CORRUPT_BATCH', `reading ${bounds.topic}-${bounds.partition} made no progress at offset ${from}`)
    this.offset = nextOffset
    if (nextOffset <= bounds.last && nextOffset < log.endOffset) {
      const ahead = this.readAt(nextOffset)
      // Its failure is reported when the reader reaches it, not as an unhandled rejection.
      ahead.catch(() => {})
      this.ahead = ahead
    }
    // None: what lay between was compacted away; the caller reads on from nextOffset.
    if (records.length === 0 || records[records.length - 1]!.offset <= bounds.last) return records
    this.offset = Infinity // past the last offset wanted: this chunk is the last
    return records.filter((record) => record.offset <= bounds.last)
  }
}

const DONE: IteratorReturnResult<void> = Object.freeze({ value: undefined, done: true })

/**
 * `spool.read()`'s iterator: an async generator by its interface, but written by hand so
 * that a record already read costs no generator resumption — `next()` hands it out of the
 * chunk in hand with one settled promise, which measured 2.5× the records/s of an
 * `async function*` yielding the same records.
 *
 * Calls to `next()` made before the previous one settled are answered in order, as a
 * generator's are; `return()` and `throw()` end the stream.
 */
export class RecordStream implements AsyncGenerator<ConsumedRecord, void, undefined> {
  private records: ConsumedRecord[] = []
  private index = 0
  /** The step waiting for a chunk: later `next()` calls queue behind it. */
  private pending: Promise<IteratorResult<ConsumedRecord, void>> | null = null

  constructor(private readonly chunks: ChunkReader) {}

  [Symbol.asyncIterator](): this {
    return this
  }

  next(): Promise<IteratorResult<ConsumedRecord, void>> {
    if (this.pending === null) {
      const record = this.records[this.index]
      if (record !== undefined) {
        this.index++
        return Promise.resolve({ value: record, done: false })
      }
      if (this.chunks.done) return Promise.resolve(DONE)
    }
    const after = this.pending ?? Promise.resolve()
    const step = after.then(
      () => this.step(),
      () => this.step(),
    )
    const mine = step.finally(() => {
      if (this.pending === mine) this.pending = null
    })
    this.pending = mine
    return mine
  }

  return(): Promise<IteratorResult<ConsumedRecord, void>> {
    this.end()
    return Promise.resolve(DONE)
  }

  throw(error: unknown): Promise<IteratorResult<ConsumedRecord, void>> {
    this.end()
    return Promise.reject(error)
  }

  /** The next record, reading (or waiting for) the next chunk when the one in hand is used up. */
  private async step(): Promise<IteratorResult<ConsumedRecord, void>> {
    let record = this.records[this.index]
    if (record === undefined) {
      const chunk = await this.chunks.next()
      if (chunk === null) return this.end()
      this.records = chunk
      this.index = 0
      record = chunk[0]!
    }
    this.index++
    return { value: record, done: false }
  }

  private end(): IteratorReturnResult<void> {
    this.chunks.finish()
    this.records = []
    this.index = 0
    return DONE
  }
}
