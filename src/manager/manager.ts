import { formatAddress, parseAddress, authkeyBytes, type Address, type AddressLike } from '../net/index.js'
import { Endpoint, locate } from '../process/index.js'
import { fromWireError, portable, registerPortable, type Portable, type WireError } from '../codec/index.js'
import { ConnectionClosedError, TimeoutError, UnlocatableFunctionError, UnsendableValueError } from '../errors.js'
import { ObjectRegistry, type TypeSpec } from './registry.js'
import type { Signature } from './arguments.js'
import { ManagerServer, serveOptions, type ServeOptions } from './server.js'
import { ManagerClient } from './client.js'
import type { Proxied } from './proxy.js'
import { builtinFactories, registerBuiltins } from './builtins.js'
import { defaultAuthkey } from './authkey.js'
import { runManagerServer, type ManagerBootData, type RemoteRegistration } from './runtime.js'
import type { Queue, JoinableQueue } from './shared/queue.js'
import type { Lock, RLock, Semaphore, BoundedSemaphore, Event, Condition, Barrier } from './shared/sync.js'
import type { Dict, List, Namespace, Value, SharedArray } from './shared/containers.js'
import { armWait, optionsError } from '../timers.js'

/** Locate a factory for `start()`, saying which typeid it serves and the way out (a closure is Python's lambda: it cannot reach the server process). */
async function locateFactory(typeid: string, factory: (...args: any[]) => unknown): Promise<Awaited<ReturnType<typeof locate>>> {
  try {
    return await locate(factory)
  } catch (err) {
    if (!(err instanceof UnlocatableFunctionError)) throw err
    throw new UnlocatableFunctionError(
      `start(): the factory registered as '${typeid}' cannot reach the server process, which imports it by module and export name ` +
      `(${err.message}). Export it from its module, or call serve() instead of start() to serve closures from this process`, { cause: err })
  }
}

/** Options of a manager (both the serving and the connecting side; ServeOptions hold the connection settings both use). */
export interface ManagerOptions extends ServeOptions {
  /** Where to listen or connect: `'127.0.0.1:50000'`, `'[::1]:0'`, `'/tmp/m.sock'`. Default `'127.0.0.1:0'` (an ephemeral port). */
  address?: AddressLike
  /** Shared secret, string or bytes. Default: this process's key (`TROUPE_AUTHKEY`, random per process and inherited by children). */
  authkey?: string | Uint8Array
  /** Wire dialect of `connect()`: 'troupe' (default) or 'python' (a CPython BaseManager server). */
  dialect?: 'troupe' | 'python'
  /** Where the server logs refused connections and bad frames (default stderr; false to silence). */
  log?: ((line: string) => void) | false
  /**
   * Client: poll for each reply for up to 0.2 ms instead of sleeping in epoll, while measured waits
   * show it pays (default true). Server (`serve()`/`start()`): poll for each connection's next
   * request the same way (default true). See docs/manager.md "Latency".
   */
  poll?: boolean
}

/** Options of `register`. */
export interface RegisterOptions {
  /** Method names clients may call (default: the object's public methods). */
  exposed?: string[]
  /** Methods whose return value is served as a new object of that typeid and returned as a proxy. */
  methodToTypeid?: Record<string, string>
  /** What each method accepts, checked on the server before the call (kinds in arguments.ts: `['count', 'opts?']`). */
  signatures?: Record<string, Signature>
  /** What the factory accepts, checked before `create` calls it. */
  createSignature?: Signature
}

/** A type-only marker for `register(typeid, typed<T>())` on the connecting side, where there is no factory. */
export interface TypeHint<T> { readonly __type?: T; readonly __hint: true }

/** Declare the type a typeid serves, for a client that registers it without a factory. */
export function typed<T>(): TypeHint<T> {
  return { __hint: true } as TypeHint<T>
}

// A class is a factory too (Python's `register('Counter', Counter)`): the server constructs it.
type Factory = ((...args: any[]) => unknown) | (new (...args: any[]) => unknown)
/** The method `register(typeid, factory)` adds to the manager. */
export type Creator<F> = F extends TypeHint<infer T> ? (...args: any[]) => Promise<Proxied<T>>
  : F extends new (...args: infer A) => infer R ? (...args: A) => Promise<Proxied<R>>
  : F extends (...args: infer A) => infer R ? (...args: A) => Promise<Proxied<Awaited<R>>>
  : (...args: any[]) => Promise<Proxied<any>>

