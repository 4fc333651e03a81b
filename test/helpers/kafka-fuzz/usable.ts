import net from 'node:net'
import { API_VERSIONS, FETCH, PRODUCE, type ApiDefinition } from '../../../src/kafka/apis/index.js'
import { type DecodedBody, decodeResponse, encodeRequest } from '../../../src/kafka/protocol/frames.js'
import type { Ledger } from './ledger.js'
import type { Random } from './random.js'
import type { FuzzWorld } from './requests.js'

/**
 * A valid ApiVersions, Produce (acks -1) and Fetch on a new connection, each checked: the
 * listener still serves after whatever came before. The produced batch joins the ledger
 * as acknowledged.
 */
export async function produceAndFetch(port: number, world: FuzzWorld, ledger: Ledger, random: Random): Promise<void> {
  const socket = net.connect({ port, host: '127.0.0.1' })
  socket.on('error', () => undefined)
  try {
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve)
      socket.once('error', reject)
    })
    const call = request(socket)
    const versions = await call(API_VERSIONS, 3, { clientSoftwareName: 'spool-fuzz', clientSoftwareVersion: '1' })
    if (versions.errorCode !== 0) throw new Error(`ApiVersions v3 answered error ${versions.errorCode}`)

    const topic = world.dataTopics[random.int(world.dataTopics.length)]!
    const partition = random.int(topic.partitions)
    const batch = world.batches.make(random, world.now(), 'none', false)
    const produced = await call(PRODUCE, 8, { acks: -1, timeoutMs: 10_000, topicData: [{ name: topic.name, partitionData: [{ index: partition, records: batch.bytes }] }] })
    const result = produced.responses[0]?.partitionResponses[0]
    if (result === undefined || result.errorCode !== 0) throw new Error(`Produce to ${topic.name}/${partition} answered ${JSON.stringify(result)}`)
    ledger.ack(topic.name, partition, result.baseOffset, batch)

    const fetched = await call(FETCH, 11, {
      replicaId: -1, maxWaitMs: 0, minBytes: 0, maxBytes: 1 << 20, isolationLevel: 0, sessionId: 0, sessionEpoch: -1,
      topics: [{ topic: topic.name, partitions: [{ partition, currentLeaderEpoch: -1, fetchOffset: result.baseOffset, logStartOffset: -1, partitionMaxBytes: 1 << 20 }] }],
      forgottenTopicsData: [], rackId: '',
    })
    const answer = fetched.responses[0]?.partitions[0]
    if (answer === undefined || answer.errorCode !== 0) throw new Error(`Fetch of ${topic.name}/${partition}@${result.baseOffset} answered error ${answer?.errorCode}`)
    const records = answer.records as Buffer | null
    if (records === null || !records.includes(batch.signature)) throw new Error(`Fetch of ${topic.name}/${partition}@${result.baseOffset} did not return the batch just produced`)
  } finally {
    socket.destroy()
  }
}

/** Sends requests one at a time on `socket` and decodes each answer. */
function request(socket: net.Socket): (api: ApiDefinition, version: number, body: object) => Promise<DecodedBody> {
  let pending: Buffer = Buffer.alloc(0)
  let waiter: ((frame: Buffer) => void) | null = null
  let closed: ((error: Error) => void) | null = null
  socket.on('data', (chunk: Buffer) => {
    pending = Buffer.concat([pending, chunk])
    if (pending.length >= 4 && pending.length >= 4 + pending.readInt32BE(0)) {
      const size = pending.readInt32BE(0)
      const frame = pending.subarray(4, 4 + size)
      pending = pending.subarray(4 + size)
      waiter?.(frame)
    }
  })
  socket.on('close', () => closed?.(new Error('the listener closed the connection')))
  let correlationId = 1
  return (api, version, body) =>
    new Promise((resolve, reject) => {
      const id = correlationId++
      const timer = setTimeout(() => reject(new Error(`no answer to ${api.name} v${version} within 10 s`)), 10_000)
      closed = (error) => {
        clearTimeout(timer)
        reject(error)
      }
      waiter = (frame) => {
        clearTimeout(timer)
        try {
          const decoded = decodeResponse(api, version, frame)
          if (decoded.correlationId !== id) throw new Error(`${api.name} answered correlation id ${decoded.correlationId}, not ${id}`)
          resolve(decoded.body)
        } catch (error) {
          reject(error)
        }
      }
      for (const buffer of encodeRequest(api, version, { correlationId: id, clientId: 'spool-fuzz' }, body)) socket.write(buffer)
    })
}
