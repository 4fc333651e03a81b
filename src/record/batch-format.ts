/**
 * The record batch, byte for byte: Kafka's record batch v2 (magic 2), so that a Kafka
 * wire-protocol front end serves stored batches as they are and stores what clients
 * send as it is. All integers are big-endian. segments/FORMAT.md is the full
 * specification with a worked example.
 *
 * The checksum is CRC-32C (Castagnoli), as Kafka's, in segment format v2. Segments
 * written by spool before format v2 hold batches whose checksum is CRC-32 (IEEE) over
 * the same bytes: a reader takes a batch whose field matches CRC-32C as v2, and one
 * whose field matches CRC-32 as v1 (batch-decoder.ts, batchChecksumFormat).
 *
 *   offset  size  field
 *   0       8     baseOffset            int64   offset of the first record
 *   8       4     batchLength           int32   bytes after this field (total - 12)
 *   12      4     partitionLeaderEpoch  int32   the log incarnation that wrote it (see epochs.ts)
 *   16      1     magic                 int8    2
 *   17      4     crc                   uint32  CRC-32C of bytes [21, end) (v1: CRC-32)
 *   21      2     attributes            int16   bits 0-2 codec, bit 3 timestamp type (1: log append)
 *   23      4     lastOffsetDelta       int32   last offset - baseOffset
 *   27      8     baseTimestamp         int64   ms; timestamp of the first record
 *   35      8     maxTimestamp          int64   ms; largest record timestamp
 *   43      8     producerId            int64   -1 unless the producer is idempotent
 *   51      2     producerEpoch         int16   -1 unless the producer is idempotent
 *   53      4     baseSequence          int32   -1 unless the producer is idempotent
 *   57      4     recordCount           int32
 *   61      …     records, compressed as a whole by the codec the attributes name
 *
 * Each record (varints are zigzag):
 *   length varint (bytes after it) | attributes int8 (0) | timestampDelta varlong |
 *   offsetDelta varint | keyLength varint (-1 = null) | key | valueLength varint (-1 = null) |
 *   value | headerCount varint | per header: keyLength varint | key utf-8 |
 *   valueLength varint (-1 = null) | value
 */
export const BATCH_MAGIC = 2
export const BATCH_HEADER_BYTES = 61
/** Bytes before batchLength's count starts: baseOffset and batchLength themselves. */
export const BATCH_LOG_OVERHEAD_BYTES = 12
export const NO_PRODUCER_ID = -1
export const NO_PRODUCER_EPOCH = -1
export const NO_SEQUENCE = -1
/** Sequences are int32 and wrap to 0 past this, as in Kafka. */
export const MAX_SEQUENCE = 2 ** 31 - 1
/** Producer epochs are int16. */
export const MAX_PRODUCER_EPOCH = 2 ** 15 - 1

export const OFFSET_BASE_OFFSET = 0
export const OFFSET_BATCH_LENGTH = 8
export const OFFSET_LEADER_EPOCH = 12
export const OFFSET_MAGIC = 16
export const OFFSET_CRC = 17
export const OFFSET_ATTRIBUTES = 21
export const OFFSET_LAST_OFFSET_DELTA = 23
export const OFFSET_BASE_TIMESTAMP = 27
export const OFFSET_MAX_TIMESTAMP = 35
export const OFFSET_PRODUCER_ID = 43
export const OFFSET_PRODUCER_EPOCH = 51
export const OFFSET_BASE_SEQUENCE = 53
export const OFFSET_RECORD_COUNT = 57
/** The CRC covers everything from the attributes to the end of the batch. */
export const CRC_START = OFFSET_ATTRIBUTES

/** The compression codec lives in the low 3 bits of the attributes (compression/index.ts names them). */
export const ATTRIBUTES_COMPRESSION_MASK = 0x07
/** Set when the log stamped the batch with its append time (Kafka's LogAppendTime). */
export const ATTRIBUTES_LOG_APPEND_TIME = 0x08
/** Kafka's transactional and control-batch flags: spool has no transactions and writes neither. */
export const ATTRIBUTES_TRANSACTIONAL = 0x10
export const ATTRIBUTES_CONTROL = 0x20
/** Kafka's "no timestamp": a record may carry it; every other negative timestamp is refused. */
export const NO_TIMESTAMP = -1

/** Which checksum a batch carries: v1 segments CRC-32, v2 (Kafka's) CRC-32C. */
export type BatchFormat = 1 | 2
/** The format every batch spool writes now has. */
export const CURRENT_BATCH_FORMAT: BatchFormat = 2
