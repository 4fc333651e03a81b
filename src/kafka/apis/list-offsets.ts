/**
 * ListOffsets (key 2): a partition's offset for a timestamp — -2 the earliest, -1 the
 * latest, otherwise the first offset whose timestamp is at or after it.
 *
 * Spool serves v1+ (v0 answers with a list of old-style offsets no current client asks for).
 *
 * Transcribed from apache/kafka ListOffsetsRequest.json / ListOffsetsResponse.json.
 */
import { message } from '../protocol/schema.js'
import { defineApi } from './api.js'

export const ListOffsetsRequest = message({
  name: 'ListOffsetsRequest',
  // Version 1 removes MaxNumOffsets. Version 2 adds IsolationLevel. Version 4 adds
  // CurrentLeaderEpoch (KIP-320). Version 6 is the first flexible version. Version 7 allows
  // timestamp -3 (MAX_TIMESTAMP, KIP-734); version 8 -4 (tiered storage, KIP-405).
  validVersions: '0-8',
  flexibleVersions: '6+',
  fields: [
    { name: 'ReplicaId', type: 'int32', versions: '0+', about: 'The broker ID of the requester, or -1 if this request is being made by a normal consumer.' },
    { name: 'IsolationLevel', type: 'int8', versions: '2+', about: 'This setting controls the visibility of transactional records: 0 READ_UNCOMMITTED, 1 READ_COMMITTED.' },
    { name: 'Topics', type: '[]ListOffsetsTopic', versions: '0+', about: 'Each topic in the request.', fields: [
      { name: 'Name', type: 'string', versions: '0+', about: 'The topic name.' },
      { name: 'Partitions', type: '[]ListOffsetsPartition', versions: '0+', about: 'Each partition in the request.', fields: [
        { name: 'PartitionIndex', type: 'int32', versions: '0+', about: 'The partition index.' },
        { name: 'CurrentLeaderEpoch', type: 'int32', versions: '4+', default: -1, ignorable: true, about: 'The current leader epoch.' },
        { name: 'Timestamp', type: 'int64', versions: '0+', about: 'The current timestamp.' },
        { name: 'MaxNumOffsets', type: 'int32', versions: '0', default: 1, about: 'The maximum number of offsets to report.' },
      ] },
    ] },
  ],
})

export const ListOffsetsResponse = message({
  name: 'ListOffsetsResponse',
  // Version 1 removes the offsets array for a single Timestamp and Offset. Version 2 adds
  // the throttle time. Version 4 adds the leader epoch. Version 6 is the first flexible version.
  validVersions: '0-8',
  flexibleVersions: '6+',
  fields: [
    { name: 'ThrottleTimeMs', type: 'int32', versions: '2+', ignorable: true, about: 'The duration in milliseconds for which the request was throttled due to a quota violation, or zero.' },
    { name: 'Topics', type: '[]ListOffsetsTopicResponse', versions: '0+', about: 'Each topic in the response.', fields: [
      { name: 'Name', type: 'string', versions: '0+', about: 'The topic name.' },
      { name: 'Partitions', type: '[]ListOffsetsPartitionResponse', versions: '0+', about: 'Each partition in the response.', fields: [
        { name: 'PartitionIndex', type: 'int32', versions: '0+', about: 'The partition index.' },
        { name: 'ErrorCode', type: 'int16', versions: '0+', about: 'The partition error code, or 0 if there was no error.' },
        { name: 'OldStyleOffsets', type: '[]int64', versions: '0', ignorable: false, about: 'The result offsets.' },
        { name: 'Timestamp', type: 'int64', versions: '1+', default: -1, ignorable: false, about: 'The timestamp associated with the returned offset.' },
        { name: 'Offset', type: 'int64', versions: '1+', default: -1, ignorable: false, about: 'The returned offset.' },
        { name: 'LeaderEpoch', type: 'int32', versions: '4+', default: -1, about: 'The leader epoch associated with the returned offset.' },
      ] },
    ] },
  ],
})

export const LIST_OFFSETS = defineApi({
  key: 2,
  name: 'ListOffsets',
  minVersion: 1,
  maxVersion: 5,
  request: ListOffsetsRequest,
  response: ListOffsetsResponse,
})
