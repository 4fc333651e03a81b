/**
 * Every limit and default of the engine, in one place. Units are the last word of each
 * name. The relations between them are checked at the bottom of this file.
 */

import { BATCH_HEADER_BYTES } from './record/batch-format.js'

/** Kafka's default; small enough that a sparse index lookup scans at most a few KiB. */
export const DEFAULT_INDEX_INTERVAL_BYTES = 4096

/** Kafka's default segment size. Positions are stored as int32, so a segment stays below 2 GiB. */
export const DEFAULT_SEGMENT_BYTES = 1024 * 1024 * 1024
export const MAX_SEGMENT_BYTES = 2 ** 31 - 1
/** Kafka's default: roll a segment a week after its first record even if it is not full. */
export const DEFAULT_SEGMENT_MS = 7 * 24 * 60 * 60 * 1000

/**
 * The largest encoded batch accepted. One batch is one write and lives in memory whole
 * while it is written and read, so it is bounded.
 */
export const DEFAULT_MAX_BATCH_BYTES = 16 * 1024 * 1024
/**
 * The most a record's framing adds to its key, value and headers inside a batch: its
 * length, attributes, timestamp and offset deltas, key and value lengths and header count
 * (varints: 5 + 1 + 10 + 5 + 5 + 5 + 5), and per header its two lengths (5 + 5).
 */
export const RECORD_FRAMING_MAX_BYTES = 36
export const HEADER_FRAMING_MAX_BYTES = 10
/**
 * The largest record (key + value + headers) a topic may allow: one such record, framed,
 * still fits in a batch the log accepts. Every size limit derives from the batch limit,
 * so a topic can never accept a record its log would refuse.
 */
export const MAX_RECORD_BYTES = DEFAULT_MAX_BATCH_BYTES - BATCH_HEADER_BYTES - RECORD_FRAMING_MAX_BYTES
/** A batch header carries an int32 record count and int32 offset deltas. */
export const MAX_RECORDS_PER_BATCH = 2 ** 31 - 1

/**
 * A read of the active segment no larger than this is done on the calling thread. That
 * tail was just written and sits in the page cache, so the read costs microseconds; the
 * thread-pool round trip it replaces cost 1–2 ms at the 99th percentile under load, and
 * dominated push latency. Larger reads (catching up) stay asynchronous.
 */
export const SYNC_TAIL_READ_MAX_BYTES = 64 * 1024

/**
 * Checksums of at least this many bytes go to the SIMD CRC-32 and CRC-32C (the optional
 * @node-rs/crc32); shorter ones stay with zlib's CRC-32 or the `crc-32` package's
 * CRC-32C, whose call costs less than the N-API crossing (measured crossover between 128
 * and 256 bytes for CRC-32; CRC-32C: 0.87 against 0.6 GB/s at 100 bytes, 1.05 against
 * 2.3 GB/s at 1,000).
 */
export const SIMD_CRC32_MIN_BYTES = 512

/**
 * A compressed batch may decompress to at most this many bytes; past it the batch is
 * refused as corrupt, so that a crafted batch cannot make a reader allocate without
 * bound. Eight times the largest batch spool writes uncompressed: room for any batch a
 * producer compressed from a batch it could have sent plain.
 */
export const MAX_DECOMPRESSED_BATCH_BYTES = 8 * DEFAULT_MAX_BATCH_BYTES

/** Reads return at least one whole batch, then stop near this many bytes. */
export const DEFAULT_READ_MAX_BYTES = 1024 * 1024

/**
 * How far the recovery point may trail the written end. Recovery after a crash scans at
 * most about this much log, whatever the log's size (contract 4).
 */
export const RECOVERY_CHECKPOINT_BYTES = 64 * 1024 * 1024
export const RECOVERY_CHECKPOINT_MS = 5_000

/** Size of the chunks read while scanning a log during recovery or an index rebuild. */
export const SCAN_CHUNK_BYTES = 1024 * 1024

