/**
 * The errors the `troupe` command itself raises, and its exit codes. Every
 * command's failure reaches one handler (main.ts), which prints
 * `troupe <command>: <message>` and exits with the error's code; the stack
 * only with `--debug`.
 */
import { TroupeError } from '../errors.js'

/** Exit codes of every `troupe` command (docs/cli.md). */
export const EXIT = {
  /** Finished as asked. */
  ok: 0,
  /** A runtime failure: cannot connect, authentication refused, the manager serves no such queue, ... */
  failure: 1,
  /** The command line cannot work as given: a missing, malformed or conflicting flag, a port in use. */
  usage: 2,
  /** `troupe worker` lost its manager mid-run (and was not told to `--reconnect`). */
  lostManager: 3,
  /** Stopped by SIGINT (128 + 2, as shells report it). */
  interrupted: 130,
} as const

/** A failure the command explains in one line, with the exit code it ends with. */
export class CliError extends TroupeError {
  override readonly code: string = 'ERR_TROUPE_CLI'
  /** The process exit code this failure ends with. */
  readonly exitCode: number

  constructor(message: string, exitCode: number = EXIT.failure, options?: ErrorOptions) {
    super(message, options)
    this.exitCode = exitCode
  }
}

/** The command line cannot work as given (exit code 2). */
export class UsageError extends CliError {
  override readonly code: string = 'ERR_TROUPE_USAGE'

  constructor(message: string, options?: ErrorOptions) {
    super(message, EXIT.usage, options)
  }
}

/** `troupe worker` lost its manager mid-run (exit code 3). */
export class ManagerLostError extends CliError {
  override readonly code: string = 'ERR_TROUPE_MANAGER_LOST'

  constructor(message: string, options?: ErrorOptions) {
    super(message, EXIT.lostManager, options)
  }
}
