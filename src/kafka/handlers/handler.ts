import type { Broker } from '../broker.js'

/** What a handler knows of the request beyond its body. */
export interface RequestContext {
  readonly apiVersion: number
  readonly clientId: string | null
  readonly broker: Broker
  /** Where clients reach this broker (Metadata's host and port). */
  readonly advertised: { readonly host: string; readonly port: number }
  /** Aborted when the listener closes: long polls answer at once with what they have. */
  readonly signal: AbortSignal
  /**
   * Runs `task` once the response was written to the socket (or will never be): when
   * buffers the response points into may be used again.
   */
  afterResponse(task: () => void): void
}

/**
 * One Kafka API: the decoded request body in (field names as Kafka's message schemas,
 * first letter lowercased), the response body out, or null for no response at all
 * (Produce with acks 0). Per-partition failures are error codes in the body; a thrown
 * error closes the connection with one log line.
 */
// Bodies are described by the API's schema table (src/kafka/apis/*), not by TypeScript types.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Handler = (request: any, context: RequestContext) => Promise<object | null>
