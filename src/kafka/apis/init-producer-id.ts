/**
 * InitProducerId (key 22): a producer id and epoch for an idempotent producer.
 * Spool has no transactions: a non-null TransactionalId is refused by the handler.
 *
 * Transcribed from apache/kafka InitProducerIdRequest.json / InitProducerIdResponse.json.
 */
import { message } from '../protocol/schema.js'
import { defineApi } from './api.js'

export const InitProducerIdRequest = message({
  name: 'InitProducerIdRequest',
  // Version 1 is the same as version 0. Version 2 is the first flexible version. Version 3
  // adds ProducerId and ProducerEpoch (KIP-360). Version 4 may answer PRODUCER_FENCED.
  // Version 5 changes transaction semantics only (KIP-890).
  validVersions: '0-5',
  flexibleVersions: '2+',
  fields: [
    { name: 'TransactionalId', type: 'string', versions: '0+', nullableVersions: '0+', about: 'The transactional id, or null if the producer is not transactional.' },
    { name: 'TransactionTimeoutMs', type: 'int32', versions: '0+', about: 'The time in ms to wait before aborting idle transactions sent by this producer. This is only relevant if a TransactionalId has been defined.' },
    { name: 'ProducerId', type: 'int64', versions: '3+', default: -1, about: 'The producer id. This is used to disambiguate requests if a transactional id is reused following its expiration.' },
    { name: 'ProducerEpoch', type: 'int16', versions: '3+', default: -1, about: "The producer's current epoch. This will be checked against the producer epoch on the broker, and the request will return an error if they do not match." },
  ],
})

export const InitProducerIdResponse = message({
  name: 'InitProducerIdResponse',
  // Version 1 is the same as version 0. Version 2 is the first flexible version.
  validVersions: '0-5',
  flexibleVersions: '2+',
  fields: [
    { name: 'ThrottleTimeMs', type: 'int32', versions: '0+', ignorable: true, about: 'The duration in milliseconds for which the request was throttled due to a quota violation, or zero.' },
    { name: 'ErrorCode', type: 'int16', versions: '0+', about: 'The error code, or 0 if there was no error.' },
    { name: 'ProducerId', type: 'int64', versions: '0+', default: -1, about: 'The current producer id.' },
    { name: 'ProducerEpoch', type: 'int16', versions: '0+', about: 'The current epoch associated with the producer id.' },
  ],
})

export const INIT_PRODUCER_ID = defineApi({
  key: 22,
  name: 'InitProducerId',
  minVersion: 0,
  maxVersion: 1,
  request: InitProducerIdRequest,
  response: InitProducerIdResponse,
})
