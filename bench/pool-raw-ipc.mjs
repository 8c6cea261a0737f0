// A raw child-process pool's worker (bench/pool.ts): one IPC message per task `[id, name, arg]`
// and per result `[id, value]` ('advanced' serialization, as troupe's process pools use).
import * as tasks from './pool-piscina.mjs'

process.on('message', (m) => process.send([m[0], tasks[m[1]](m[2])]))
