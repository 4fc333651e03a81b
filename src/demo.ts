/**
 * The quickstart's main job (`npm start`): the order-processing story of a commit log, on
 * the default data directory (./spool-data, or $SPOOL_DATA_DIR).
 *
 * Producers write orders to a 6-partition topic. A `workers` group of three consumers
 * shares them (queue: each order processed once); `email` and `analytics` each get every
 * order (broadcast). One worker crashes mid-stream and its partitions move on without
 * losing an order. The spool is closed and reopened, and the workers resume from their
 * committed offsets. Finally history is replayed from an offset and from a time. Every
 * claim printed is checked; a broken one exits non-zero. Run it again: the data stays,
 * and each run's orders come on top of the last one's.
 */
import { type Consumer, type ConsumedRecord, type Spool, isSpoolError, openSpool } from './index.js'

const TOPIC = 'orders'
const PARTITIONS = 6
const ORDERS = 600
const ORDERS_AFTER_RESTART = 60
const CUSTOMERS = 40
const CRASH_AFTER = 40

interface Order {
  run: string
  n: number
  customer: string
  total: number
}

const runId = new Date().toISOString()
const failures: string[] = []

function check(ok: boolean, claim: string): string {
  if (!ok) failures.push(claim)
  return ok ? claim : `${claim}  <-- NOT TRUE`
}

function orderOf(record: ConsumedRecord): Order {
  return JSON.parse(record.value!.toString()) as Order
}

/** Tallies what one group processed of this run's orders (earlier runs' are already committed). */
class Tally {
  readonly byMember = new Map<string, number>()
  readonly orders = new Map<number, number>()
  private waiting: { count: number; resolve: () => void } | null = null

  add(member: string, record: ConsumedRecord): void {
    const order = orderOf(record)
    if (order.run !== runId) return
    this.byMember.set(member, (this.byMember.get(member) ?? 0) + 1)
    this.orders.set(order.n, (this.orders.get(order.n) ?? 0) + 1)
    if (this.waiting !== null && this.orders.size >= this.waiting.count) this.waiting.resolve()
  }

  until(count: number): Promise<void> {
    if (this.orders.size >= count) return Promise.resolve()
    return new Promise((resolve) => (this.waiting = { count, resolve }))
  }

  get twice(): number {
    return [...this.orders.values()].filter((times) => times > 1).length
  }
}

async function produceOrders(spool: Spool, from: number, count: number): Promise<void> {
  // Two producers, as two parts of an application would have; sends share fsyncs.
  const producers = [spool.producer(), spool.producer()]
  const sends: Promise<unknown>[] = []
  for (let n = from; n < from + count; n++) {
    const customer = `customer-${n % CUSTOMERS}`
    const order: Order = { run: runId, n, customer, total: 5 + (n % 17) * 3 }
    sends.push(producers[n % 2]!.send({ topic: TOPIC, key: customer, value: JSON.stringify(order) }))
    // Orders arrive over time, not all at once: the consumers work while they come in.
    if (n % 100 === 99) await Promise.all(sends.splice(0))
  }
  await Promise.all(sends)
  await Promise.all(producers.map((p) => p.close()))
}

function startWorker(spool: Spool, name: string, tally: Tally, crashAt?: number): { consumer: Consumer; run: Promise<void> } {
  const consumer = spool.consumer({ group: 'workers', topics: [TOPIC] })
  let handled = 0
  const run = consumer.run({
    eachRecord: (record) => {
      if (crashAt !== undefined && ++handled === crashAt) throw new Error(`${name} crashed on order at ${record.partition}:${record.offset}`)
      tally.add(name, record)
    },
  })
  return { consumer, run }
}

function listPartitions(partitions: readonly { partition: number }[]): string {
  return partitions.map((p) => p.partition).join(', ') || 'none'
}

