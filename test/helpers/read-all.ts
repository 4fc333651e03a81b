import type { StoredRecord } from '../../src/record/types.js'
import type { PartitionLog } from '../../src/storage/partition-log.js'

/** Every visible record from `from` to the end, following nextOffset across segments. */
export async function readAll(log: PartitionLog, from = log.startOffset, maxBytes = 64 * 1024): Promise<StoredRecord[]> {
  const all: StoredRecord[] = []
  let offset = from
  while (offset < log.endOffset) {
    const { records, nextOffset } = await log.read(offset, { maxBytes })
    if (nextOffset <= offset) throw new Error(`read made no progress at offset ${offset}`)
    all.push(...records)
    offset = nextOffset
  }
  return all
}
