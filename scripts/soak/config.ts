/** The soak's shape: one topic, three groups of three, a steady trickle of sends. */
export const TOPIC = 'soak'
export const PARTITIONS = 6
export const GROUPS = ['billing', 'email', 'analytics'] as const
export const MEMBERS = 3
/** Sends every SEND_INTERVAL_MS: about 2,500 records a second. */
export const SEND_BURST = 25
export const SEND_INTERVAL_MS = 10
/** Each life of the worker runs this long (a random part of it) before its SIGKILL. */
export const MIN_LIFE_MS = 1_000
export const MAX_LIFE_MS = 8_000
