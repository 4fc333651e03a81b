import type { TopicOptions } from '../client/spool.js'
import type { PartitionLog } from '../storage/partition-log.js'
import type { Logger } from '../storage/logger.js'
import type { TopicConfig } from '../topics/topic-config.js'
import type { TopicDescription } from '../topics/topics.js'

/**
 * What the Kafka listener may do to the data directory, and nothing more: the handlers
 * see topics and partition logs through this, never files. Spool implements it over its
 * own topics, so that in-process producers and consumers and the listener share one log.
 */
export interface Broker {
  /** This spool's cluster id, kept in the data directory (Kafka's 22-character base64 uuid). */
  readonly clusterId: string
  /** The one broker's node id. */
  readonly nodeId: number
  /** Whether Metadata and Produce for an unknown topic create it (Kafka's auto.create.topics.enable; off by default). */
  readonly autoCreateTopics: boolean
  readonly logger: Logger
  topicNames(): string[]
  hasTopic(name: string): boolean
  /** Throws SpoolError UNKNOWN_TOPIC. */
  topicConfig(name: string): TopicConfig
  /** A partition's log, opened on first use. Throws UNKNOWN_TOPIC / UNKNOWN_PARTITION. */
  log(topic: string, partition: number): Promise<PartitionLog>
  createTopic(name: string, options: TopicOptions): Promise<TopicDescription>
  deleteTopic(name: string): Promise<void>
  /** Grows the topic to `total` partitions. */
  addPartitions(name: string, total: number): Promise<TopicDescription>
  /** A new producer id for InitProducerId, never handed out before (durable). */
  allocateProducerId(): Promise<number>
}
