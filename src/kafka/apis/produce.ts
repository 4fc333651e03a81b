/**
 * Produce (key 0): record batches for partitions. Each partition's Records are the
 * client's batch bytes, decoded as a view of the request frame (never copied) and stored
 * as they are. With Acks 0 the broker sends no response at all.
 *
 * Spool serves v3+ only: v3 is the first version carrying message format v2 batches.
 *
 * Transcribed from apache/kafka ProduceRequest.json / ProduceResponse.json.
 */
import { message } from '../protocol/schema.js'
import { defineApi } from './api.js'

export const ProduceRequest = message({
  name: 'ProduceRequest',
  // Versions 1 and 2 are the same as version 0. Version 3 adds the transactional ID and
  // message format v2. Version 4 may answer KAFKA_STORAGE_ERROR. Versions 5 and 6 are the
  // same as 3. Version 7 allows ZStandard (KIP-110). Version 8: the response has
  // RecordErrors and ErrorMessage (KIP-467). Version 9 is the first flexible version.
  // Version 10 adds the leader hints of KIP-951 to the response. Versions 11 and 12 change
  // transaction semantics only (KIP-890).
  validVersions: '0-12',
  flexibleVersions: '9+',
  fields: [
    { name: 'TransactionalId', type: 'string', versions: '3+', nullableVersions: '3+', default: null, about: 'The transactional ID, or null if the producer is not transactional.' },
    { name: 'Acks', type: 'int16', versions: '0+', about: 'The number of acknowledgments the producer requires the leader to have received before considering a request complete. Allowed values: 0 for no acknowledgments, 1 for only the leader and -1 for the full ISR.' },
    { name: 'TimeoutMs', type: 'int32', versions: '0+', about: 'The timeout to await a response in milliseconds.' },
    { name: 'TopicData', type: '[]TopicProduceData', versions: '0+', about: 'Each topic to produce to.', fields: [
      { name: 'Name', type: 'string', versions: '0+', about: 'The topic name.' },
      { name: 'PartitionData', type: '[]PartitionProduceData', versions: '0+', about: 'Each partition to produce to.', fields: [
        { name: 'Index', type: 'int32', versions: '0+', about: 'The partition index.' },
        { name: 'Records', type: 'records', versions: '0+', nullableVersions: '0+', about: 'The record data to be produced.' },
      ] },
    ] },
  ],
})

export const ProduceResponse = message({
  name: 'ProduceResponse',
  // Version 1 adds the throttle time. Version 2 adds the log append time. Version 5 adds
  // LogStartOffset. Version 8 adds RecordErrors and ErrorMessage. Version 9 is the first
  // flexible version. Version 10 adds CurrentLeader and NodeEndpoints (KIP-951).
  validVersions: '0-12',
  flexibleVersions: '9+',
  fields: [
    { name: 'Responses', type: '[]TopicProduceResponse', versions: '0+', about: 'Each produce response.', fields: [
      { name: 'Name', type: 'string', versions: '0+', about: 'The topic name.' },
      { name: 'PartitionResponses', type: '[]PartitionProduceResponse', versions: '0+', about: 'Each partition that we produced to within the topic.', fields: [
        { name: 'Index', type: 'int32', versions: '0+', about: 'The partition index.' },
        { name: 'ErrorCode', type: 'int16', versions: '0+', about: 'The error code, or 0 if there was no error.' },
        { name: 'BaseOffset', type: 'int64', versions: '0+', about: 'The base offset.' },
        { name: 'LogAppendTimeMs', type: 'int64', versions: '2+', default: -1, ignorable: true, about: 'The timestamp returned by broker after appending the messages. If CreateTime is used for the topic, the timestamp will be -1. If LogAppendTime is used for the topic, the timestamp will be the broker local time when the messages are appended.' },
        { name: 'LogStartOffset', type: 'int64', versions: '5+', default: -1, ignorable: true, about: 'The log start offset.' },
        { name: 'RecordErrors', type: '[]BatchIndexAndErrorMessage', versions: '8+', ignorable: true, about: 'The batch indices of records that caused the batch to be dropped.', fields: [
          { name: 'BatchIndex', type: 'int32', versions: '8+', about: 'The batch index of the record that caused the batch to be dropped.' },
          { name: 'BatchIndexErrorMessage', type: 'string', versions: '8+', nullableVersions: '8+', default: null, about: 'The error message of the record that caused the batch to be dropped.' },
        ] },
        { name: 'ErrorMessage', type: 'string', versions: '8+', nullableVersions: '8+', default: null, ignorable: true, about: 'The global error message summarizing the common root cause of the records that caused the batch to be dropped.' },
        { name: 'CurrentLeader', type: 'LeaderIdAndEpoch', versions: '10+', taggedVersions: '10+', tag: 0, ignorable: true, about: 'The leader broker that the producer should use for future requests.', fields: [
          { name: 'LeaderId', type: 'int32', versions: '10+', default: -1, about: 'The ID of the current leader or -1 if the leader is unknown.' },
          { name: 'LeaderEpoch', type: 'int32', versions: '10+', default: -1, about: 'The latest known leader epoch.' },
        ] },
      ] },
    ] },
    { name: 'ThrottleTimeMs', type: 'int32', versions: '1+', default: 0, ignorable: true, about: 'The duration in milliseconds for which the request was throttled due to a quota violation, or zero.' },
    { name: 'NodeEndpoints', type: '[]NodeEndpoint', versions: '10+', taggedVersions: '10+', tag: 0, about: 'Endpoints for all current-leaders enumerated in PartitionProduceResponses, with errors NOT_LEADER_OR_FOLLOWER.', fields: [
      { name: 'NodeId', type: 'int32', versions: '10+', about: 'The ID of the associated node.' },
      { name: 'Host', type: 'string', versions: '10+', about: "The node's hostname." },
      { name: 'Port', type: 'int32', versions: '10+', about: "The node's port." },
      { name: 'Rack', type: 'string', versions: '10+', nullableVersions: '10+', default: null, about: 'The rack of the node, or null if it has not been assigned to a rack.' },
    ] },
  ],
})

export const PRODUCE = defineApi({
  key: 0,
  name: 'Produce',
  minVersion: 3,
  // librdkafka compresses with gzip and snappy only for a broker that lists Produce v0
  // (librdkafka#4956): Kafka 4.0 lists v0–v2 and refuses them when used (KAFKA-18659); so
  // does spool (the dispatcher closes the connection, as for any version not served).
  advertisedMinVersion: 0,
  maxVersion: 8,
  request: ProduceRequest,
  response: ProduceResponse,
})
