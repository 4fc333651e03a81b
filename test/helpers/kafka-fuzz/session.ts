import net from 'node:net'
import { API_KEYS } from '../../../src/kafka/apis/index.js'
import { decodeResponse } from '../../../src/kafka/protocol/frames.js'
import type { Ledger } from './ledger.js'
import type { Expectation, StreamPrediction } from './predict.js'

/**
 * One fuzz connection over a real socket: writes the stream as planned (split across
 * writes), reads what comes back, and checks it against the prediction — responses
 * well-formed, in request order, with the right correlation ids; the connection closed
 * where a frame earns it and nowhere else; nothing left unanswered.
 */

export interface SessionPlan {
  /** The stream as it goes onto the socket. */
  readonly writes: readonly Buffer[]
  /** Batches the stream's requests were built with. */
  readonly batchIds: readonly number[]
  /** What was done to the frames, for the failure report. */
  readonly description: string
  /** Per write: 0 to yield to the event loop after it, else milliseconds to wait (so the listener sees the cuts). */
  readonly pauses: readonly number[]
}

export interface SessionResult {
  problems: string[]
  closedByServer: boolean
  responses: number
  /** The client's port: the listener's log lines name it. */
  localPort: number
}

/** A Fetch that may wait longer than this is a long poll: the fuzz stops waiting at it. */
const LONG_POLL_MS = 1000
/** Largest response the fuzz expects (fetches ask for at most a few MiB). */
const MAX_RESPONSE_BYTES = 256 * 1024 * 1024
/** Time for acks 0 answers that should not come, once every expected response is in. */
const SILENCE_GRACE_MS = 15
/** Bytes of an undecodable response shown in the report. */
const SHOWN_RESPONSE_BYTES = 600

const expectsResponse = (e: Expectation): boolean => e.kind === 'respond' || e.kind === 'versions-error'

function isLongPoll(e: Expectation): boolean {
  return e.kind === 'respond' && e.api.key === API_KEYS.Fetch && e.body.maxWaitMs > LONG_POLL_MS && e.body.minBytes > 0
}

export async function runSession(port: number, plan: SessionPlan, prediction: StreamPrediction, ledger: Ledger, timeoutMs: number): Promise<SessionResult> {
  const expected = prediction.frames.filter(expectsResponse)
  const closes = prediction.frames.some((e) => e.kind === 'close')
  const longPoll = expected.findIndex(isLongPoll)
  /** Responses that must come (the connection does not close first): those before any long poll. */
  const required = longPoll === -1 ? expected.length : longPoll
  const hasSilent = prediction.frames.some((e) => e.kind === 'silent')
  const problems: string[] = []
  let received = 0
  let pending: Buffer = Buffer.alloc(0)
  let closedByServer = false
  let done = false

  const socket = net.connect({ port, host: '127.0.0.1' })
  socket.setNoDelay(true)
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve)
    socket.once('error', reject)
  })
  const localPort = socket.localPort ?? 0
  socket.on('error', () => undefined) // a reset after the listener closed on us: seen as 'close'

  let wake: () => void = () => undefined
  const changed = (): void => wake()

  socket.on('data', (chunk: Buffer) => {
    pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk])
    while (pending.length >= 4) {
      const size = pending.readInt32BE(0)
      if (size < 4 || size > MAX_RESPONSE_BYTES) {
        problems.push(`response #${received}: size prefix ${size}`)
        socket.destroy()
        return
      }
      if (pending.length < 4 + size) break
      const frame = pending.subarray(4, 4 + size)
      pending = pending.subarray(4 + size)
      checkResponse(frame)
      received++
    }
    changed()
  })
  socket.on('close', () => {
    if (!done) closedByServer = true
    changed()
  })

  const checkResponse = (frame: Buffer): void => {
    const expectation = expected[received]
    if (expectation === undefined || (expectation.kind !== 'respond' && expectation.kind !== 'versions-error')) {
      problems.push(`response #${received} came, only ${expected.length} were expected (correlation id ${frame.length >= 4 ? frame.readInt32BE(0) : '?'})`)
      return
    }
    let decoded: { correlationId: number; body: { errorCode?: number } }
    try {
      decoded = decodeResponse(expectation.api, expectation.version, frame)
    } catch (error) {
      problems.push(`response #${received} (${expectation.api.name} v${expectation.version}) does not decode: ${(error as Error).message}; its ${frame.length} bytes: ${frame.subarray(0, SHOWN_RESPONSE_BYTES).toString('hex')}${frame.length > SHOWN_RESPONSE_BYTES ? '…' : ''}`)
      return
    }
    if (decoded.correlationId !== expectation.correlationId) {
      problems.push(`response #${received} (${expectation.api.name} v${expectation.version}) has correlation id ${decoded.correlationId}, the request ${expectation.correlationId}: out of order`)
    }
    if (expectation.kind === 'versions-error' && decoded.body.errorCode !== 35) problems.push(`ApiVersions of an unserved version answered error ${decoded.body.errorCode}, not 35 (UNSUPPORTED_VERSION)`)
    for (const problem of ledger.noteResponse(expectation, decoded.body, plan.batchIds)) problems.push(`response #${received}: ${problem}`)
  }

  for (const [i, write] of plan.writes.entries()) {
    if (closedByServer || socket.destroyed) break
    socket.write(write)
    const pause = plan.pauses[i] ?? 0
    await new Promise((resolve) => (pause === 0 ? setImmediate(resolve) : setTimeout(resolve, pause)))
  }

  const deadline = Date.now() + timeoutMs
  const finished = (): boolean => closedByServer || problems.length > 0 || (!closes && received >= required)
  while (!finished() && Date.now() < deadline) {
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, Math.max(1, deadline - Date.now()))
      wake = () => {
        clearTimeout(timer)
        resolve()
      }
    })
  }
  if (!closedByServer && problems.length === 0 && hasSilent) await new Promise((resolve) => setTimeout(resolve, SILENCE_GRACE_MS))

  if (!closedByServer && problems.length === 0) {
    if (closes) problems.push(`the listener did not close the connection within ${timeoutMs} ms after a frame that earns it (${describeClose(prediction)})`)
    else if (received < required) problems.push(`only ${received} of ${required} responses came within ${timeoutMs} ms, and the connection stayed open`)
  }
  if (closedByServer && !closes) {
    problems.push(`the listener closed the connection after ${received} of ${expected.length} responses, though every frame was valid`)
  }
  done = true
  socket.destroy()
  if (!socket.closed) await new Promise((resolve) => socket.once('close', resolve))
  return { problems, closedByServer, responses: received, localPort }
}

function describeClose(prediction: StreamPrediction): string {
  const close = prediction.frames.find((e) => e.kind === 'close')
  return close?.kind === 'close' ? close.why : '?'
}
