// TypeScript compiled as an ES module: the full types, through the `import` condition.
import { openSpool, type ConsumedRecord, type SpoolOptions } from 'spool'

const options: SpoolOptions = { dir: process.argv[2] ?? 'spool-data' }
const spool = await openSpool(options)
await spool.createTopic('orders')
await spool.producer().send({ topic: 'orders', value: 'typed' })
const records: ConsumedRecord[] = []
for await (const record of spool.read('orders', { partition: 0, fromOffset: 0, toOffset: 0 })) records.push(record)
await spool.close()
console.log(`typed esm ok: ${records[0]?.value?.toString()}`)
