// A raw postMessage pool's worker (bench/pool.ts): one message per task `[id, name, arg]`, one
// reply per result `[id, value]`, nothing else.
import { parentPort } from 'node:worker_threads'
import * as tasks from './pool-piscina.mjs'

parentPort.on('message', (m) => parentPort.postMessage([m[0], tasks[m[1]](m[2])]))
