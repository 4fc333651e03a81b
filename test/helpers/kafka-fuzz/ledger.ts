import { API_KEYS } from '../../../src/kafka/apis/index.js'
import type { DecodedBody } from '../../../src/kafka/protocol/frames.js'
import { KAFKA_ERRORS } from '../../../src/kafka/protocol/error-codes.js'
import type { BatchRegistry, FuzzBatch } from './batches.js'
import type { Expectation } from './predict.js'

/** A batch the broker acknowledged: where it must be found. */
export interface AckedBatch {
  topic: string
  partition: number
  baseOffset: number
  batchId: number
}

/**
 * What the fuzz's requests may have changed in the data directory, and what they must have:
 * a batch may be stored only where a request that decodes put it (a candidate), and must be
 * where an acknowledgement said; topics may appear only if a CreateTopics named them, and
 * disappear or grow only if a DeleteTopics or CreatePartitions did.
 */
export class Ledger {
  private readonly candidates = new Set<string>()
  /** Batches carried only by frames after one that closed their connection (PredictedStream.afterClose). */
  private readonly afterClose = new Set<string>()
  readonly acked: AckedBatch[] = []
  readonly mayCreate = new Set<string>()
  readonly mayDelete = new Set<string>()
  readonly mayGrow = new Set<string>()

  constructor(private readonly batches: BatchRegistry) {}

  isCandidate(topic: string, partition: number, batchId: number): boolean {
    return this.candidates.has(key(topic, partition, batchId))
  }

  /** Whether only a frame after a connection-closing one carried the batch there. */
  onlyAfterClose(topic: string, partition: number, batchId: number): boolean {
    return this.afterClose.has(key(topic, partition, batchId))
  }

  /**
   * A frame the listener will act on (decodes, served): note everything it may do.
   * `afterClose`: the frame follows one that closes the connection (see FuzzOptions.afterClose).
   */
  noteRequest(expectation: Expectation, batchIds: readonly number[], afterClose: 'no' | 'inert' | 'may-apply' = 'no'): void {
    if (afterClose === 'inert') {
      // Only remembered, to name the fault if one of its batches turns up.
      if (expectation.kind === 'respond' || expectation.kind === 'silent') {
        if (expectation.api.key === API_KEYS.Produce) {
          for (const topic of expectation.body.topicData as ProduceTopic[]) {
            for (const partition of topic.partitionData) {
              if (partition.records !== null) for (const batch of this.batches.foundIn(partition.records, batchIds)) this.afterClose.add(key(topic.name, partition.index, batch.id))
            }
          }
        }
      }
      return
    }
    if (expectation.kind !== 'respond' && expectation.kind !== 'silent') return
    const { api, body } = expectation
    if (api.key === API_KEYS.Produce) {
      for (const topic of body.topicData as ProduceTopic[]) {
        for (const partition of topic.partitionData) {
          if (partition.records === null) continue
          for (const batch of this.batches.foundIn(partition.records, batchIds)) this.candidates.add(key(topic.name, partition.index, batch.id))
        }
      }
    } else if (api.key === API_KEYS.CreateTopics) {
      for (const topic of body.topics as Array<{ name: string }>) this.mayCreate.add(topic.name)
    } else if (api.key === API_KEYS.DeleteTopics) {
      for (const name of (body.topicNames ?? []) as string[]) this.mayDelete.add(name)
    } else if (api.key === API_KEYS.CreatePartitions) {
      for (const topic of body.topics as Array<{ name: string }>) this.mayGrow.add(topic.name)
    }
  }

  /** A Produce response that came back: the batches it acknowledges, at their offsets. */
  noteResponse(expectation: Expectation, response: DecodedBody, batchIds: readonly number[]): string[] {
    if (expectation.kind !== 'respond' || expectation.api.key !== API_KEYS.Produce) return []
    const problems: string[] = []
    const topics = expectation.body.topicData as ProduceTopic[]
    const answered = response.responses as Array<{ name: string; partitionResponses: Array<{ index: number; errorCode: number; baseOffset: number }> }>
    if (answered.length !== topics.length) problems.push(`Produce answered ${answered.length} topics for ${topics.length} asked`)
    topics.forEach((topic, t) => {
      const answer = answered[t]
      if (answer === undefined) return
      if (answer.name !== topic.name) problems.push(`Produce answer #${t} names ${JSON.stringify(answer.name)}, the request ${JSON.stringify(topic.name)}`)
      topic.partitionData.forEach((partition, p) => {
        const result = answer.partitionResponses[p]
        if (result === undefined) return problems.push(`Produce answer for ${topic.name} lacks partition #${p}`) && undefined
        if (result.index !== partition.index) problems.push(`Produce answer for ${topic.name} #${p} is partition ${result.index}, asked ${partition.index}`)
        if (result.errorCode !== KAFKA_ERRORS.NONE) return
        if (partition.records === null) return problems.push(`Produce acknowledged null records on ${topic.name}/${partition.index}`) && undefined
        const carried = this.batches.foundIn(partition.records, batchIds).sort((a, b) => partition.records!.indexOf(a.signature) - partition.records!.indexOf(b.signature))
        if (carried.length === 0) return // a random or mutated records field the broker found valid: the final check sees it as an unknown record
        let offset = result.baseOffset
        for (const batch of carried) {
          this.acked.push({ topic: topic.name, partition: partition.index, baseOffset: offset, batchId: batch.id })
          offset += batch.records.length
        }
      })
    })
    return problems
  }

  /** The acknowledged batch at a partition offset, for a valid produce the fuzz itself sends. */
  ack(topic: string, partition: number, baseOffset: number, batch: FuzzBatch): void {
    this.candidates.add(key(topic, partition, batch.id))
    this.acked.push({ topic, partition, baseOffset, batchId: batch.id })
  }
}

interface ProduceTopic {
  name: string
  partitionData: Array<{ index: number; records: Buffer | null }>
}

function key(topic: string, partition: number, batchId: number): string {
  return `${topic}\u0000${partition}\u0000${batchId}`
}
