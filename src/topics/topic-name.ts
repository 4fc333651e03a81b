import { SpoolError } from '../errors.js'

/** Kafka's rule: ASCII letters, digits, '.', '_' and '-', at most 249 characters. */
export const MAX_TOPIC_NAME_CHARS = 249
const LEGAL_TOPIC_NAME = /^[a-zA-Z0-9._-]+$/

export function checkTopicName(name: unknown): string {
  if (typeof name !== 'string' || name.length === 0) {
    throw new SpoolError('INVALID_TOPIC_NAME', 'a topic name must be a non-empty string', { details: { topic: name } })
  }
  if (name.length > MAX_TOPIC_NAME_CHARS) {
    throw new SpoolError('INVALID_TOPIC_NAME', `topic name "${name.slice(0, 40)}…" is longer than ${MAX_TOPIC_NAME_CHARS} characters`, {
      details: { topic: name },
    })
  }
  if (!LEGAL_TOPIC_NAME.test(name) || name === '.' || name === '..') {
    throw new SpoolError('INVALID_TOPIC_NAME', `topic name "${name}" may hold only letters, digits, '.', '_' and '-'`, {
      details: { topic: name },
    })
  }
  return name
}
