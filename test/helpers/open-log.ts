import { PartitionLog, type PartitionLogOptions } from '../../src/storage/partition-log.js'
import { silentLogger } from '../../src/storage/logger.js'

/** Opens a log with test-friendly defaults: silent, flush 'always'. */
export function openLog(dir: string, options: PartitionLogOptions = {}): Promise<PartitionLog> {
  return PartitionLog.open(dir, { logger: silentLogger, ...options })
}