async function main(): Promise<void> {
  let spool = await openSpool()
  console.log(`spool demo: data in ${spool.dir}`)
  if (!spool.listTopics().includes(TOPIC)) {
    await spool.createTopic(TOPIC, { partitions: PARTITIONS, flush: 'always' })
    console.log(`  created topic "${TOPIC}" with ${PARTITIONS} partitions (flush 'always': a sent order survives a crash)`)
  }
  const moves: string[] = []
  spool.onRebalance((event) => {
    if (event.reason === 'leave' && event.group === 'workers') moves.push(`partitions ${listPartitions(event.moved)} moved on (generation ${event.generation})`)
  })

  const workers = new Tally()
  const email = new Tally()
  const analytics = new Tally()
  const crashing = startWorker(spool, 'worker-3', workers, CRASH_AFTER)
  const pool = [startWorker(spool, 'worker-1', workers), startWorker(spool, 'worker-2', workers), crashing]
  const broadcast = [
    { name: 'email', tally: email },
    { name: 'analytics', tally: analytics },
  ].map(({ name, tally }) => {
    const consumer = spool.consumer({ group: name, topics: [TOPIC] })
    return { consumer, run: consumer.run({ eachRecord: (record) => tally.add(name, record) }) }
  })
  const crash = crashing.run.catch((error: unknown) => String(error instanceof Error ? error.message : error))

  await produceOrders(spool, 0, ORDERS)
  await Promise.all([workers.until(ORDERS), email.until(ORDERS), analytics.until(ORDERS)])
  const crashed = await crash
  const shares = ['worker-1', 'worker-2', 'worker-3'].map((w) => `${w} ${workers.byMember.get(w) ?? 0}`).join(', ')
  console.log(`produced ${ORDERS} orders from 2 producers, keyed by customer (one customer's orders stay in order on one partition)`)
  console.log(`queue:     group "workers" shared them: ${shares}`)
  console.log(`           ${check(workers.orders.size === ORDERS && workers.twice === 0, `every order processed exactly once (${workers.orders.size} of ${ORDERS}, ${workers.twice} twice)`)}`)
  console.log(`           ${crashed}; ${moves[0] ?? 'no partitions moved'} to the other workers, and no order was lost`)
  console.log(`broadcast: ${check(email.orders.size === ORDERS && analytics.orders.size === ORDERS, `"email" got ${email.orders.size} and "analytics" got ${analytics.orders.size} of ${ORDERS}: every group gets every order`)}`)

  await spool.close() // closes the consumers, which commit what they processed and leave
  await Promise.all([...pool.slice(0, 2), ...broadcast].map((c) => c.run))

  spool = await openSpool()
  const before = await spool.describeGroup('workers')
  const resumed = new Tally()
  const restarted = [1, 2, 3].map((i) => startWorker(spool, `worker-${i}`, resumed))
  await produceOrders(spool, ORDERS, ORDERS_AFTER_RESTART)
  await resumed.until(ORDERS_AFTER_RESTART)
  const committed = before.partitions.map((p) => p.committedOffset).join(', ')
  console.log(`restart:   reopened the data directory; the workers resumed at their committed offsets (${committed})`)
  console.log(`           ${check(resumed.orders.size === ORDERS_AFTER_RESTART && [...resumed.orders.keys()].every((n) => n >= ORDERS), `and processed only the ${ORDERS_AFTER_RESTART} new orders (${resumed.orders.size})`)}`)
  await Promise.all(restarted.map((w) => w.consumer.close()))

  const p0 = (await spool.describeTopic(TOPIC)).partitions[0]!
  const from = Math.max(p0.startOffset, p0.endOffset - 5)
  let fromOffset = 0
  for await (const record of spool.read(TOPIC, { partition: 0, fromOffset: from })) fromOffset += record.offset >= from ? 1 : 0
  const since = Date.parse(runId)
  let fromTime = 0
  for (let partition = 0; partition < PARTITIONS; partition++) {
    for await (const record of spool.read(TOPIC, { partition, fromTimestamp: since })) fromTime += orderOf(record).run === runId ? 1 : 0
  }
  console.log(`replay:    partition 0 from offset ${from}: ${fromOffset} orders; every partition from ${runId}: ${check(fromTime === ORDERS + ORDERS_AFTER_RESTART, `${fromTime} orders, this run's all`)}`)
  await spool.close()
  if (failures.length > 0) {
    console.error(`spool demo: ${failures.length} claim(s) did not hold`)
    process.exitCode = 1
  }
}

main().catch((error: unknown) => {
  console.error(`spool demo: ${isSpoolError(error) ? `${error.code}: ${error.message}` : String(error)}`)
  process.exitCode = 1
})
