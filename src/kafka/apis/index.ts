/**
 * The API table: every Kafka API spool serves, with the versions it serves. ApiVersions
 * advertises exactly these ranges; the dispatcher refuses anything outside them.
 *
 * | API              | key | versions | why this range                                           |
 * |------------------|-----|----------|----------------------------------------------------------|
 * | Produce          |  0  | 3–8      | v3 is the first with message format v2 (librdkafka needs 3); 0–2 listed, refused |
 * | Fetch            |  1  | 4–11     | v4 is the first that reads format v2 (librdkafka needs 4) |
 * | ListOffsets      |  2  | 1–5      | v1 is the single-offset form every client uses           |
 * | Metadata         |  3  | 0–8      | kafka-python starts at 0                                  |
 * | FindCoordinator  | 10  | 0–2      | librdkafka needs v0 listed (answers: no coordinator yet)  |
 * | ApiVersions      | 18  | 0–3      | librdkafka sends v3 first                                 |
 * | CreateTopics     | 19  | 0–4      |                                                          |
 * | DeleteTopics     | 20  | 0–3      |                                                          |
 * | InitProducerId   | 22  | 0–1      | idempotent producers                                      |
 * | CreatePartitions | 37  | 0–1      |                                                          |
 */
import type { ApiDefinition } from './api.js'
import { API_VERSIONS } from './api-versions.js'
import { CREATE_PARTITIONS } from './create-partitions.js'
import { CREATE_TOPICS } from './create-topics.js'
import { DELETE_TOPICS } from './delete-topics.js'
import { FETCH } from './fetch.js'
import { FIND_COORDINATOR } from './find-coordinator.js'
import { INIT_PRODUCER_ID } from './init-producer-id.js'
import { LIST_OFFSETS } from './list-offsets.js'
import { METADATA } from './metadata.js'
import { PRODUCE } from './produce.js'

export type { ApiDefinition } from './api.js'
export { API_VERSIONS, CREATE_PARTITIONS, CREATE_TOPICS, DELETE_TOPICS, FETCH, FIND_COORDINATOR, INIT_PRODUCER_ID, LIST_OFFSETS, METADATA, PRODUCE }

export const API_KEYS = {
  Produce: 0,
  Fetch: 1,
  ListOffsets: 2,
  Metadata: 3,
  FindCoordinator: 10,
  ApiVersions: 18,
  CreateTopics: 19,
  DeleteTopics: 20,
  InitProducerId: 22,
  CreatePartitions: 37,
} as const

export const APIS: ReadonlyMap<number, ApiDefinition> = new Map(
  [PRODUCE, FETCH, LIST_OFFSETS, METADATA, FIND_COORDINATOR, API_VERSIONS, CREATE_TOPICS, DELETE_TOPICS, INIT_PRODUCER_ID, CREATE_PARTITIONS].map((api) => [api.key, api]),
)

for (const [name, key] of Object.entries(API_KEYS)) {
  if (APIS.get(key)?.name !== name) throw new Error(`API table: key ${key} is not ${name}`)
}
