/**
 * Child process of W5 (bench/recovery.ts): opens the data directory, appends the same
 * batch of records to partition 0 of one topic over and over (flush 'never', so the log
 * grows at write speed), and prints after each acknowledged append:
 *   ack <endOffset>
 * and, once, when the log holds `targetBytes` and at least `tailBytes` of it lie past the
 * recovery point on disk (what the parent's recovery will scan):
 *   ready
 * It then keeps appending until the parent SIGKILLs it.
 */
import { openSpool } from '../src/client/spool.js'
import { DEFAULT_MAX_BATCH_BYTES, RECOVERY_CHECKPOINT_BYTES } from '../src/limits.js'
import { stderrLogger } from '../src/storage/logger.js'
import { partitionDir } from '../src/topics/catalog.js'
import { type DatasetSpec, makeDataset } from './lib/dataset.js'
import { logExtent } from './lib/log-files.js'

export interface WriterSpec {
  topic: string
  targetBytes: number
  tailBytes: number
  /** One batch: what every append sends. */
  batch: DatasetSpec
}

/**
 * A writer the parent never kills (it died, or missed `ready`) stops by itself this far
 * past what it had to write, instead of filling the disk.
 */
const GIVE_UP_BYTES = 4 * RECOVERY_CHECKPOINT_BYTES

const spec = JSON.parse(process.argv[3]!) as WriterSpec
const dir = process.argv[2]!
const partition = partitionDir(dir, spec.topic, 0)
const records = makeDataset(spec.batch).batches[0]!.map(({ key, value }) => ({ topic: spec.topic, partition: 0, key, value }))

const spool = await openSpool({ dir, logger: stderrLogger })
if (!spool.listTopics().includes(spec.topic)) await spool.createTopic(spec.topic, { partitions: 1, flush: 'never' })
// One append per sendBatch, however large the records, so that record i of the batch always
// sits at an offset ≡ i (mod the batch's length), which the parent checks after recovery.
const producer = spool.producer({ maxBatchBytes: DEFAULT_MAX_BATCH_BYTES })
const startBytes = (await logExtent(partition)).bytes
const limitBytes = Math.max(spec.targetBytes, startBytes) + spec.tailBytes + GIVE_UP_BYTES
let ready = false
for (;;) {
  const sent = await producer.sendBatch(records)
  process.stdout.write(`ack ${sent[sent.length - 1]!.offset + 1}\n`)
  const extent = await logExtent(partition)
  if (!ready && extent.bytes >= spec.targetBytes && extent.pastRecoveryPoint >= spec.tailBytes) {
    ready = true
    process.stdout.write('ready\n')
  }
  if (extent.bytes > limitBytes) {
    process.stderr.write(`recovery-writer: not killed after ${extent.bytes} bytes of log; stopping\n`)
    process.exit(2)
  }
}
