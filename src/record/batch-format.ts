/**
 * The record batch, byte for byte. It is Kafka's record batch v2 (magic 2), so that a
 * Kafka wire-protocol front end can serve stored batches with only the CRC swapped
 * (Kafka's field holds CRC-32C; ours holds CRC-32, computed with the `crc-32` package,
 * over the same bytes). All integers are big-endian. segments/FORMAT.md is the full
 * specification with a worked example.
 *
 *   offset  size  field
 *   0       8     baseOffset            int64   offset of the first record
 *   8       4     batchLength           int32   bytes after this field (total - 12)
 *   12      4     partitionLeaderEpoch  int32   the log incarnation that wrote it (see epochs.ts)
 *   16      1     magic                 int8    2
 *   17      4     crc                   uint32  CRC-32 of bytes [21, end)
 *   21      2     attributes            int16   0: no compression, create time, not transactional
 *   23      4     lastOffsetDelta       int32   last offset - baseOffset
 *   27      8     baseTimestamp         int64   ms; timestamp of the first record
 *   35      8     maxTimestamp          int64   ms; largest record timestamp
 *   43      8     producerId            int64   -1
 *   51      2     producerEpoch         int16   -1
 *   53      4     baseSequence          int32   -1
 *   57      4     recordCount           int32
 *   61      …     records
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

/** The compression codec lives in the low 3 bits of the attributes; spool writes none. */
export const ATTRIBUTES_COMPRESSION_MASK = 0x07
