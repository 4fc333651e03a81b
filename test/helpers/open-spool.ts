import { type Spool, type SpoolOptions, openSpool } from '../../src/client/spool.js'
import { silentLogger } from '../../src/storage/logger.js'

/** Opens a spool in `dir`, silent, with any options. */
export function openTestSpool(dir: string, options: SpoolOptions = {}): Promise<Spool> {
  return openSpool({ dir, logger: silentLogger, ...options })
}
