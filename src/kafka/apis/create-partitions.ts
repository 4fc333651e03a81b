/**
 * CreatePartitions (key 37): grows topics to a new partition count.
 *
 * Transcribed from apache/kafka CreatePartitionsRequest.json / CreatePartitionsResponse.json.
 */
import { message } from '../protocol/schema.js'
import { defineApi } from './api.js'

export const CreatePartitionsRequest = message({
  name: 'CreatePartitionsRequest',
  // Version 1 is the same as version 0. Version 2 is the first flexible version. Version 3:
  // quota violations answer THROTTLING_QUOTA_EXCEEDED.
  validVersions: '0-3',
  flexibleVersions: '2+',
  fields: [
    { name: 'Topics', type: '[]CreatePartitionsTopic', versions: '0+', about: 'Each topic that we want to create new partitions inside.', fields: [
      { name: 'Name', type: 'string', versions: '0+', about: 'The topic name.' },
      { name: 'Count', type: 'int32', versions: '0+', about: 'The new partition count.' },
      { name: 'Assignments', type: '[]CreatePartitionsAssignment', versions: '0+', nullableVersions: '0+', about: 'The new partition assignments.', fields: [
        { name: 'BrokerIds', type: '[]int32', versions: '0+', about: 'The assigned broker IDs.' },
      ] },
    ] },
    { name: 'TimeoutMs', type: 'int32', versions: '0+', about: 'The time in ms to wait for the partitions to be created.' },
    { name: 'ValidateOnly', type: 'bool', versions: '0+', about: "If true, then validate the request, but don't actually increase the number of partitions." },
  ],
})

export const CreatePartitionsResponse = message({
  name: 'CreatePartitionsResponse',
  validVersions: '0-3',
  flexibleVersions: '2+',
  fields: [
    { name: 'ThrottleTimeMs', type: 'int32', versions: '0+', about: 'The duration in milliseconds for which the request was throttled due to a quota violation, or zero.' },
    { name: 'Results', type: '[]CreatePartitionsTopicResult', versions: '0+', about: 'The partition creation results for each topic.', fields: [
      { name: 'Name', type: 'string', versions: '0+', about: 'The topic name.' },
      { name: 'ErrorCode', type: 'int16', versions: '0+', about: 'The result error, or zero if there was no error.' },
      { name: 'ErrorMessage', type: 'string', versions: '0+', nullableVersions: '0+', default: null, about: 'The result message, or null if there was no error.' },
    ] },
  ],
})

export const CREATE_PARTITIONS = defineApi({
  key: 37,
  name: 'CreatePartitions',
  minVersion: 0,
  maxVersion: 1,
  request: CreatePartitionsRequest,
  response: CreatePartitionsResponse,
})
