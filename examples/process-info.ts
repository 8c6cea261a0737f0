/**
 * Port of Python's multiprocessing `info()` / `f(name)` example: the main
 * program and a child process each print who they are; the child's parent
 * pid is the main program's pid.
 *
 *   node --conditions=troupe-source --import tsx examples/process-info.ts
 */
import { Process, currentProcess, isMainModule } from 'troupe'

/** Print the place this runs in. */
export function info(title: string): void {
  const me = currentProcess()
  console.log(title)
  console.log('process name:', me.name)
  console.log('parent process:', me.parentPid)
  console.log('process id:', me.pid)
}

/** The target: report, then greet. */
export function f(name: string): void {
  info('function f')
  console.log('hello', name)
}

async function main(): Promise<void> {
  info('main line')
  const p = new Process({ target: f, args: ['bob'], kind: 'process' })
  await p.start()
  await p.join()
  console.log('exit code:', p.exitCode)
}

// Like Python's `if __name__ == '__main__':` — the child imports this module to find `f` and must not run main().
if (isMainModule(import.meta)) await main()
