import { isSpoolError } from '../../errors.js'
import { KAFKA_ERRORS, kafkaErrorOf } from '../protocol/error-codes.js'
import type { Handler } from './handler.js'
import { duplicates } from './create-topics.js'

interface DeleteTopicsRequest {
  /** v0–5 name the topics; v6 (not served) names them in `topics` with ids. */
  topicNames: string[]
  timeoutMs: number
}

/**
 * DeleteTopics by name, each answered on its own. A topic that does not exist, or whose
 * name no topic could have, is UNKNOWN_TOPIC_OR_PARTITION, as from Kafka; a name given
 * twice is refused (INVALID_REQUEST) and not deleted. The delete is durable when answered
 * (timeoutMs ignored); consumer groups on the topic see its partitions go.
 */
export const handleDeleteTopics: Handler = async (request: DeleteTopicsRequest, { broker }) => {
  const duplicated = duplicates(request.topicNames)
  const responses: Array<{ name: string; errorCode: number }> = [...duplicated].map((name) => ({ name, errorCode: KAFKA_ERRORS.INVALID_REQUEST }))
  for (const name of request.topicNames) {
    if (duplicated.has(name)) continue
    try {
      await broker.deleteTopic(name)
      responses.push({ name, errorCode: KAFKA_ERRORS.NONE })
    } catch (error) {
      const unknown = isSpoolError(error, 'UNKNOWN_TOPIC') || isSpoolError(error, 'INVALID_TOPIC_NAME')
      if (!unknown) broker.logger.warn(`DeleteTopics of "${name}" failed: ${error instanceof Error ? error.message : String(error)}`)
      responses.push({ name, errorCode: unknown ? KAFKA_ERRORS.UNKNOWN_TOPIC_OR_PARTITION : kafkaErrorOf(error) })
    }
  }
  return { throttleTimeMs: 0, responses }
}
