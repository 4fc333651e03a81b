import { API_KEYS } from '../apis/index.js'
import { handleApiVersions } from './api-versions.js'
import { handleCreatePartitions } from './create-partitions.js'
import { handleCreateTopics } from './create-topics.js'
import { handleDeleteTopics } from './delete-topics.js'
import { handleFetch } from './fetch.js'
import { handleFindCoordinator } from './find-coordinator.js'
import type { Handler } from './handler.js'
import { handleInitProducerId } from './init-producer-id.js'
import { handleListOffsets } from './list-offsets.js'
import { handleMetadata } from './metadata.js'
import { handleProduce } from './produce.js'

/** Which handler answers each API the listener serves (the versions are in src/kafka/apis). */
export const HANDLERS: ReadonlyMap<number, Handler> = new Map<number, Handler>([
  [API_KEYS.ApiVersions, handleApiVersions],
  [API_KEYS.Metadata, handleMetadata],
  [API_KEYS.Produce, handleProduce],
  [API_KEYS.Fetch, handleFetch],
  [API_KEYS.FindCoordinator, handleFindCoordinator],
  [API_KEYS.ListOffsets, handleListOffsets],
  [API_KEYS.CreateTopics, handleCreateTopics],
  [API_KEYS.DeleteTopics, handleDeleteTopics],
  [API_KEYS.CreatePartitions, handleCreatePartitions],
  [API_KEYS.InitProducerId, handleInitProducerId],
])
