import readline from 'node:readline'
import { Readable } from 'node:stream'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { LineSplitter } from '../../src/cli/lines.js'

function split(chunks: ReadonlyArray<Buffer | string>): string[] {
  const splitter = new LineSplitter()
  return [...chunks.flatMap((chunk) => splitter.push(chunk)), ...splitter.end()]
}

async function readlineLines(text: string): Promise<string[]> {
  const lines: string[] = []
  for await (const line of readline.createInterface({ input: Readable.from([Buffer.from(text)]), crlfDelay: Infinity })) lines.push(line)
  return lines
}

describe('LineSplitter: the lines of a stream, each as soon as it is complete', () => {
  it('ends lines at \\n, \\r\\n and a lone \\r, also when a chunk ends between \\r and \\n', () => {
    expect(split(['a\nb\r\nc\rd'])).toEqual(['a', 'b', 'c', 'd'])
    expect(split(['a\r', '\nb'])).toEqual(['a', 'b'])
    expect(split(['a\r', 'b'])).toEqual(['a', 'b'])
    expect(split(['a\n\n'])).toEqual(['a', ''])
    expect(split(['a\r'])).toEqual(['a'])
    expect(split([''])).toEqual([])
  })

  it('hands out a line when its end arrives, and keeps an unfinished one', () => {
    const splitter = new LineSplitter()
    expect(splitter.push('one\ntw')).toEqual(['one'])
    expect(splitter.unfinished).toBe(2)
    expect(splitter.push('o\n')).toEqual(['two'])
    expect(splitter.push('three\r')).toEqual([]) // maybe the first half of \r\n
    expect(splitter.push('\n')).toEqual(['three'])
    expect(splitter.unfinished).toBe(0)
  })

  it('joins a UTF-8 character split across chunks', () => {
    const bytes = Buffer.from('é€😀\n')
    expect(split([bytes.subarray(0, 1), bytes.subarray(1, 4), bytes.subarray(4, 7), bytes.subarray(7)])).toEqual(['é€😀'])
  })

  it('splits any text in any chunks as readline does', async () => {
    await fc.assert(
      fc.asyncProperty(fc.string({ unit: fc.constantFrom('a', 'é', '\n', '\r', ' ') , maxLength: 40 }), fc.array(fc.nat(40), { maxLength: 5 }), async (text, cuts) => {
        const bytes = Buffer.from(text)
        const at = [...new Set(cuts.map((c) => Math.min(c, bytes.length)))].sort((a, b) => a - b)
        const chunks = [0, ...at].map((start, i) => bytes.subarray(start, at[i] ?? bytes.length))
        expect(split(chunks)).toEqual(await readlineLines(text))
      }),
    )
  })
})
