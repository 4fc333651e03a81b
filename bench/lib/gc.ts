import v8 from 'node:v8'
import vm from 'node:vm'
import { measuredRunStarts } from './memory.js'

// `npm run bench` runs without --expose-gc; the flag set now exposes `gc` in a new context.
v8.setFlagsFromString('--expose-gc')
const gc = vm.runInNewContext('gc') as () => void

/**
 * A full, synchronous garbage collection before a timed section, so that it does not pay
 * for garbage left by setup or by the side that ran before it. The first one also marks
 * where a workload process's arrayBuffers peak starts (lib/memory.ts).
 */
export function collectGarbage(): void {
  gc()
  measuredRunStarts()
}
