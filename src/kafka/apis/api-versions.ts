/**
 * ApiVersions (key 18): which APIs and versions this broker serves. Every client's first
 * request. Its response header is always v0, even when the body is flexible (v3+), so
 * that a client can read the answer to a version the broker does not know — see frames.ts.
 *
 * Transcribed from apache/kafka ApiVersionsRequest.json / ApiVersionsResponse.json.
 */
import { message } from '../protocol/schema.js'
import { defineApi } from './api.js'

export const ApiVersionsRequest = message({
  name: 'ApiVersionsRequest',
  // Versions 0 through 2 are the same. Version 3 is the first flexible version and adds
  // ClientSoftwareName and ClientSoftwareVersion (KIP-511). Version 4 only fixes
  // SupportedFeatures.MinVersion (KAFKA-17011).
  validVersions: '0-4',
  flexibleVersions: '3+',
  fields: [
    { name: 'ClientSoftwareName', type: 'string', versions: '3+', ignorable: true, about: 'The name of the client.' },
    { name: 'ClientSoftwareVersion', type: 'string', versions: '3+', ignorable: true, about: 'The version of the client.' },
  ],
})

export const ApiVersionsResponse = message({
  name: 'ApiVersionsResponse',
  // Version 1 adds throttle time. Version 3 is the first flexible version (tagged fields in
  // the body only, never in the header).
  validVersions: '0-4',
  flexibleVersions: '3+',
  fields: [
    { name: 'ErrorCode', type: 'int16', versions: '0+', about: 'The top-level error code.' },
    { name: 'ApiKeys', type: '[]ApiVersion', versions: '0+', about: 'The APIs supported by the broker.', fields: [
      { name: 'ApiKey', type: 'int16', versions: '0+', about: 'The API index.' },
      { name: 'MinVersion', type: 'int16', versions: '0+', about: 'The minimum supported version, inclusive.' },
      { name: 'MaxVersion', type: 'int16', versions: '0+', about: 'The maximum supported version, inclusive.' },
    ] },
    { name: 'ThrottleTimeMs', type: 'int32', versions: '1+', ignorable: true, about: 'The duration in milliseconds for which the request was throttled due to a quota violation, or zero.' },
    { name: 'SupportedFeatures', type: '[]SupportedFeatureKey', versions: '3+', tag: 0, taggedVersions: '3+', about: 'Features supported by the broker.', fields: [
      { name: 'Name', type: 'string', versions: '3+', about: 'The name of the feature.' },
      { name: 'MinVersion', type: 'int16', versions: '3+', about: 'The minimum supported version for the feature.' },
      { name: 'MaxVersion', type: 'int16', versions: '3+', about: 'The maximum supported version for the feature.' },
    ] },
    { name: 'FinalizedFeaturesEpoch', type: 'int64', versions: '3+', tag: 1, taggedVersions: '3+', default: -1, ignorable: true, about: 'The monotonically increasing epoch for the finalized features information; -1 is unknown.' },
    { name: 'FinalizedFeatures', type: '[]FinalizedFeatureKey', versions: '3+', tag: 2, taggedVersions: '3+', about: 'List of cluster-wide finalized features.', fields: [
      { name: 'Name', type: 'string', versions: '3+', about: 'The name of the feature.' },
      { name: 'MaxVersionLevel', type: 'int16', versions: '3+', about: 'The cluster-wide finalized max version level for the feature.' },
      { name: 'MinVersionLevel', type: 'int16', versions: '3+', about: 'The cluster-wide finalized min version level for the feature.' },
    ] },
    { name: 'ZkMigrationReady', type: 'bool', versions: '3+', tag: 3, taggedVersions: '3+', default: false, ignorable: true, about: 'Set by a KRaft controller if the required configurations for ZK migration are present.' },
  ],
})

export const API_VERSIONS = defineApi({
  key: 18,
  name: 'ApiVersions',
  minVersion: 0,
  maxVersion: 3,
  request: ApiVersionsRequest,
  response: ApiVersionsResponse,
})