/** Relative offsets in the index are uint32; a segment never spans more offsets than this. */
export const MAX_SEGMENT_OFFSET_SPAN = 2 ** 31 - 1

// Compaction (src/storage/cleaner*.ts)

/**
 * Kafka's min.cleanable.dirty.ratio: a partition is compacted once the sealed bytes
 * written since its last clean are at least this share of all its sealed bytes. A clean
 * reads the whole sealed log, so at 0.5 it reads at most about twice the bytes that
 * became dirty since the last one, and a partition that did not change reads nothing.
 */
export const DEFAULT_MIN_CLEANABLE_DIRTY_RATIO = 0.5
/**
 * Memory of a clean's key map (Kafka's log.cleaner.dedupe.buffer.size is 128 MiB for all
 * its cleaner threads; spool cleans one partition at a time). At 24 bytes a key, about
 * 2.5 million distinct keys fit in one pass; a dirty range with more is cleaned in passes.
 */
export const COMPACTION_KEY_MAP_BYTES = 64 * 1024 * 1024

/**
 * Sealed segments whose `.log` stays open at once, in the whole process (contract 8: file
 * descriptors are bounded). Past it, the least recently used idle one is closed and its
 * indexes dropped; its next read reopens it and reloads them (two small files). A process
 * budget, not one per partition, because the limit it protects is the process's: Linux's
 * default soft limit is 1,024 descriptors, and this leaves three quarters of it to each
 * partition's active segment, LevelDB, sockets and the application. A reader holds one
 * sealed segment at a time, so 256 partitions can replay old data at once without any
 * reopening.
 */
export const MAX_OPEN_SEALED_SEGMENTS = 256

/**
 * Partitions a spool opens or closes at once. Each open is a handful of small reads through
 * libuv's 4-thread pool; one at a time left three threads idle (a 1,000-partition
 * directory took over a second to open). More than a few per thread only queues.
 */
export const PARTITION_OPEN_CONCURRENCY = 16

// Consumer groups (src/groups/)

/**
 * Kafka's defaults and bounds for a member's session (session.timeout.ms, and the
 * broker's group.min/max.session.timeout.ms, with a lower floor because an embedded
 * member heartbeats in-process): a member not heard from for its session timeout is
 * evicted and its partitions move. Shorter evicts members that pause for a GC; longer
 * leaves a dead member's partitions idle.
 */
export const DEFAULT_SESSION_TIMEOUT_MS = 45_000
export const MIN_SESSION_TIMEOUT_MS = 100
export const MAX_SESSION_TIMEOUT_MS = 30 * 60 * 1000
/** Kafka's heartbeat.interval.ms: well under a third of the session, so two lost heartbeats do not evict. */
export const DEFAULT_HEARTBEAT_INTERVAL_MS = 3_000

/** Group names are LevelDB key parts; bounded like topic names so keys stay small. */
export const MAX_GROUP_NAME_CHARS = 249
/**
 * Members per group. Every rebalance costs members × partitions in the assignor, and a
 * group far larger than its partition count only holds idle members.
 */
export const MAX_GROUP_MEMBERS = 10_000
/** Kafka's offset.metadata.max.bytes: the string a commit may carry beside its offset. */
export const MAX_COMMIT_METADATA_BYTES = 4096

// Consumers (src/client/consumer.ts)

/**
 * A consumer's prefetch: the records it reads ahead of its handler (contract 8). Kafka
 * hands out 500 records a poll; NATS JetStream's max_ack_pending is 1,000. A little more
 * keeps a fast handler fed between reads, and bounds a stalled one to a few MiB.
 */
export const DEFAULT_MAX_PREFETCH_RECORDS = 5_000
export const DEFAULT_MAX_PREFETCH_BYTES = 4 * 1024 * 1024
/**
 * Kafka's max.poll.interval.ms: a handler that has not returned for this long is taken
 * for stuck, and its member leaves the group so that its partitions move on.
 */
