// TypeScript compiled to CommonJS that imports spool's ES module names directly: the
// emitted require('spool') could not give them, so this must fail to type-check
// (TS2305: Module '"spool"' has no exported member 'openSpool').
import { openSpool } from 'spool'

export const opened = openSpool({ dir: 'spool-data' })
