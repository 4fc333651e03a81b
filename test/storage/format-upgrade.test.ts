import fs from 'node:fs'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { batchChecksumFormat, readBatchHeader } from '../../src/record/batch-decoder.js'
import { fileHashes } from '../helpers/file-hashes.js'
import { openLog } from '../helpers/open-log.js'
import { readAll } from '../helpers/read-all.js'
import { batchOf, plain } from '../helpers/records.js'
import { tempDir } from '../helpers/temp-dir.js'

const GOLDEN_V1 = fileURLToPath(new URL('../../segments/golden/v1/', import.meta.url))

/** The format of every batch of a .log file, in order. */
function formatsOf(file: string): Array<1 | 2 | null> {
  const bytes = fs.readFileSync(file)
  const formats: Array<1 | 2 | null> = []
  for (let position = 0; position < bytes.length; ) {
    const header = readBatchHeader(bytes, position)
    formats.push(batchChecksumFormat(bytes, position, header))
    position += header.sizeBytes
  }
  return formats
}

describe('a v1 partition opened by format v2', () => {
  it('keeps its v1 segments as they are and writes new batches into a new v2 segment', async () => {
    const dir = tempDir()
    fs.cpSync(GOLDEN_V1, dir, { recursive: true })
    const v1Logs = fs.readdirSync(dir).filter((name) => name.endsWith('.log'))
    const before = fileHashes(dir)
    let log = await openLog(dir)
    const oldRecords = (await readAll(log)).map(plain)
    const segmentsBefore = log.segmentCount
    const end = log.endOffset
    await log.append(batchOf(0, 3))
    await log.append(batchOf(3, 2))
    expect(log.segmentCount).toBe(segmentsBefore + 1)
    await log.close()

    for (const name of v1Logs) {
      expect(fileHashes(dir)[name], name).toBe(before[name])
      expect(formatsOf(`${dir}/${name}`).every((f) => f === 1), name).toBe(true)
    }
    const newLogs = fs.readdirSync(dir).filter((name) => name.endsWith('.log') && !v1Logs.includes(name))
    expect(newLogs).toEqual([`${String(end).padStart(20, '0')}.log`])
    expect(formatsOf(`${dir}/${newLogs[0]}`)).toEqual([2, 2])

    log = await openLog(dir)
    try {
      expect((await readAll(log)).map(plain)).toEqual([...oldRecords, ...batchOf(0, 5).map(plain)])
    } finally {
      await log.close()
    }
  })

  it('an empty active segment is simply written in v2', async () => {
    const dir = tempDir()
    const log = await openLog(dir)
    try {
      await log.append(batchOf(0, 1))
      expect(log.segmentCount).toBe(1)
    } finally {
      await log.close()
    }
    expect(formatsOf(`${dir}/${'0'.repeat(20)}.log`)).toEqual([2])
  })
})
