/** What a simulated run can find wrong, one kind per broken promise. */
export type FailureKind =
  /** The directory did not reopen by itself after a power cut (contract 6). */
  | 'reopen-refused'
  /** A topic is missing, or there, against what acknowledged changes say. */
  | 'topic-state'
  /** A read of the reopened log failed (corruption served or recovery left damage). */
  | 'unreadable'
  /** An acknowledged 'always' record, or one inside what survived of another, is gone (contract 1). */
  | 'acked-record-lost'
  /** An acknowledged record's offset holds another record (contract 2). */
  | 'acked-record-changed'
  /** Two acknowledged sends were given the same offset in one incarnation (contract 2). */
  | 'offset-reused'
  /** The log holds bytes the workload never sent there, or a record twice. */
  | 'unknown-record'
  /** The partition's start moved past what retention deleted. */
  | 'start-moved'
  /** A group's committed offset is behind what a commit acknowledged (contract 7). */
  | 'commit-lost'
  /** A group committed past the durable end of an 'always' log: it was given records not yet durable (contract 3). */
  | 'commit-past-end'
  /** A group was given a record past one the log holds and it never got (contract 7, defect 5). */
  | 'group-skipped'
  /** Two batches in the log carry one producer's (id, epoch, sequence): a batch sent again was stored twice. */
  | 'duplicate-batch'
  /** A send or a retry of an idempotent batch resolved with offsets that are not its own (a retry of a stored batch must get its first ones). */
  | 'wrong-offsets'
  /** An idempotent batch was answered against the sequence rules: refused (OUT_OF_ORDER_SEQUENCE, PRODUCER_FENCED) where they accept it, or answered as a duplicate where they refuse it. */
  | 'sequence-rules'
  /** A call failed while the disk was healthy. */
  | 'unexpected-error'
  /** A step did not finish within its virtual time. */
  | 'hang'

export interface Failure {
  kind: FailureKind
  message: string
}

export class Failures {
  readonly list: Failure[] = []

  add(kind: FailureKind, message: string): void {
    this.list.push({ kind, message })
  }

  get count(): number {
    return this.list.length
  }
}

/** A short description of an error for traces and failure messages. */
export function describeError(error: unknown): string {
  const coded = error as { code?: unknown; message?: unknown } | null
  const code = typeof coded?.code === 'string' ? `${coded.code}: ` : ''
  const message = typeof coded?.message === 'string' ? coded.message : String(error)
  return `${code}${message}`
}
