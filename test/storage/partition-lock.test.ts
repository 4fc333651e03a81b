import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { expectCode } from '../helpers/expect-code.js'
import { openLog } from '../helpers/open-log.js'
import { openTestSpool } from '../helpers/open-spool.js'
import { readAll } from '../helpers/read-all.js'
import { batchOf } from '../helpers/records.js'
import { tempDir } from '../helpers/temp-dir.js'

/**
 * Issue 13, defect 4: beside a process that had the spool open, the README's own
 * `PartitionLog.open` example appended too, and acknowledged records were lost. A
 * writable open of a partition directory inside a spool's data directory takes the data
 * directory's lock as well.
 */
describe('a standalone partition log inside a spool data directory', () => {
  it('cannot be opened for writing while the spool is open, nor the spool while it is', async () => {
    const dir = tempDir()
    const spool = await openTestSpool(dir)
    await spool.createTopic('orders')
    await spool.producer().send({ topic: 'orders', value: 'kept' })
    const partition = path.join(dir, 'orders-0')
    await expectCode(openLog(partition), 'LOCKED')
    const inspect = await openLog(partition, { readOnly: true }) // inspection still works
    expect((await readAll(inspect)).length).toBe(1)
    await inspect.close()
    await spool.close()

    const log = await openLog(partition)
    await expectCode(openTestSpool(dir), 'LOCKED')
    await log.append(batchOf(0, 1))
    await log.close()
    const reopened = await openTestSpool(dir)
    expect((await reopened.describeTopic('orders')).partitions[0]!.endOffset).toBe(2)
    await reopened.close()
  })
})
