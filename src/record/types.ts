/** A record header: a string key and a byte value. Keys may repeat, as in Kafka. */
export interface RecordHeader {
  key: string
  value: Buffer | null
}

/** A record as handed to the storage layer, already in bytes. */
export interface RecordInput {
  key: Buffer | null
  value: Buffer | null
  headers?: readonly RecordHeader[]
  /** Milliseconds since the epoch; the append time when absent. */
  timestamp?: number
}

/** A record as read back from a log. `key` and `value` are views into the read buffer. */
export interface StoredRecord {
  offset: number
  timestamp: number
  key: Buffer | null
  value: Buffer | null
  /** Shared and frozen when the record has none: copy before changing. */
  headers: readonly RecordHeader[]
}

/** Where a record came from, stamped onto each record a labelled read returns. */
export interface RecordLabel {
  topic: string
  partition: number
}
