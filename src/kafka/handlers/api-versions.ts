import { APIS } from '../apis/index.js'
import { KAFKA_ERRORS } from '../protocol/error-codes.js'
import type { Handler } from './handler.js'

/** The first ApiVersions version that carries the client's software name and version (KIP-511). */
const CLIENT_SOFTWARE_VERSION = 3
/** Kafka's rule for those two strings (ApiVersionsRequest.isValid): what a metrics tag can hold. */
const SOFTWARE_NAME_OR_VERSION = /^[a-zA-Z0-9](?:[a-zA-Z0-9.-]*[a-zA-Z0-9])?$/

export interface ApiVersionRange {
  apiKey: number
  minVersion: number
  maxVersion: number
}

/** Every API of the codec table with the versions spool advertises, by key. */
export function servedApiVersions(): ApiVersionRange[] {
  return [...APIS.values()]
    .sort((a, b) => a.key - b.key)
    .map((api) => ({ apiKey: api.key, minVersion: api.advertisedMinVersion ?? api.minVersion, maxVersion: api.maxVersion }))
}

/**
 * ApiVersions: the APIs and versions served. A version spool does not serve never reaches
 * here (the dispatcher answers it in version 0 with UNSUPPORTED_VERSION and the same list).
 * From v3 the client names its software; a name Kafka would refuse gets INVALID_REQUEST,
 * as from Kafka. The v3 feature fields (supported and finalized features) stay empty:
 * spool has no feature flags, and clients read their absence as "none".
 */
export const handleApiVersions: Handler = async (request: { clientSoftwareName?: string; clientSoftwareVersion?: string }, context) => {
  if (context.apiVersion >= CLIENT_SOFTWARE_VERSION) {
    const { clientSoftwareName, clientSoftwareVersion } = request
    if (!SOFTWARE_NAME_OR_VERSION.test(clientSoftwareName ?? '') || !SOFTWARE_NAME_OR_VERSION.test(clientSoftwareVersion ?? '')) {
      return { errorCode: KAFKA_ERRORS.INVALID_REQUEST, apiKeys: [], throttleTimeMs: 0 }
    }
  }
  return { errorCode: KAFKA_ERRORS.NONE, apiKeys: servedApiVersions(), throttleTimeMs: 0 }
}
