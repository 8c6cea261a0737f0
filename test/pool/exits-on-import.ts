// A module whose top level kills any troupe worker that imports it: the pool must give up, not respawn forever.
import { inTroupeWorker } from '../../src/process/index.ts'

if (inTroupeWorker()) process.exit(5)

export function unreachable(): number {
  return 1
}