const RESERVED = new Set(['register', 'serve', 'start', 'connect', 'shutdown', 'create', 'address', 'authkey', 'numberOfObjects', 'constructor', 'then'])

/**
 * Serves shared objects to other processes and hosts, or connects to a
 * manager that does (Python's `BaseManager`). Register typeids, then either
 * `serve()` in this process, `start()` a server process, or `connect()`.
 */
export class BaseManager implements Portable {
  protected readonly registry = new ObjectRegistry()
  protected readonly specs = new Map<string, TypeSpec>()
  private readonly opts: ManagerOptions
  private readonly key: Buffer
  private bound: Address
  private server: ManagerServer | undefined
  private endpoint: Endpoint | undefined
  private client: ManagerClient | undefined
  // A manager revived in another place uses that place's shared connection (its proxies use it too): shutdown leaves it open.
  private sharedClient = false

  constructor(opts: ManagerOptions = {}) {
    const bad = optionsError(`new ${new.target.name}()`, opts, '{ address?, authkey?, ... }', 1, `Python's BaseManager(address, authkey) is new BaseManager({ address, authkey })`)
    if (bad) throw bad
    this.opts = opts
    this.key = opts.authkey === undefined ? defaultAuthkey() : authkeyBytes(opts.authkey)
    this.bound = parseAddress(opts.address ?? '127.0.0.1:0')
  }

  /**
   * Register a typeid. With a factory, the server creates objects with it;
   * without one (or with `typed<T>()`), the client only declares the name.
   * Adds a method named `typeid` that creates an object and returns its proxy.
   */
  register<K extends string, F extends Factory | TypeHint<any> | undefined = undefined>(
    typeid: K, factory?: F, opts: RegisterOptions = {},
  ): this & { [P in K]: Creator<F> } {
    if (RESERVED.has(typeid) || typeid in BaseManager.prototype) throw new TypeError(`typeid '${typeid}' clashes with a manager method; choose another name`)
    const fn = typeof factory === 'function' ? factory as (...args: any[]) => unknown : undefined
    const spec: TypeSpec = { factory: fn, exposed: opts.exposed, methodToTypeid: opts.methodToTypeid, signatures: opts.signatures, createSignature: opts.createSignature }
    this.specs.set(typeid, spec)
    this.registry.register(typeid, spec)
    if (!(typeid in this)) {
      Object.defineProperty(this, typeid, { value: (...args: unknown[]) => this.create(typeid, ...args), configurable: true })
    }
    return this as this & { [P in K]: Creator<F> }
  }

  /** The address as users write it (`127.0.0.1:50123` once bound to port 0). */
  get address(): string {
    return formatAddress(this.bound)
  }

  /** The authkey as bytes. */
  get authkey(): Buffer {
    return this.key
  }

  /**
   * The pid of the process that serves: the server process of `start()`, this
   * process after `serve()`; undefined for a manager that only connected.
   */
  get pid(): number | undefined {
    return this.endpoint?.pid ?? (this.server ? process.pid : undefined)
  }

  /**
   * A manager passed to a Process (or put in a message) arrives there
   * connected to the same server, as Python's does (`BaseManager.__reduce__`
   * is `from_address`). Its key travels with it, as a proxy's does.
   */
  [portable](): { type: string; data: unknown } {
    if (!this.server && !this.endpoint && !this.client) {
      throw new UnsendableValueError('a manager that is not serving, started or connected cannot be sent: call serve(), start() or connect() first')
    }
    return {
      type: MANAGER_PORTABLE,
      data: {
        address: this.address, authkey: this.key.toString('hex'), dialect: this.opts.dialect ?? 'troupe', serverId: this.server?.id ?? this.client?.serverId,
        typeids: [...this.specs.keys()], sync: this instanceof Manager, maxFrameSize: this.opts.maxFrameSize, handshakeTimeout: this.opts.handshakeTimeout,
        // The place reviving it imports this module first, so the reviver exists there.
        module: import.meta.url,
      },
    }
  }

  /** @internal The manager a `[portable]` record describes, on this place's shared connection to its server. */
  static revive(data: unknown): BaseManager {
    const d = data as ManagerPortable
    const opts: ManagerOptions = { address: d.address, authkey: Buffer.from(d.authkey, 'hex'), dialect: d.dialect as ManagerOptions['dialect'], maxFrameSize: d.maxFrameSize, handshakeTimeout: d.handshakeTimeout }
    const m = d.sync ? new Manager(opts) : new BaseManager(opts)
    for (const typeid of d.typeids) if (!(typeid in m)) m.register(typeid)
    m.client = ManagerClient.shared({ address: parseAddress(d.address), authkey: opts.authkey!, dialect: d.dialect, serverId: d.serverId, maxFrameSize: d.maxFrameSize, handshakeTimeout: d.handshakeTimeout })
    m.sharedClient = true
    return m
  }

