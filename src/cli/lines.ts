import { StringDecoder } from 'node:string_decoder'

/** A line ends at `\n`, `\r\n` or a lone `\r`, as readline (with crlfDelay: Infinity) and Java's readLine() split them. */
const LINE_END = /\r\n|\r|\n/g

/**
 * Splits a stream's chunks into lines as they arrive, so that each line can be sent as
 * soon as it is complete. UTF-8 characters split across chunks are joined; a `\r` at the
 * end of a chunk waits for the next one (it may be the first half of `\r\n`). The last
 * line needs no line end: end() returns it.
 */
export class LineSplitter {
  private readonly decoder = new StringDecoder('utf8')
  private carry = ''

  /** The complete lines that this chunk finishes. */
  push(chunk: Buffer | string): string[] {
    const text = this.carry + (typeof chunk === 'string' ? chunk : this.decoder.write(chunk))
    const lines: string[] = []
    let start = 0
    LINE_END.lastIndex = 0
    for (let match = LINE_END.exec(text); match !== null; match = LINE_END.exec(text)) {
      if (match[0] === '\r' && match.index === text.length - 1) break // maybe half of \r\n
      lines.push(text.slice(start, match.index))
      start = LINE_END.lastIndex
    }
    this.carry = text.slice(start)
    return lines
  }

  /** At the end of the input: the last line, when it has no line end. */
  end(): string[] {
    const text = this.carry + this.decoder.end()
    this.carry = ''
    if (text === '') return []
    return [text.endsWith('\r') ? text.slice(0, -1) : text]
  }

  /** The characters of an unfinished line (read, with no line end yet). */
  get unfinished(): number {
    return this.carry.length
  }
}
