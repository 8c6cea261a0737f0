/**
 * `troupe/internal`: what troupe's own servers, dialects and tests use, for
 * code that extends troupe at that level (a new wire dialect, a served type
 * that needs its caller). No stability promise: these change with troupe's
 * internals.
 */
export { toWireError, fromWireError, registerPortable, portable, marshal, unmarshal, type WireError, type Portable } from './codec/index.js'
export { pendingAsks } from './actor/index.js'
export {
  ManagerServer, ObjectRegistry, callContext, registerDialect,
  type DialectSession, type ManagerChannel, type ServerOptions, type ServeOptions, type CallContext, type TypeSpec,
} from './manager/index.js'
