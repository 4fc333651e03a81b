/**
 * The application of test/cli/through-listener.test.ts, run as a child with tsx: it opens
 * a spool in argv[2], creates topic `events` (2 partitions) with three records of its own,
 * listens on 127.0.0.1 port 0 (unless `--no-listen`: then it only holds the directory),
 * and keeps working in-process while the CLI runs beside it: it appends to `ticks` every
 * 50 ms and follows both partitions of `events`, printing each record it sees.
 *
 * It prints `listening <host>:<port>` (or `holding`), then `seen <partition> <offset> <value>`
 * per record of `events`. SIGTERM closes the spool (listener first) and exits 0.
 */
import { openTestSpool } from '../helpers/open-spool.js'

const [dir, mode] = process.argv.slice(2)
const spool = await openTestSpool(dir!, { cleanerIntervalMs: 0 })
if (!spool.listTopics().includes('events')) {
  await spool.createTopic('events', { partitions: 2, flush: 'always' })
  await spool.createTopic('ticks', { flush: 'never' })
  const producer = spool.producer()
  for (const [i, key] of ['a', 'b', 'c'].entries()) await producer.send({ topic: 'events', key, value: `app-${i}`, timestamp: 1_000 + i })
}
const stop = new AbortController()
for (const partition of [0, 1]) {
  void (async () => {
    for await (const record of spool.read('events', { partition, follow: true, signal: stop.signal })) {
      process.stdout.write(`seen ${record.partition} ${record.offset} ${record.value?.toString() ?? 'null'}\n`)
    }
  })()
}
const ticks = spool.producer()
const ticking = setInterval(() => void ticks.send({ topic: 'ticks', value: String(Date.now()) }).catch(() => undefined), 50)
if (mode === '--no-listen') process.stdout.write('holding\n')
else {
  const { host, port } = await spool.listen({ host: '127.0.0.1', port: 0 })
  process.stdout.write(`listening ${host}:${port}\n`)
}
process.on('SIGTERM', () => {
  clearInterval(ticking)
  stop.abort()
  void spool.close().then(() => process.exit(0))
})
