/**
 * Metadata (key 3): the brokers, and each topic's partitions with their leader. Spool is
 * one broker leading every partition.
 *
 * Topics: in v0 an empty array means every topic; from v1 null means every topic and an
 * empty array none.
 *
 * Transcribed from apache/kafka MetadataRequest.json / MetadataResponse.json.
 */
import { message } from '../protocol/schema.js'
import { defineApi } from './api.js'

/** Kafka's "not requested" value for the authorized-operations bit fields. */
const AUTHORIZED_OPERATIONS_UNKNOWN = -2147483648

export const MetadataRequest = message({
  name: 'MetadataRequest',
  // Version 1 allows a null Topics (all topics). Version 4 adds AllowAutoTopicCreation.
  // Version 8 adds the Include*AuthorizedOperations flags. Version 9 is the first flexible
  // version. Version 10 adds topic ids. Version 11 drops IncludeClusterAuthorizedOperations.
  // Version 12 allows a null topic name (lookup by id).
  validVersions: '0-12',
  flexibleVersions: '9+',
  fields: [
    { name: 'Topics', type: '[]MetadataRequestTopic', versions: '0+', nullableVersions: '1+', about: 'The topics to fetch metadata for.', fields: [
      { name: 'TopicId', type: 'uuid', versions: '10+', ignorable: true, about: 'The topic id.' },
      { name: 'Name', type: 'string', versions: '0+', nullableVersions: '10+', about: 'The topic name.' },
    ] },
    { name: 'AllowAutoTopicCreation', type: 'bool', versions: '4+', default: true, ignorable: false, about: 'If this is true, the broker may auto-create topics that we requested which do not already exist, if it is configured to do so.' },
    { name: 'IncludeClusterAuthorizedOperations', type: 'bool', versions: '8-10', about: 'Whether to include cluster authorized operations.' },
    { name: 'IncludeTopicAuthorizedOperations', type: 'bool', versions: '8+', about: 'Whether to include topic authorized operations.' },
  ],
})

export const MetadataResponse = message({
  name: 'MetadataResponse',
  // Version 1 adds fields for the rack of each broker, the controller id, and whether or
  // not the topic is internal. Version 2 adds the cluster ID. Version 3 adds the throttle
  // time. Version 5 adds OfflineReplicas. Version 7 adds the leader epoch. Version 8 adds
  // authorized operations. Version 9 is the first flexible version.
  validVersions: '0-12',
  flexibleVersions: '9+',
  fields: [
    { name: 'ThrottleTimeMs', type: 'int32', versions: '3+', ignorable: true, about: 'The duration in milliseconds for which the request was throttled due to a quota violation, or zero.' },
    { name: 'Brokers', type: '[]MetadataResponseBroker', versions: '0+', about: 'A list of brokers present in the cluster.', fields: [
      { name: 'NodeId', type: 'int32', versions: '0+', about: 'The broker ID.' },
      { name: 'Host', type: 'string', versions: '0+', about: 'The broker hostname.' },
      { name: 'Port', type: 'int32', versions: '0+', about: 'The broker port.' },
      { name: 'Rack', type: 'string', versions: '1+', nullableVersions: '1+', ignorable: true, default: null, about: 'The rack of the broker, or null if it has not been assigned to a rack.' },
    ] },
    { name: 'ClusterId', type: 'string', nullableVersions: '2+', versions: '2+', ignorable: true, default: null, about: 'The cluster ID that responding broker belongs to.' },
    { name: 'ControllerId', type: 'int32', versions: '1+', default: -1, ignorable: true, about: 'The ID of the controller broker.' },
    { name: 'Topics', type: '[]MetadataResponseTopic', versions: '0+', about: 'Each topic in the response.', fields: [
      { name: 'ErrorCode', type: 'int16', versions: '0+', about: 'The topic error, or 0 if there was no error.' },
      { name: 'Name', type: 'string', versions: '0+', nullableVersions: '12+', about: 'The topic name. Null for non-existing topics queried by ID.' },
      { name: 'TopicId', type: 'uuid', versions: '10+', ignorable: true, about: 'The topic id. Zero for non-existing topics queried by name.' },
      { name: 'IsInternal', type: 'bool', versions: '1+', default: false, ignorable: true, about: 'True if the topic is internal.' },
      { name: 'Partitions', type: '[]MetadataResponsePartition', versions: '0+', about: 'Each partition in the topic.', fields: [
        { name: 'ErrorCode', type: 'int16', versions: '0+', about: 'The partition error, or 0 if there was no error.' },
        { name: 'PartitionIndex', type: 'int32', versions: '0+', about: 'The partition index.' },
        { name: 'LeaderId', type: 'int32', versions: '0+', about: 'The ID of the leader broker.' },
        { name: 'LeaderEpoch', type: 'int32', versions: '7+', default: -1, ignorable: true, about: 'The leader epoch of this partition.' },
        { name: 'ReplicaNodes', type: '[]int32', versions: '0+', about: 'The set of all nodes that host this partition.' },
        { name: 'IsrNodes', type: '[]int32', versions: '0+', about: 'The set of nodes that are in sync with the leader for this partition.' },
        { name: 'OfflineReplicas', type: '[]int32', versions: '5+', ignorable: true, about: 'The set of offline replicas of this partition.' },
      ] },
      { name: 'TopicAuthorizedOperations', type: 'int32', versions: '8+', default: AUTHORIZED_OPERATIONS_UNKNOWN, about: '32-bit bitfield to represent authorized operations for this topic.' },
    ] },
    { name: 'ClusterAuthorizedOperations', type: 'int32', versions: '8-10', default: AUTHORIZED_OPERATIONS_UNKNOWN, about: '32-bit bitfield to represent authorized operations for this cluster.' },
  ],
})

export const METADATA = defineApi({
  key: 3,
  name: 'Metadata',
  minVersion: 0,
  maxVersion: 8,
  request: MetadataRequest,
  response: MetadataResponse,
})
