/**
 * Bytes from the network that do not follow the Kafka wire grammar: a length past the
 * end of the frame, a null where none is allowed, a varint too long, bytes left over.
 * The dispatcher answers it by closing the connection with one log line; it never
 * reaches storage. `path` names the field being read (`TopicData[0].PartitionData[2].Records`).
 */
export class ProtocolError extends Error {
  override readonly name = 'ProtocolError'
  /** Where in the message the problem is, outermost field first; empty when outside any field. */
  readonly path: string[] = []
  /** The problem alone, without the path (the message adds it). */
  readonly problem: string

  constructor(problem: string) {
    super(problem)
    this.problem = problem
  }

  /** Records that the problem lies inside `segment` (called while unwinding, innermost first). */
  within(segment: string): this {
    this.path.unshift(segment)
    this.message = `${this.path.join('.').replace(/\.\[/g, '[')}: ${this.problem}`
    return this
  }
}

export function isProtocolError(error: unknown): error is ProtocolError {
  return error instanceof ProtocolError
}
