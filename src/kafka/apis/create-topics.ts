/**
 * CreateTopics (key 19): topics with a partition count and configs. Spool is one broker:
 * replication factor 1 (or -1, the default) and no manual assignments beyond node 0.
 *
 * Transcribed from apache/kafka CreateTopicsRequest.json / CreateTopicsResponse.json.
 */
import { message } from '../protocol/schema.js'
import { defineApi } from './api.js'

export const CreateTopicsRequest = message({
  name: 'CreateTopicsRequest',
  // Version 1 adds ValidateOnly. Version 4 makes partition count and replication factor
  // optional (-1, KIP-464). Version 5 is the first flexible version. Version 6: quota
  // violations answer THROTTLING_QUOTA_EXCEEDED. Version 7 returns topic ids.
  validVersions: '0-7',
  flexibleVersions: '5+',
  fields: [
    { name: 'Topics', type: '[]CreatableTopic', versions: '0+', about: 'The topics to create.', fields: [
      { name: 'Name', type: 'string', versions: '0+', about: 'The topic name.' },
      { name: 'NumPartitions', type: 'int32', versions: '0+', about: 'The number of partitions to create in the topic, or -1 if we are either specifying a manual partition assignment or using the default partitions.' },
      { name: 'ReplicationFactor', type: 'int16', versions: '0+', about: 'The number of replicas to create for each partition in the topic, or -1 if we are either specifying a manual partition assignment or using the default replication factor.' },
      { name: 'Assignments', type: '[]CreatableReplicaAssignment', versions: '0+', about: 'The manual partition assignment, or the empty array if we are using automatic assignment.', fields: [
        { name: 'PartitionIndex', type: 'int32', versions: '0+', about: 'The partition index.' },
        { name: 'BrokerIds', type: '[]int32', versions: '0+', about: 'The brokers to place the partition on.' },
      ] },
      { name: 'Configs', type: '[]CreatableTopicConfig', versions: '0+', about: 'The custom topic configurations to set.', fields: [
        { name: 'Name', type: 'string', versions: '0+', about: 'The configuration name.' },
        { name: 'Value', type: 'string', versions: '0+', nullableVersions: '0+', about: 'The configuration value.' },
      ] },
    ] },
    { name: 'TimeoutMs', type: 'int32', versions: '0+', default: 60000, about: 'How long to wait in milliseconds before timing out the request.' },
    { name: 'ValidateOnly', type: 'bool', versions: '1+', default: false, ignorable: false, about: "If true, check that the topics can be created as specified, but don't create anything." },
  ],
})

export const CreateTopicsResponse = message({
  name: 'CreateTopicsResponse',
  // Version 1 adds a per-topic error message. Version 2 adds the throttle time. Version 5
  // is the first flexible version and returns the topic's partitions, replication factor
  // and configs. Version 7 returns the topic id.
  validVersions: '0-7',
  flexibleVersions: '5+',
  fields: [
    { name: 'ThrottleTimeMs', type: 'int32', versions: '2+', ignorable: true, about: 'The duration in milliseconds for which the request was throttled due to a quota violation, or zero.' },
    { name: 'Topics', type: '[]CreatableTopicResult', versions: '0+', about: 'Results for each topic we tried to create.', fields: [
      { name: 'Name', type: 'string', versions: '0+', about: 'The topic name.' },
      { name: 'TopicId', type: 'uuid', versions: '7+', ignorable: true, about: 'The unique topic ID.' },
      { name: 'ErrorCode', type: 'int16', versions: '0+', about: 'The error code, or 0 if there was no error.' },
      { name: 'ErrorMessage', type: 'string', versions: '1+', nullableVersions: '0+', ignorable: true, default: null, about: 'The error message, or null if there was no error.' },
      { name: 'TopicConfigErrorCode', type: 'int16', versions: '5+', taggedVersions: '5+', tag: 0, ignorable: true, about: 'Optional topic config error returned if configs are not returned in the response.' },
      { name: 'NumPartitions', type: 'int32', versions: '5+', default: -1, ignorable: true, about: 'Number of partitions of the topic.' },
      { name: 'ReplicationFactor', type: 'int16', versions: '5+', default: -1, ignorable: true, about: 'Replication factor of the topic.' },
      { name: 'Configs', type: '[]CreatableTopicConfigs', versions: '5+', nullableVersions: '5+', ignorable: true, about: 'Configuration of the topic.', fields: [
        { name: 'Name', type: 'string', versions: '5+', about: 'The configuration name.' },
        { name: 'Value', type: 'string', versions: '5+', nullableVersions: '5+', about: 'The configuration value.' },
        { name: 'ReadOnly', type: 'bool', versions: '5+', about: 'True if the configuration is read-only.' },
        { name: 'ConfigSource', type: 'int8', versions: '5+', default: -1, ignorable: true, about: 'The configuration source.' },
        { name: 'IsSensitive', type: 'bool', versions: '5+', about: 'True if this configuration is sensitive.' },
      ] },
    ] },
  ],
})

export const CREATE_TOPICS = defineApi({
  key: 19,
  name: 'CreateTopics',
  minVersion: 0,
  maxVersion: 4,
  request: CreateTopicsRequest,
  response: CreateTopicsResponse,
})
