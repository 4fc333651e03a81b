/**
 * A minimal Kafka client on spool's own codec, for the CLI when a listener holds the data
 * directory: connection.ts (frames, correlation ids), kafka-client.ts (ApiVersions first,
 * then Metadata, Produce, Fetch, ListOffsets, CreateTopics, DeleteTopics),
 * remote-producer.ts (Producer.send() through it), remote-reader.ts (spool.read() through
 * it), fetched-records.ts (a Fetch answer's batches as records).
 */
export { type Address, hostPort, parseAddress } from './address.js'
export { ClientConnection, connectionError } from './connection.js'
export { EARLIEST_TIMESTAMP, KafkaClient, type KafkaClientOptions, LATEST_TIMESTAMP, type TopicConfigEntry } from './kafka-client.js'
export { RemoteProducer, type RemoteProducerOptions } from './remote-producer.js'
export { type RemoteReadOptions, readRemote } from './remote-reader.js'
export { decodeFetchedRecords } from './fetched-records.js'
