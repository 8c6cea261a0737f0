/**
 * troupe's public face. Each layer has its own index; nothing else is public.
 */
export * from './errors.js'
export { toWireError, fromWireError, type WireError } from './codec/index.js'
export { isMainModule, currentPlace, type Kind, type ModuleRef, type PlaceInfo } from './process/index.js'
export { Process, currentProcess, activeChildren, type ProcessOptions } from './process/index.js'
