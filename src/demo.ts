/**
 * The quickstart's main job: append to a partition log in the default data directory,
 * read it back across segment rolls, find an offset by time, and show that it all
 * survives a reopen. Run it twice: the second run continues where the first stopped.
 */
import path from 'node:path'
import { PartitionLog } from './index.js'

const DEFAULT_DATA_DIR = './spool-data'

async function main(): Promise<void> {
  const dataDir = process.env.SPOOL_DATA_DIR ?? DEFAULT_DATA_DIR
  const dir = path.join(dataDir, 'demo-0')
  const log = await PartitionLog.open(dir, { flush: 'always', segmentBytes: 64 * 1024 })
  const startedAt = Date.now()
  const firstNew = log.endOffset

  const batches = 20
  const perBatch = 100
  const sends = []
  for (let b = 0; b < batches; b++) {
    const records = Array.from({ length: perBatch }, (_, i) => ({
      key: Buffer.from(`user-${(b * perBatch + i) % 7}`),
      value: Buffer.from(JSON.stringify({ order: firstNew + b * perBatch + i, total: (i * 37) % 100 })),
      headers: [{ key: 'source', value: Buffer.from('demo') }],
    }))
    sends.push(log.append(records))
  }
  const results = await Promise.all(sends) // appended concurrently: they share fsyncs
  const last = results[results.length - 1]!
  console.log(`appended ${batches * perBatch} records at offsets ${firstNew}..${last.lastOffset} in ${dir}`)
  console.log(`the log holds offsets ${log.startOffset}..${log.endOffset - 1} in ${log.segmentCount} segments`)

  const { records } = await log.read(firstNew, { maxBytes: 512 })
  for (const record of records.slice(0, 3)) {
    console.log(`  offset ${record.offset}  key=${record.key?.toString()}  value=${record.value?.toString()}`)
  }
  const byTime = await log.offsetForTimestamp(startedAt)
  console.log(`first offset written at or after ${new Date(startedAt).toISOString()}: ${byTime}`)
  await log.close()

  const reopened = await PartitionLog.open(dir)
  const again = await reopened.read(last.lastOffset)
  console.log(`after reopening, offset ${last.lastOffset} reads back: ${again.records[0]?.value?.toString()}`)
  await reopened.close()
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? `spool demo: ${error.message}` : error)
  process.exitCode = 1
})