export const DEFAULT_MAX_POLL_INTERVAL_MS = 5 * 60 * 1000
/**
 * With autoCommit, a processed batch is committed within this long, together with every
 * batch processed meanwhile. Each commit is a synced LevelDB write; one per delivered
 * batch cost push latency ~200 µs at the 99th percentile (W3), while this bounds what a
 * crash redelivers to a few milliseconds of work.
 */
export const AUTO_COMMIT_LINGER_MS = 50

/** How long poll() waits for a first record when not told. */
export const DEFAULT_POLL_TIMEOUT_MS = 1_000
/** Records one poll() returns when not told (Kafka's max.poll.records). */
export const DEFAULT_POLL_MAX_RECORDS = 500
/**
 * While its group is mid-rebalance a member asks again this soon, in case a wake-up from
 * another member was missed; normally the coordinator's news arrives at once, in-process.
 */
export const REBALANCE_RETRY_MS = 100
/** close() waits this long for a running handler; past it, the handler's records are left uncommitted. */
export const CONSUMER_CLOSE_TIMEOUT_MS = 30_000
/** How often the coordinator looks for members whose session ran out. */
export const COORDINATOR_TICK_MS = 1_000
/**
 * Records read ahead that use less than this fraction of the read buffers they view are
 * copied out into a buffer of their size, so the rest can be freed (contract 8: one kept
 * record would keep its whole read, up to DEFAULT_READ_MAX_BYTES, alive). Above it they
 * stay views, counted at what they keep alive: at most 1 / this of their own bytes.
 */
export const PREFETCH_COPY_BELOW_FRACTION = 0.5
/**
 * Records read ahead that keep less than this alive are never copied out, whatever the
 * fraction: a read of the just-written tail is a few KiB, often a slice of Node's shared
 * 8 KiB buffer pool, and copying its records out each time was a tenth of what push
 * delivery allocated (and a copy per delivered batch) to save a few KiB.
 */
export const PREFETCH_COPY_MIN_RETAINED_BYTES = 64 * 1024

function check(condition: boolean, relation: string): void {
  if (!condition) throw new Error(`spool limits are inconsistent: ${relation}`)
}

check(DEFAULT_SEGMENT_BYTES <= MAX_SEGMENT_BYTES, 'default segment size fits int32 positions')
check(DEFAULT_MAX_BATCH_BYTES <= DEFAULT_SEGMENT_BYTES, 'a batch fits in a default segment')
check(MAX_RECORD_BYTES > 0 && MAX_RECORD_BYTES + BATCH_HEADER_BYTES + RECORD_FRAMING_MAX_BYTES <= DEFAULT_MAX_BATCH_BYTES, 'the largest record fits, framed, in the largest batch')
check(DEFAULT_INDEX_INTERVAL_BYTES < DEFAULT_SEGMENT_BYTES, 'a segment holds several index entries')
check(SCAN_CHUNK_BYTES >= 61, 'a scan chunk holds at least a batch header')
check(MIN_SESSION_TIMEOUT_MS <= DEFAULT_SESSION_TIMEOUT_MS && DEFAULT_SESSION_TIMEOUT_MS <= MAX_SESSION_TIMEOUT_MS, 'the default session timeout is within its bounds')
check(DEFAULT_HEARTBEAT_INTERVAL_MS * 3 <= DEFAULT_SESSION_TIMEOUT_MS, 'a session outlasts three heartbeat intervals')
check(COORDINATOR_TICK_MS <= MIN_SESSION_TIMEOUT_MS * 10, 'an expired session is noticed within a few timeouts')

// ---------------------------------------------------------------------------------------
// Following a log another process writes (read-only readers: log-follower.ts).