  /** Serve the registered typeids from this process (Python's `get_server().serve_forever()`, without blocking). */
  async serve(): Promise<this> {
    if (this.server || this.endpoint) throw new Error('this manager is already serving')
    this.server = await ManagerServer.listen(this.bound, {
      ...serveOptions(this.opts), authkey: this.key, registry: this.registry, log: this.opts.log,
      onShutdown: () => { this.server = undefined },
    })
    this.bound = this.server.address
    return this
  }

  /**
   * Start the server in a child process, as Python's `start()` does, and connect
   * to it. Factories must be exported functions (so the child can import them).
   */
  async start(opts: { timeout?: number } = {}): Promise<this> {
    if (this.server || this.endpoint) throw new Error('this manager is already serving')
    const registrations: RemoteRegistration[] = []
    for (const [typeid, spec] of this.specs) {
      const builtin = Object.entries(builtinFactories).find(([, f]) => f === spec.factory)?.[0]
      registrations.push({
        typeid, builtin, factory: !builtin && spec.factory ? await locateFactory(typeid, spec.factory) : undefined,
        exposed: spec.exposed ? [...spec.exposed] : undefined, methodToTypeid: spec.methodToTypeid ? { ...spec.methodToTypeid } : undefined,
        signatures: spec.signatures ? { ...spec.signatures } : undefined, createSignature: spec.createSignature,
      })
    }
    const data: ManagerBootData = {
      ...serveOptions(this.opts), address: formatAddress(this.bound), authkey: this.key.toString('hex'), registrations,
    }
    const ep = new Endpoint({ kind: 'process', runtime: await locate(runManagerServer), data, name: 'SyncManager' })
    this.endpoint = ep
    const timeout = opts.timeout ?? 30_000
    const address = await new Promise<string>((resolve, reject) => {
      const disarm = armWait({ timeout }, () => reject(new TimeoutError(`manager server process did not start within ${timeout} ms`)), () => {})
      ep.onMessage((m: { t: string; address?: string; error?: WireError }) => {
        if (m.t === 'ready') { disarm(); resolve(m.address!) }
        else if (m.t === 'error' || m.t === 'boot-error') { disarm(); reject(fromWireError(m.error!)) }
      })
      void ep.exited.then((x) => { disarm(); reject(new ConnectionClosedError(`manager server process exited (code ${x.exitCode}) before it was ready`)) })
    }).catch(async (err) => { await ep.kill(); this.endpoint = undefined; throw err })
    // The server process lives as long as this one unless shut down; it must not keep this one alive by itself.
    ep.unref()
    this.bound = parseAddress(address)
    return this.connect()
  }

  /** Connect to the manager at `address` (Python's `connect()`). */
  async connect(): Promise<this> {
    if (this.server && this.bound.kind === 'tcp' && this.bound.port === 0) throw new Error('serve() first')
    this.client?.close()
    this.client = await ManagerClient.open({
      address: this.bound, authkey: this.key, dialect: this.opts.dialect,
      maxFrameSize: this.opts.maxFrameSize, handshakeTimeout: this.opts.handshakeTimeout,
      maxFrameValues: this.opts.maxFrameValues, maxDepth: this.opts.maxDepth, poll: this.opts.poll,
    })
    return this
  }

  /** The connected server's random id (troupe servers): a server restarted at the same address has a new one. */
  get serverId(): string | undefined {
    return this.client?.serverId
  }

  /** Create an object of `typeid` on the server and return its typed proxy. */
  async create<T = any>(typeid: string, ...args: unknown[]): Promise<Proxied<T>> {
    if (!this.client) {
      // A serving manager talks to itself through the same protocol, so proxies behave the same everywhere.
      if (this.server) await this.connect()
      else throw new ConnectionClosedError('this manager is not connected: call connect(), serve() or start() first')
    }
    return (await this.client!.call('', 'create', [typeid, ...args])) as Proxied<T>
  }

  /** How many objects the server holds (Python's `number_of_objects`). */
  async numberOfObjects(): Promise<number> {
    if (!this.client) await this.connect()
    return (await this.client!.call('', 'numberOfObjects', [])) as number
  }

