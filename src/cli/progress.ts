import type { Writable } from 'node:stream'

/** Redraws at most this often: a terminal does not need more, and a pipe gets nothing. */
const REDRAW_MS = 100
const BAR_CHARS = 24

/**
 * A one-line progress bar on stderr for long work, drawn only when stderr is a terminal:
 * pipes, files and tests see nothing, so stdout and stderr stay clean for programs.
 */
export class Progress {
  private readonly enabled: boolean
  private lastDrawMs = -Infinity

  constructor(
    private readonly stream: Writable & { isTTY?: boolean; columns?: number },
    private readonly label: string,
    private readonly total: number,
    private readonly now: () => number = Date.now,
  ) {
    this.enabled = stream.isTTY === true && total > 1
  }

  update(done: number, detail = ''): void {
    if (!this.enabled) return
    const now = this.now()
    if (now - this.lastDrawMs < REDRAW_MS && done < this.total) return
    this.lastDrawMs = now
    const filled = Math.round((BAR_CHARS * Math.min(done, this.total)) / this.total)
    const line = `${this.label} [${'#'.repeat(filled)}${' '.repeat(BAR_CHARS - filled)}] ${done}/${this.total} ${detail}`
    this.stream.write(`\r${line.slice(0, (this.stream.columns ?? 80) - 1)}\x1b[K`)
  }

  /** Clears the bar, so the output that follows starts on a clean line. */
  done(): void {
    if (this.enabled) this.stream.write('\r\x1b[K')
  }
}