/**
 * A read-only reader that follows the end of a partition is woken by a watch on the
 * partition directory (inotify on Linux: within about a millisecond of the writer's
 * publish); it also looks at the published end this often, in case the watch is missing
 * or silent (network file systems, a failed watch). The bound on how late a record is
 * seen when no event comes.
 */
export const FOLLOW_POLL_MS = 200
/** Reads of the published end that may find it mid-write (bad CRC) before a refresh gives up until the next wake. */
export const FOLLOW_PUBLISHED_END_READS = 3
/**
 * A writer publishes its visible end for readers in other processes (published-end.ts)
 * after each group of appends, but at most once per this many milliseconds while groups
 * follow each other closely (then once more when its queue drains): a pwrite costs about
 * as much as a small append under flush 'never'.
 */
export const PUBLISH_MIN_INTERVAL_MS = 1

// ---------------------------------------------------------------------------------------
// The Kafka listener (src/kafka/server/).

/**
 * Kafka's socket.request.max.bytes: a request frame larger than this closes its
 * connection before any of it is buffered past the size prefix. It bounds what one
 * request can make the listener hold (a Produce carries whole batches).
 */
export const MAX_KAFKA_REQUEST_BYTES = 100 * 1024 * 1024
/**
 * Requests of one connection dispatched and not yet answered. Clients pipeline (librdkafka
 * allows up to a million in flight, the Java client 5 per connection); past this the
 * listener stops reading the socket, and TCP holds the client back, until a response
 * goes out. Kafka's own broker handles one request per connection at a time; a few dozen
 * keep a pipelining client's queue full without letting one connection hold unbounded work.
 */
export const MAX_KAFKA_IN_FLIGHT_REQUESTS = 64
/**
 * Response bytes one connection may hold before the client reads them: answers waiting
 * behind an earlier, slower one (responses go out in request order) plus what the socket
 * has not yet sent. Past it the listener stops reading new requests until they drain.
 * Room for one default-sized Fetch of the Java client (fetch.max.bytes, 50 MiB) and more.
 */
export const MAX_KAFKA_BUFFERED_RESPONSE_BYTES = 64 * 1024 * 1024
/**
 * Client connections one listener serves at once; past it a new one is closed at once.
 * Each holds a file descriptor and up to the buffers above, and the process's descriptors
 * are shared with segments (MAX_OPEN_SEALED_SEGMENTS) and LevelDB under Linux's default
 * soft limit of 1,024.
 */
export const DEFAULT_KAFKA_MAX_CONNECTIONS = 256
/**
 * Kafka's connections.max.idle.ms: a connection with nothing in flight that sends nothing
 * for this long is closed, so that clients that vanished without a FIN do not hold
 * connection slots forever.
 */
export const KAFKA_CONNECTION_MAX_IDLE_MS = 10 * 60 * 1000
/**
 * How long close() lets the listener's connections finish what is in flight and flush it
 * to clients that read slowly; past it their sockets are destroyed (the handlers still
 * finish before close() resolves, so the data directory closes under no request).
 */
export const KAFKA_LISTENER_CLOSE_TIMEOUT_MS = 30_000

/**
 * The most a Fetch response carries, whatever the client asks (Kafka's broker-side
 * fetch.max.bytes, 55 MiB): a client cannot make the listener read and hold a whole
 * segment. A batch larger than what is left is still sent whole when it comes first (KIP-74).
 */
export const MAX_KAFKA_FETCH_RESPONSE_BYTES = 55 * 1024 * 1024

check(MAX_KAFKA_REQUEST_BYTES >= DEFAULT_MAX_BATCH_BYTES, 'a request can carry the largest batch')
check(MAX_KAFKA_IN_FLIGHT_REQUESTS >= 1, 'a connection can have a request in flight')

/**
 * The longest delay a Node timer keeps (about 24.8 days): a longer one fires after 1 ms, so
 * an interval option above it would turn "rarely" into "constantly".
 */
export const MAX_TIMER_MS = 2 ** 31 - 1