  /**
   * Stop: an in-process server stops listening and closes its connections; a
   * started server process is asked to exit (killed if it does not within 5 s);
   * a connected client disconnects.
   */
  async shutdown(): Promise<void> {
    const ep = this.endpoint
    if (ep) {
      this.endpoint = undefined
      await this.client?.call('', 'shutdown', []).catch(() => {})
      const t = setTimeout(() => void ep.kill(), 5000)
      await ep.exited
      clearTimeout(t)
    }
    // Calls already sent (a fire-and-forget taskDone) get up to a second to be answered before the socket closes.
    await this.client?.drain(1000)
    if (!this.sharedClient) this.client?.close()
    this.client = undefined
    const s = this.server
    this.server = undefined
    await s?.close()
  }

  /** `await using manager = ...` shuts it down at the end of the block. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.shutdown()
  }
}

/**
 * A manager that serves Python's SyncManager types: `Queue`, `JoinableQueue`,
 * `dict`, `list`, `Namespace`, `Lock`, `RLock`, `Semaphore`, `BoundedSemaphore`,
 * `Event`, `Condition`, `Barrier`, `Value`, `Array`.
 */
export class Manager extends BaseManager {
  constructor(opts: ManagerOptions = {}) {
    super(opts)
    registerBuiltins(this.registry)
    for (const [typeid, factory] of Object.entries(builtinFactories)) this.specs.set(typeid, { factory })
  }

  /** A shared FIFO queue (maxsize 0 = unbounded). */
  Queue<T = unknown>(maxsize = 0): Promise<Proxied<Queue<T>>> { return this.create('Queue', maxsize) }
  /** A shared queue with `taskDone()` / `join()`. */
  JoinableQueue<T = unknown>(maxsize = 0): Promise<Proxied<JoinableQueue<T>>> { return this.create('JoinableQueue', maxsize) }
  /** A shared dict (a Map on the server). */
  dict<K = string, V = unknown>(init?: Iterable<[K, V]> | Record<string, V>): Promise<Proxied<Dict<K, V>>> { return this.create('dict', init) }
  /** A shared list. */
  list<T = unknown>(init?: Iterable<T>): Promise<Proxied<List<T>>> { return this.create('list', init ? [...init] : undefined) }
  /** A shared bag of named values. */
  Namespace(init?: Record<string, unknown>): Promise<Proxied<Namespace>> { return this.create('Namespace', init) }
  /** A shared lock. */
  Lock(): Promise<Proxied<Lock>> { return this.create('Lock') }
  /** A shared reentrant lock (owned per client connection). */
  RLock(): Promise<Proxied<RLock>> { return this.create('RLock') }
  /** A shared semaphore. */
  Semaphore(value = 1): Promise<Proxied<Semaphore>> { return this.create('Semaphore', value) }
  /** A shared bounded semaphore. */
  BoundedSemaphore(value = 1): Promise<Proxied<BoundedSemaphore>> { return this.create('BoundedSemaphore', value) }
  /** A shared event flag. */
  Event(): Promise<Proxied<Event>> { return this.create('Event') }
  /** A shared condition variable. */
  Condition(): Promise<Proxied<Condition>> { return this.create('Condition') }
  /** A shared barrier for `parties` clients (default timeout in ms). */
  Barrier(parties: number, timeout?: number): Promise<Proxied<Barrier>> { return this.create('Barrier', parties, timeout) }
  /** A shared single value. */
  Value<T = number>(typecode: string, value: T): Promise<Proxied<Value<T>>> { return this.create('Value', typecode, value) }
  /** A shared fixed-length array. */
  Array<T = number>(typecode: string, init: Iterable<T> | number): Promise<Proxied<SharedArray<T>>> { return this.create('Array', typecode, typeof init === 'number' ? init : [...init]) }
}

const MANAGER_PORTABLE = 'troupe.manager'
/** What a manager sends of itself: enough to connect to its server from anywhere. */
interface ManagerPortable {
  address: string; authkey: string; dialect: string; serverId?: string; typeids: string[]; sync: boolean
  maxFrameSize?: number; handshakeTimeout?: number; module: string
}
registerPortable(MANAGER_PORTABLE, (d: ManagerPortable) => BaseManager.revive(d))

/** Connect to a manager server: `await connect({ address, authkey })`, then `create(typeid)`. */
export async function connect(opts: ManagerOptions & { address: AddressLike }): Promise<Manager> {
  return new Manager(opts).connect()
}
