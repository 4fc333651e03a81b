import fs from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { readBatchHeader } from '../../src/record/batch-decoder.js'
import { OFFSET_LEADER_EPOCH } from '../../src/record/batch-format.js'
import { EpochHistory } from '../../src/storage/epochs.js'
import { nodeIO } from '../../src/storage/io.js'
import { offsetFileStem } from '../../src/storage/paths.js'
import { openLog } from '../helpers/open-log.js'
import { batchOf } from '../helpers/records.js'
import { tempDir } from '../helpers/temp-dir.js'

/** A copy of the directory as a crash leaves it: no clean-shutdown marker. */
function crashImage(dir: string): string {
  const copy = tempDir('spool-epochs-crash-')
  fs.cpSync(dir, copy, { recursive: true })
  fs.rmSync(path.join(copy, 'clean-shutdown.json'), { force: true })
  return copy
}

describe('log incarnations (epochs)', () => {
  it('a divergence is the end of the reader\'s epoch when it ended before the reader\'s offset', async () => {
    const dir = tempDir()
    const history = EpochHistory.initial(0)
    await history.bump(nodeIO, dir, 120) // epoch 0 covered [0, 120)
    await history.bump(nodeIO, dir, 100) // epoch 1 lost everything past 100: it ends where 2 starts
    expect(history.current).toBe(2)
    expect(history.divergence(150, 0)).toBe(100)
    expect(history.divergence(110, 1)).toBe(100)
    expect(history.divergence(90, 0)).toBeNull()
    expect(history.divergence(130, 2)).toBeNull()
    expect(history.divergence(130, 7)).toBeNull()
    expect(history.epochOf(99)).toBe(0)
    expect(history.epochOf(100)).toBe(2)
    const reloaded = await EpochHistory.load(nodeIO, dir, 0)
    expect(reloaded.divergence(150, 0)).toBe(100)
    expect(reloaded.current).toBe(2)
  })

  it('every open that recovers starts a new epoch at the recovered end; clean opens do not; batches carry their epoch', async () => {
    const dir = tempDir()
    const log = await openLog(dir, { flush: 'never' })
    await log.append(batchOf(0, 5))
    expect(log.epoch).toBe(0)
    const crashed = crashImage(dir)
    await log.close()
    const clean = await openLog(dir)
    expect(clean.epoch).toBe(0)
    await clean.close()

    const recovered = await openLog(crashed, { flush: 'never' })
    expect(recovered.epoch).toBe(1)
    expect(recovered.epochOf(4)).toBe(0)
    // A group that read to offset 9 in epoch 0 (records 5..8 were lost in the crash) diverged at 5.
    expect(recovered.divergence(9, 0)).toBe(5)
    expect(recovered.divergence(5, 0)).toBeNull()
    const { baseOffset } = await recovered.append(batchOf(5, 2))
    expect(recovered.epochOf(baseOffset)).toBe(1)
    await recovered.close()
    const bytes = fs.readFileSync(path.join(crashed, offsetFileStem(0) + '.log'))
    const epochs: Array<[number, number]> = []
    for (let at = 0; at < bytes.length; at += readBatchHeader(bytes, at).sizeBytes) {
      epochs.push([readBatchHeader(bytes, at).baseOffset, bytes.readInt32BE(at + OFFSET_LEADER_EPOCH)])
    }
    expect(epochs).toEqual([
      [0, 0],
      [5, 1],
    ])
  })
})
