import { KAFKA_ERRORS } from '../protocol/error-codes.js'
import type { Handler } from './handler.js'

/**
 * FindCoordinator, until consumer groups are served over the wire (the next issue): no
 * coordinator, with a message that says so. COORDINATOR_NOT_AVAILABLE is what a Kafka
 * client expects while a coordinator is not there; group consumers retry and report it,
 * while producers and group-less consumers never ask.
 */
export const handleFindCoordinator: Handler = async () => ({
  errorCode: KAFKA_ERRORS.COORDINATOR_NOT_AVAILABLE,
  errorMessage: 'spool does not serve consumer groups over the Kafka protocol yet; read with assign/seek, or consume with a group in the process that owns the data directory',
  nodeId: -1,
  host: '',
  port: -1,
})
