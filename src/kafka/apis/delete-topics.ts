/**
 * DeleteTopics (key 20): topics by name (v0–5) or by name or id (v6+).
 *
 * Transcribed from apache/kafka DeleteTopicsRequest.json / DeleteTopicsResponse.json.
 */
import { message } from '../protocol/schema.js'
import { defineApi } from './api.js'

export const DeleteTopicsRequest = message({
  name: 'DeleteTopicsRequest',
  // Versions 0, 1, 2 and 3 are the same. Version 4 is the first flexible version. Version 5
  // adds ErrorMessage to the response. Version 6 replaces TopicNames by Topics (name or id).
  validVersions: '0-6',
  flexibleVersions: '4+',
  fields: [
    { name: 'Topics', type: '[]DeleteTopicState', versions: '6+', about: 'The name or topic ID of the topic.', fields: [
      { name: 'Name', type: 'string', versions: '6+', nullableVersions: '6+', default: null, about: 'The topic name.' },
      { name: 'TopicId', type: 'uuid', versions: '6+', about: 'The unique topic ID.' },
    ] },
    { name: 'TopicNames', type: '[]string', versions: '0-5', ignorable: true, about: 'The names of the topics to delete.' },
    { name: 'TimeoutMs', type: 'int32', versions: '0+', about: 'The length of time in milliseconds to wait for the deletions to complete.' },
  ],
})

export const DeleteTopicsResponse = message({
  name: 'DeleteTopicsResponse',
  // Version 1 adds the throttle time. Version 4 is the first flexible version. Version 5
  // adds ErrorMessage. Version 6 adds TopicId and allows a null name.
  validVersions: '0-6',
  flexibleVersions: '4+',
  fields: [
    { name: 'ThrottleTimeMs', type: 'int32', versions: '1+', ignorable: true, about: 'The duration in milliseconds for which the request was throttled due to a quota violation, or zero.' },
    { name: 'Responses', type: '[]DeletableTopicResult', versions: '0+', about: 'The results for each topic we tried to delete.', fields: [
      { name: 'Name', type: 'string', versions: '0+', nullableVersions: '6+', about: 'The topic name.' },
      { name: 'TopicId', type: 'uuid', versions: '6+', ignorable: true, about: 'The unique topic ID.' },
      { name: 'ErrorCode', type: 'int16', versions: '0+', about: 'The deletion error, or 0 if the deletion succeeded.' },
      { name: 'ErrorMessage', type: 'string', versions: '5+', nullableVersions: '5+', ignorable: true, default: null, about: 'The error message, or null if there was no error.' },
    ] },
  ],
})

export const DELETE_TOPICS = defineApi({
  key: 20,
  name: 'DeleteTopics',
  minVersion: 0,
  maxVersion: 3,
  request: DeleteTopicsRequest,
  response: DeleteTopicsResponse,
})
