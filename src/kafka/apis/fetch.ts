/**
 * Fetch (key 1): record batches from partitions, from an offset, waiting up to MaxWaitMs
 * for MinBytes. Each partition's Records in the response are stored batch bytes, encoded
 * from a Buffer or a Buffer[] by reference (never copied or re-encoded).
 *
 * Spool serves v4+ only: v4 is the first version whose clients read message format v2.
 *
 * Transcribed from apache/kafka FetchRequest.json / FetchResponse.json (up to v13; later
 * versions add replica-only fields).
 */
import { message } from '../protocol/schema.js'
import { defineApi } from './api.js'

export const FetchRequest = message({
  name: 'FetchRequest',
  // Version 3 adds MaxBytes. Version 4 adds IsolationLevel. Version 5 adds LogStartOffset.
  // Version 7 adds incremental fetch sessions (KIP-227). Version 9 adds CurrentLeaderEpoch
  // (KIP-320). Version 10 allows ZStandard (KIP-110). Version 11 adds RackId (KIP-392).
  // Version 12 is the first flexible version and adds ClusterId and LastFetchedEpoch.
  // Version 13 replaces topic names by topic ids.
  validVersions: '0-13',
  flexibleVersions: '12+',
  fields: [
    { name: 'ClusterId', type: 'string', versions: '12+', nullableVersions: '12+', default: null, taggedVersions: '12+', tag: 0, ignorable: true, about: 'The clusterId if known. This is used to validate metadata fetches prior to broker registration.' },
    { name: 'ReplicaId', type: 'int32', versions: '0-14', default: -1, about: 'The broker ID of the follower, of -1 if this request is from a consumer.' },
    { name: 'MaxWaitMs', type: 'int32', versions: '0+', about: 'The maximum time in milliseconds to wait for the response.' },
    { name: 'MinBytes', type: 'int32', versions: '0+', about: 'The minimum bytes to accumulate in the response.' },
    { name: 'MaxBytes', type: 'int32', versions: '3+', default: 0x7fffffff, ignorable: true, about: 'The maximum bytes to fetch. See KIP-74 for cases where this limit may not be honored.' },
    { name: 'IsolationLevel', type: 'int8', versions: '4+', default: 0, ignorable: true, about: 'This setting controls the visibility of transactional records: 0 READ_UNCOMMITTED, 1 READ_COMMITTED.' },
    { name: 'SessionId', type: 'int32', versions: '7+', default: 0, ignorable: true, about: 'The fetch session ID.' },
    { name: 'SessionEpoch', type: 'int32', versions: '7+', default: -1, ignorable: true, about: 'The fetch session epoch, which is used for ordering requests in a session.' },
    { name: 'Topics', type: '[]FetchTopic', versions: '0+', about: 'The topics to fetch.', fields: [
      { name: 'Topic', type: 'string', versions: '0-12', ignorable: true, about: 'The name of the topic to fetch.' },
      { name: 'TopicId', type: 'uuid', versions: '13+', ignorable: true, about: 'The unique topic ID.' },
      { name: 'Partitions', type: '[]FetchPartition', versions: '0+', about: 'The partitions to fetch.', fields: [
        { name: 'Partition', type: 'int32', versions: '0+', about: 'The partition index.' },
        { name: 'CurrentLeaderEpoch', type: 'int32', versions: '9+', default: -1, ignorable: true, about: 'The current leader epoch of the partition.' },
        { name: 'FetchOffset', type: 'int64', versions: '0+', about: 'The message offset.' },
        { name: 'LastFetchedEpoch', type: 'int32', versions: '12+', default: -1, ignorable: false, about: 'The epoch of the last fetched record or -1 if there is none.' },
        { name: 'LogStartOffset', type: 'int64', versions: '5+', default: -1, ignorable: true, about: 'The earliest available offset of the follower replica. The field is only used when the request is sent by the follower.' },
        { name: 'PartitionMaxBytes', type: 'int32', versions: '0+', about: 'The maximum bytes to fetch from this partition. See KIP-74 for cases where this limit may not be honored.' },
      ] },
    ] },
    { name: 'ForgottenTopicsData', type: '[]ForgottenTopic', versions: '7+', ignorable: false, about: 'In an incremental fetch request, the partitions to remove.', fields: [
      { name: 'Topic', type: 'string', versions: '7-12', ignorable: true, about: 'The topic name.' },
      { name: 'TopicId', type: 'uuid', versions: '13+', ignorable: true, about: 'The unique topic ID.' },
      { name: 'Partitions', type: '[]int32', versions: '7+', about: 'The partitions indexes to forget.' },
    ] },
    { name: 'RackId', type: 'string', versions: '11+', default: '', ignorable: true, about: 'Rack ID of the consumer making this request.' },
  ],
})

