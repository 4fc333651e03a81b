/**
 * The one error type spool throws. Callers branch on `code`, never on the message:
 * codes are stable and are never reused for a different meaning.
 */
export const ERROR_CODES = [
  'LOCKED',
  'CLOSED',
  'UNKNOWN_TOPIC',
  'TOPIC_EXISTS',
  'INVALID_TOPIC_NAME',
  'UNKNOWN_PARTITION',
  'OFFSET_OUT_OF_RANGE',
  'CORRUPT_BATCH',
  'CORRUPT_CATALOG',
  'RECORD_TOO_LARGE',
  'INVALID_ARGUMENT',
  'ILLEGAL_GENERATION',
  'UNKNOWN_MEMBER',
  'IO_ERROR',
  'DISK_FULL',
  'PARTITION_FAILED',
  'CORRUPT_GROUP_STORE',
  'INCONSISTENT_GROUP_PROTOCOL',
  'PARTITION_NOT_ASSIGNED',
  'GROUP_NOT_EMPTY',
  'GROUP_MAX_SIZE_REACHED',
  'UNKNOWN_GROUP',
  'PRODUCER_FENCED',
  'OUT_OF_ORDER_SEQUENCE',
  'INVALID_TIMESTAMP',
  'DATA_DIR_NOT_FOUND',
  'NEEDS_OWNER',
  'INVALID_BATCH',
  'LISTENER_UNREACHABLE',
] as const

export type SpoolErrorCode = (typeof ERROR_CODES)[number]

export interface SpoolErrorOptions {
  cause?: unknown
  /** Structured facts about the failure (file, position, offset, field, …) for programs. */
  details?: Record<string, unknown>
}

export class SpoolError extends Error {
  override readonly name = 'SpoolError'
  readonly code: SpoolErrorCode
  readonly details: Readonly<Record<string, unknown>>

  constructor(code: SpoolErrorCode, message: string, options: SpoolErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause })
    this.code = code
    this.details = options.details ?? {}
  }

  /** Whether the same call may succeed if tried again later, unchanged. */
  get retriable(): boolean {
    return this.code === 'DISK_FULL' || this.code === 'IO_ERROR'
  }

  /**
   * Whether a group member must join again (with its member id, if it still has one)
   * before the same call can succeed: its generation is old, or the coordinator no
   * longer knows it.
   */
  get needsRejoin(): boolean {
    return this.code === 'ILLEGAL_GENERATION' || this.code === 'UNKNOWN_MEMBER'
  }
}

export function isSpoolError(error: unknown, code?: SpoolErrorCode): error is SpoolError {
  return error instanceof SpoolError && (code === undefined || error.code === code)
}

export function invalidArgument(field: string, problem: string): SpoolError {
  return new SpoolError('INVALID_ARGUMENT', `${field} ${problem}`, { details: { field } })
}

/** Wraps an operating-system error from the storage layer, keeping it as `cause`. */
export function ioError(action: string, path: string, cause: unknown): SpoolError {
  const errno = (cause as NodeJS.ErrnoException | undefined)?.code
  if (errno === 'ENOSPC' || errno === 'EDQUOT') {
    return new SpoolError('DISK_FULL', `${action} ${path} failed: the disk is full; free space and retry`, {
      cause,
      details: { path, errno },
    })
  }
  return new SpoolError('IO_ERROR', `${action} ${path} failed (${errno ?? String(cause)}); check the disk and retry`, {
    cause,
    details: { path, errno },
  })
}
