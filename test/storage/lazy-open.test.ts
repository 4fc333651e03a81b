import fs from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { encodeBatch, setBatchBaseOffset } from '../../src/record/batch-encoder.js'
import { encodeLogPosition } from '../../src/storage/log-files.js'
import { CLEAN_SHUTDOWN_FILE, RECOVERY_CHECKPOINT_FILE, segmentPaths } from '../../src/storage/paths.js'
import { TimeIndex } from '../../src/storage/time-index.js'
import { countingIO } from '../helpers/counting-io.js'
import { openLog } from '../helpers/open-log.js'
import { tempDir } from '../helpers/temp-dir.js'

const SEGMENTS = 5000
const RECORDS_PER_SEGMENT = 2
const T0 = 1_700_000_000_000

/** Writes a partition of many one-batch segments straight to disk, as a writer would have left it. */
function writeManySegments(dir: string): { lastSize: number } {
  let lastSize = 0
  for (let s = 0; s < SEGMENTS; s++) {
    const base = s * RECORDS_PER_SEGMENT
    const batch = encodeBatch(
      Array.from({ length: RECORDS_PER_SEGMENT }, (_, k) => ({ key: null, value: Buffer.from(`r${base + k}`), timestamp: T0 + base + k })),
      T0,
      1 << 20,
    )
    setBatchBaseOffset(batch.bytes, base)
    const paths = segmentPaths(dir, base)
    fs.writeFileSync(paths.log, batch.bytes)
    fs.writeFileSync(paths.index, Buffer.alloc(0)) // one batch: no entry, position 0 is implied
    const time = new TimeIndex(base)
    time.maybeAppend(batch.maxTimestamp, base + RECORDS_PER_SEGMENT - 1)
    fs.writeFileSync(paths.timeIndex, time.encode(0, 1))
    lastSize = batch.bytes.length
  }
  return { lastSize }
}

function sealedFilesTouched(io: ReturnType<typeof countingIO>, lastBase: number): string[] {
  const lastStem = String(lastBase).padStart(20, '0')
  return io.calls
    .filter((c) => ['open', 'readFile', 'read', 'fstat'].includes(c.op))
    .map((c) => path.basename(c.path))
    .filter((name) => /^\d{20}\./.test(name) && !name.startsWith(lastStem))
}

describe(`opening a partition of ${SEGMENTS} segments`, () => {
  const lastBase = (SEGMENTS - 1) * RECORDS_PER_SEGMENT
  const end = SEGMENTS * RECORDS_PER_SEGMENT

  for (const shutdown of ['clean', 'crashed'] as const) {
    it(`(${shutdown}) reads no sealed segment file until one is asked for`, async () => {
      const dir = tempDir()
      const { lastSize } = writeManySegments(dir)
      const point = encodeLogPosition({ segmentBase: lastBase, position: lastSize, nextOffset: end, maxTimestamp: T0 + end - 1, rollStartMs: T0 })
      fs.writeFileSync(path.join(dir, shutdown === 'clean' ? CLEAN_SHUTDOWN_FILE : RECOVERY_CHECKPOINT_FILE), point)

      const io = countingIO()
      const log = await openLog(dir, { io })
      expect(log.segmentCount).toBe(SEGMENTS)
      expect(log.startOffset).toBe(0)
      expect(log.endOffset).toBe(end)
      expect(sealedFilesTouched(io, lastBase)).toEqual([])

      // Asking for one offset loads exactly that segment.
      io.reset()
      const { records } = await log.read(2471, { maxBytes: 1 })
      expect(records[0]!.value!.toString()).toBe('r2471')
      const touched = new Set(sealedFilesTouched(io, lastBase).map((name) => name.slice(0, 20)))
      expect([...touched]).toEqual([String(2470).padStart(20, '0')])

      // And appends go on at the end.
      expect((await log.append([{ key: null, value: Buffer.from('more') }])).baseOffset).toBe(end)
      await log.close()
    })
  }
})
