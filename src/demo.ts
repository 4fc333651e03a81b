/**
 * The quickstart's main job, on the default data directory (./spool-data, or
 * $SPOOL_DATA_DIR): create a topic of several partitions, send keyed records — each key
 * lands on the partition a Kafka producer would pick — and describe the result. Run it
 * again: the data is still there and the offsets continue.
 */
import { isSpoolError, openSpool } from './index.js'

const TOPIC = 'orders'
const PARTITIONS = 6
const USERS = ['user-1', 'user-2', 'user-3', 'user-7', 'user-42']

async function main(): Promise<void> {
  const spool = await openSpool()
  try {
    if (!spool.listTopics().includes(TOPIC)) {
      await spool.createTopic(TOPIC, { partitions: PARTITIONS, flush: 'always' })
      console.log(`created topic "${TOPIC}" with ${PARTITIONS} partitions in ${spool.dir}`)
    }
    const producer = spool.producer()
    // Sent together: the producer writes one batch per partition, and they share fsyncs.
    const sends = USERS.flatMap((user) =>
      [1, 2, 3].map((n) => producer.send({ topic: TOPIC, key: user, value: JSON.stringify({ user, order: n, total: n * 12 }) })),
    )
    const results = await Promise.all(sends)
    for (const [i, user] of USERS.entries()) {
      const mine = results.slice(i * 3, i * 3 + 3)
      console.log(`  key ${user.padEnd(8)} -> partition ${mine[0]!.partition}, offsets ${mine.map((r) => r.offset).join(', ')}`)
    }
    const described = await spool.describeTopic(TOPIC)
    console.log(`"${TOPIC}" now holds:`)
    for (const p of described.partitions) {
      const records = p.endOffset - p.startOffset
      const range = records === 0 ? 'empty' : `${records} records at offsets ${p.startOffset}..${p.endOffset - 1}`
      console.log(`  partition ${p.partition}: ${range}, ${p.bytes} bytes in ${p.segments} segment(s)`)
    }
  } finally {
    await spool.close()
  }
}

main().catch((error: unknown) => {
  console.error(`spool demo: ${isSpoolError(error) ? `${error.code}: ${error.message}` : String(error)}`)
  process.exitCode = 1
})
