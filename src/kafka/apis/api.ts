import { inRange, type MessageSchema } from '../protocol/schema.js'

/** One Kafka API as spool serves it: its key, the versions served, and its two messages. */
export interface ApiDefinition {
  readonly key: number
  /** Kafka's name: 'Produce'. */
  readonly name: string
  /** The versions spool serves (advertised in ApiVersions), inclusive. */
  readonly minVersion: number
  readonly maxVersion: number
  /**
   * Where ApiVersions says the range starts, when that is below minVersion: versions
   * advertised for clients that look for them, and refused when used (see PRODUCE).
   */
  readonly advertisedMinVersion?: number
  /** From Kafka's flexibleVersions: "9+" → 9, "none" → Infinity. Request header v2 and response header v1 from here on. */
  readonly firstFlexibleVersion: number
  readonly request: MessageSchema
  readonly response: MessageSchema
}

/** Builds an API's definition, checking that its messages describe every served version. */
export function defineApi(api: Omit<ApiDefinition, 'firstFlexibleVersion'>): ApiDefinition {
  const { request, response, minVersion, maxVersion } = api
  for (const schema of [request, response]) {
    if (!inRange(schema.validVersions, minVersion) || !inRange(schema.validVersions, maxVersion)) {
      throw new Error(`${schema.name} does not describe the served versions ${minVersion}-${maxVersion}`)
    }
  }
  if (request.flexibleVersions.min !== response.flexibleVersions.min) {
    throw new Error(`${api.name}: request and response disagree on the first flexible version`)
  }
  return { ...api, firstFlexibleVersion: request.flexibleVersions.min }
}
