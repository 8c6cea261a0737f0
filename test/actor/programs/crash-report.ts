// A supervised actor that throws once, under a nested supervisor: `default` logs, `silent` passes log: false.
import { Actor, supervise } from '../../../src/actor/index.ts'

let starts = 0
let restarted!: () => void
const done = new Promise<void>((r) => { restarted = r })

/** Sends itself 'boom' when it first starts and throws on it; says so when started again. */
export class Flaky extends Actor<'boom'> {
  onStart(): void {
    if (++starts === 1) this.self.send('boom')
    else restarted()
  }

  receive(): void {
    throw new Error('flaky exploded')
  }
}

const sup = supervise([{ supervise: [{ actor: Flaky, name: 'flaky' }], name: 'inner' }], process.argv[2] === 'silent' ? { log: false } : {})
await done
console.log('restarted')
await sup.stop()
