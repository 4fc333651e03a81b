/**
 * FindCoordinator (key 10): which broker coordinates a consumer group (or a transactional
 * id). Served so that clients that look for it find it (librdkafka compresses with lz4
 * only for a broker that lists FindCoordinator v0); consumer groups over the wire are the
 * next issue, and until then the handler answers COORDINATOR_NOT_AVAILABLE.
 *
 * Transcribed from apache/kafka FindCoordinatorRequest.json / FindCoordinatorResponse.json
 * (versions 0–2, before the flexible v3 and the batched v4).
 */
import { message } from '../protocol/schema.js'
import { defineApi } from './api.js'

export const FindCoordinatorRequest = message({
  name: 'FindCoordinatorRequest',
  // Version 1 adds KeyType. Version 2 is the same as version 1.
  validVersions: '0-2',
  flexibleVersions: 'none',
  fields: [
    { name: 'Key', type: 'string', versions: '0+', about: 'The coordinator key.' },
    { name: 'KeyType', type: 'int8', versions: '1+', default: 0, about: 'The coordinator key type. (Group, transaction, etc.)' },
  ],
})

export const FindCoordinatorResponse = message({
  name: 'FindCoordinatorResponse',
  // Version 1 adds throttle time and error messages. Version 2 is the same as version 1.
  validVersions: '0-2',
  flexibleVersions: 'none',
  fields: [
    { name: 'ThrottleTimeMs', type: 'int32', versions: '1+', ignorable: true, about: 'The duration in milliseconds for which the request was throttled due to a quota violation, or zero.' },
    { name: 'ErrorCode', type: 'int16', versions: '0+', about: 'The error code, or 0 if there was no error.' },
    { name: 'ErrorMessage', type: 'string', versions: '1+', nullableVersions: '1+', ignorable: true, about: 'The error message, or null if there was no error.' },
    { name: 'NodeId', type: 'int32', versions: '0+', about: 'The node id.' },
    { name: 'Host', type: 'string', versions: '0+', about: 'The host name.' },
    { name: 'Port', type: 'int32', versions: '0+', about: 'The port.' },
  ],
})

export const FIND_COORDINATOR = defineApi({
  key: 10,
  name: 'FindCoordinator',
  minVersion: 0,
  maxVersion: 2,
  request: FindCoordinatorRequest,
  response: FindCoordinatorResponse,
})
