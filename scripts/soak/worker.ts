/**
 * One life of the soak's application (see scripts/soak.ts), until the parent SIGKILLs it.
 * It owns the spool, produces at a steady pace, runs GROUPS × MEMBERS consumers whose
 * handlers now and then crash (the member closes and a new one joins), and reports on
 * stdout, one line each:
 *   ack <partition> <offset> <value>     an acknowledged send
 *   did <group> <partition> <offset>     a record a handler processed
 *   committed <group> <partition> <offset>   the group's committed offset, sampled
 *   crash <group>                        a member's handler crashed (a new member takes its place)
 */
import { type Spool, openSpool } from '../../src/index.js'
import { randomFraction } from '../lib/prng.js'
import { GROUPS, MEMBERS, PARTITIONS, SEND_BURST, SEND_INTERVAL_MS, TOPIC } from './config.js'

const [dir, lifeArg, seedArg] = process.argv.slice(2)
const life = Number(lifeArg)
const random = randomFraction(Number(seedArg))
const out = (line: string): void => void process.stdout.write(`${line}\n`)

const spool: Spool = await openSpool({ dir: dir!, logger: { warn: (m) => process.stderr.write(`soak worker: ${m}\n`) } })
if (!spool.listTopics().includes(TOPIC)) await spool.createTopic(TOPIC, { partitions: PARTITIONS, flush: 'always', segmentBytes: 256 * 1024 })
out('open')

function member(group: string): void {
  const consumer = spool.consumer({ group, topics: [TOPIC], sessionTimeoutMs: 2_000, maxPrefetchRecords: 500 })
  consumer
    .run({
      eachRecord: (record) => {
        // A member crash: the record is not processed, the member closes, its partitions move.
        if (random() < 1 / 3_000) throw new Error('member crash')
        out(`did ${group} ${record.partition} ${record.offset}`)
      },
    })
    .catch(() => {
      out(`crash ${group}`)
      setTimeout(() => member(group), Math.floor(random() * 200))
    })
}

for (const group of GROUPS) for (let m = 0; m < MEMBERS; m++) member(group)

// Sampled one fetch at a time, so that the samples of a group are in commit order.
const coordinator = await spool.groups.coordinator()
void (async () => {
  for (;;) {
    for (const group of GROUPS) for (const c of await coordinator.fetchOffsets(group)) out(`committed ${group} ${c.partition} ${c.offset}`)
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
})()

const producer = spool.producer()
let n = 0
setInterval(() => {
  for (let i = 0; i < SEND_BURST; i++) {
    const value = `${life}-${n++}`
    void producer.send({ topic: TOPIC, key: `k${n % 101}`, value }).then(({ partition, offset }) => out(`ack ${partition} ${offset} ${value}`))
  }
}, SEND_INTERVAL_MS)
