/**
 * What runs inside the child process that `BaseManager.start()` spawns: a
 * manager server with the parent's registrations, reporting its address back.
 */
import { load, type Boot, type ModuleRef } from '../process/index.js'
import { formatAddress } from '../net/index.js'
import { toWireError } from '../codec/index.js'
import { ObjectRegistry } from './registry.js'
import { ManagerServer, serveOptions, type ServeOptions } from './server.js'
import { builtinFactories, builtinSpecs } from './builtins.js'

/** One registration as it travels to the server process. */
export interface RemoteRegistration {
  typeid: string
  /** A built-in shared type's name, or */
  builtin?: string
  /** the module and export of the user's factory. */
  factory?: ModuleRef
  exposed?: string[]
  methodToTypeid?: Record<string, string>
  signatures?: Record<string, readonly string[]>
  createSignature?: readonly string[]
}

/** Boot data of the manager server process. */
export interface ManagerBootData extends ServeOptions {
  address: string
  authkey: string
  registrations: RemoteRegistration[]
}

/** The server process's runtime function (started through Endpoint). */
export async function runManagerServer(boot: Boot): Promise<void> {
  const data = boot.data as ManagerBootData
  try {
    const registry = new ObjectRegistry()
    for (const r of data.registrations) {
      const factory = r.builtin ? builtinFactories[r.builtin] : r.factory ? await load<(...a: any[]) => unknown>(r.factory) : undefined
      const builtin = r.builtin ? builtinSpecs[r.builtin] : undefined
      registry.register(r.typeid, {
        ...builtin, factory, exposed: r.exposed ?? builtin?.exposed, methodToTypeid: r.methodToTypeid ?? builtin?.methodToTypeid,
        signatures: r.signatures ?? builtin?.signatures, createSignature: r.createSignature ?? builtin?.createSignature,
      })
    }
    const server = await ManagerServer.listen(data.address, {
      ...serveOptions(data), authkey: Buffer.from(data.authkey, 'hex'), registry, onShutdown: () => process.exit(0),
    })
    boot.link.send({ t: 'ready', address: formatAddress(server.address) })
  } catch (err) {
    boot.link.send({ t: 'error', error: toWireError(err, `manager server (pid ${process.pid})`) })
    process.exitCode = 1
    boot.link.unref()
  }
}
