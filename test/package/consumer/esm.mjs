// An ES module of a project that installed spool: the whole public API, through the
// package's `import` condition.
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { openSpool, isSpoolError, PartitionLog } from 'spool'

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'spool-package-esm-'))
try {
  const spool = await openSpool({ dir })
  await spool.createTopic('orders', { partitions: 2 })
  const { partition, offset } = await spool.producer({ compression: 'zstd' }).send({ topic: 'orders', key: 'user-7', value: '{"total":42}' })
  const records = []
  for await (const record of spool.read('orders', { partition, fromOffset: offset, toOffset: offset })) records.push(record)
  const [record] = records
  if (record?.value?.toString() !== '{"total":42}') throw new Error(`read back ${JSON.stringify(record)}`)
  await spool.close()
  if (typeof PartitionLog.open !== 'function' || typeof isSpoolError !== 'function') throw new Error('missing exports')
  console.log('esm ok')
} finally {
  fs.rmSync(dir, { recursive: true, force: true })
}