export const FetchResponse = message({
  name: 'FetchResponse',
  // Version 1 adds throttle time. Version 4 adds features for transactional consumption.
  // Version 5 adds LogStartOffset. Version 7 adds incremental fetch (ErrorCode, SessionId).
  // Version 11 adds PreferredReadReplica. Version 12 is the first flexible version and adds
  // the tagged DivergingEpoch, CurrentLeader and SnapshotId. Version 13 uses topic ids.
  validVersions: '0-13',
  flexibleVersions: '12+',
  fields: [
    { name: 'ThrottleTimeMs', type: 'int32', versions: '1+', ignorable: true, about: 'The duration in milliseconds for which the request was throttled due to a quota violation, or zero.' },
    { name: 'ErrorCode', type: 'int16', versions: '7+', ignorable: true, about: 'The top level response error code.' },
    { name: 'SessionId', type: 'int32', versions: '7+', default: 0, ignorable: false, about: 'The fetch session ID, or 0 if this is not part of a fetch session.' },
    { name: 'Responses', type: '[]FetchableTopicResponse', versions: '0+', about: 'The response topics.', fields: [
      { name: 'Topic', type: 'string', versions: '0-12', ignorable: true, about: 'The topic name.' },
      { name: 'TopicId', type: 'uuid', versions: '13+', ignorable: true, about: 'The unique topic ID.' },
      { name: 'Partitions', type: '[]PartitionData', versions: '0+', about: 'The topic partitions.', fields: [
        { name: 'PartitionIndex', type: 'int32', versions: '0+', about: 'The partition index.' },
        { name: 'ErrorCode', type: 'int16', versions: '0+', about: 'The error code, or 0 if there was no fetch error.' },
        { name: 'HighWatermark', type: 'int64', versions: '0+', about: 'The current high water mark.' },
        { name: 'LastStableOffset', type: 'int64', versions: '4+', default: -1, ignorable: true, about: 'The last stable offset (or LSO) of the partition.' },
        { name: 'LogStartOffset', type: 'int64', versions: '5+', default: -1, ignorable: true, about: 'The current log start offset.' },
        { name: 'DivergingEpoch', type: 'EpochEndOffset', versions: '12+', taggedVersions: '12+', tag: 0, about: 'In case divergence is detected based on the LastFetchedEpoch and FetchOffset in the request, this field indicates the largest epoch and its end offset such that subsequent records are known to diverge.', fields: [
          { name: 'Epoch', type: 'int32', versions: '12+', default: -1 },
          { name: 'EndOffset', type: 'int64', versions: '12+', default: -1 },
        ] },
        { name: 'CurrentLeader', type: 'LeaderIdAndEpoch', versions: '12+', taggedVersions: '12+', tag: 1, about: 'The current leader of the partition.', fields: [
          { name: 'LeaderId', type: 'int32', versions: '12+', default: -1, about: 'The ID of the current leader or -1 if the leader is unknown.' },
          { name: 'LeaderEpoch', type: 'int32', versions: '12+', default: -1, about: 'The latest known leader epoch.' },
        ] },
        { name: 'SnapshotId', type: 'SnapshotId', versions: '12+', taggedVersions: '12+', tag: 2, about: 'In the case of fetching an offset less than the LogStartOffset, this is the end offset and epoch that should be used in the FetchSnapshot request.', fields: [
          { name: 'EndOffset', type: 'int64', versions: '0+', default: -1 },
          { name: 'Epoch', type: 'int32', versions: '0+', default: -1 },
        ] },
        { name: 'AbortedTransactions', type: '[]AbortedTransaction', versions: '4+', nullableVersions: '4+', ignorable: true, about: 'The aborted transactions.', fields: [
          { name: 'ProducerId', type: 'int64', versions: '4+', about: 'The producer id associated with the aborted transaction.' },
          { name: 'FirstOffset', type: 'int64', versions: '4+', about: 'The first offset in the aborted transaction.' },
        ] },
        { name: 'PreferredReadReplica', type: 'int32', versions: '11+', default: -1, ignorable: false, about: 'The preferred read replica for the consumer to use on its next fetch request.' },
        { name: 'Records', type: 'records', versions: '0+', nullableVersions: '0+', about: 'The record data.' },
      ] },
    ] },
  ],
})

export const FETCH = defineApi({
  key: 1,
  name: 'Fetch',
  minVersion: 4,
  maxVersion: 11,
  request: FetchRequest,
  response: FetchResponse,
})
