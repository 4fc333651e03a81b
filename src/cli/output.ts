import { isUtf8 } from 'node:buffer'
import type { Writable } from 'node:stream'

/** Where a command writes: injected so that tests can run the program in-process too. */
export interface CliStreams {
  stdout: Writable
  stderr: Writable
  /**
   * Aborted once stdout takes no more output: its reader has gone (EPIPE, as after
   * `| head -2`), or a write failed; `reason` is the error. Writes after it are dropped
   * (they never throw). A command that writes in a loop stops when it aborts and finishes
   * cleanly (closes what it opened, commits only what was written); the process then
   * exits 141, quietly, as `cat` does (see main.ts). Make one with watchOutput().
   */
  stdoutClosed: AbortSignal
}

/**
 * The signal for CliStreams.stdoutClosed: listens for the stream's errors, so that a
 * write to a closed pipe ends the command quietly instead of as an unhandled 'error'
 * event with a stack trace.
 */
export function watchOutput(stream: Writable): AbortSignal {
  const controller = new AbortController()
  stream.on('error', (error: Error) => {
    if (!controller.signal.aborted) controller.abort(error)
  })
  return controller.signal
}

/** Whether an error only says that the output's reader has gone (or that the stream was ended because of it). */
export function isClosedOutput(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code
  return code === 'EPIPE' || code === 'ERR_STREAM_DESTROYED' || code === 'ERR_STREAM_WRITE_AFTER_END'
}

/** Options every command understands. */
export interface GlobalOptions {
  dataDir: string
  json: boolean
}

const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB']

export function humanBytes(bytes: number): string {
  let value = bytes
  let unit = 0
  while (value >= 1024 && unit < UNITS.length - 1) {
    value /= 1024
    unit++
  }
  return unit === 0 ? `${bytes} B` : `${value.toFixed(1)} ${UNITS[unit]}`
}

export function isoTime(ms: number): string {
  return ms < 0 ? '-' : new Date(ms).toISOString()
}

/** The bytes as text when they are valid UTF-8, else null. */
export function utf8Text(bytes: Buffer): string | null {
  return isUtf8(bytes) ? bytes.toString('utf8') : null
}

/** Bytes as text when they are printable UTF-8, else as hex; `null` for none. */
export function showBytes(bytes: Buffer | null): string {
  if (bytes === null) return 'null'
  const text = utf8Text(bytes)
  // eslint-disable-next-line no-control-regex
  if (text !== null && !/[\u0000-\u0008\u000e-\u001f\u007f]/.test(text)) return JSON.stringify(text)
  return `0x${bytes.toString('hex')}`
}

export function base64OrNull(bytes: Buffer | null): string | null {
  return bytes === null ? null : bytes.toString('base64')
}

/** Left-aligned columns separated by two spaces, widths from the widest cell. */
export function table(headers: readonly string[], rows: ReadonlyArray<readonly string[]>): string {
  const widths = headers.map((h, c) => Math.max(h.length, ...rows.map((r) => (r[c] ?? '').length)))
  const line = (cells: readonly string[]): string => cells.map((cell, c) => cell.padEnd(widths[c]!)).join('  ').trimEnd()
  return [line(headers), ...rows.map(line)].join('\n')
}

export function writeLine(stream: Writable, text = ''): void {
  stream.write(`${text}\n`)
}

export function writeJson(stream: Writable, value: unknown): void {
  stream.write(`${JSON.stringify(value, null, 2)}\n`)
}

const DURATION_UNITS: ReadonlyArray<readonly [string, number]> = [
  ['d', 86_400_000],
  ['h', 3_600_000],
  ['m', 60_000],
  ['s', 1_000],
]

/** A duration in ms as its two largest units, e.g. `3h 4m`, `12s`, `850ms`; `0s` for none. */
export function humanDuration(ms: number): string {
  if (ms < 1_000) return ms <= 0 ? '0s' : `${Math.round(ms)}ms`
  const i = DURATION_UNITS.findIndex(([, size]) => ms >= size)
  const [unit, size] = DURATION_UNITS[i]!
  const head = `${Math.floor(ms / size)}${unit}`
  const next = DURATION_UNITS[i + 1]
  const tail = next === undefined ? 0 : Math.floor((ms % size) / next[1])
  return tail === 0 ? head : `${head} ${tail}${next![0]}`
}

/** The value as JSON with --json, else the human text. */
export function writeResult(out: CliStreams, globals: GlobalOptions, value: unknown, human: () => string): void {
  if (globals.json) writeJson(out.stdout, value)
  else writeLine(out.stdout, human())
}
