/**
 * The `troupe` command. Each subcommand lives in its own file and is loaded
 * only when used, so `troupe --help` stays fast. Every failure, whichever
 * command raised it, ends here: one line `troupe <command>: <message>` on
 * stderr (the stack too with `--debug`) and the exit code of errors.ts.
 */
import { Command, CommanderError } from 'commander'
import { readFileSync } from 'node:fs'
import { TroupeError } from '../errors.js'
import { CliError, EXIT } from './errors.js'

const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }

/** Build the CLI program (exported for tests). */
export function program(): Command {
  const cli = new Command('troupe')
    .description('Processes, pools, queues, managers and actors for Node.js')
    .version(pkg.version, '-V, --version')
    .option('--debug', 'on failure, print the stack too')
    // Commander's own errors (unknown option, missing value) come to the handler below as CommanderErrors,
    // so they read like every other failure; subcommands inherit both settings.
    .exitOverride()
    .configureOutput({ outputError: () => {} })
  // Subcommands register themselves through their own modules (see commands.ts).
  return cli
}

/** What a failure prints and the code it exits with; `undefined` message: nothing to print (help, version). */
export function explain(err: unknown): { message?: string; exitCode: number } {
  if (err instanceof CommanderError) {
    if (err.exitCode === 0) return { exitCode: EXIT.ok }
    // "option '--port <n>' argument 'x' is invalid. --port must be ...": the flag parsers' own words say it all.
    const message = err.code === 'commander.invalidArgument' ? err.message.replace(/^error: option .* is invalid\. /, '') : err.message.replace(/^error: /, '')
    return { message, exitCode: EXIT.usage }
  }
  if (err instanceof CliError) return { message: err.message, exitCode: err.exitCode }
  const e = err as NodeJS.ErrnoException & { address?: string; port?: number }
  if (e?.syscall === 'listen' && (e.code === 'EADDRINUSE' || e.code === 'EACCES')) {
    const where = e.port !== undefined ? `${e.address}:${e.port}` : e.address ?? 'that address'
    return { message: `${where} ${e.code === 'EADDRINUSE' ? 'is in use' : 'is not allowed (permission denied)'}: choose another address or port`, exitCode: EXIT.usage }
  }
  // troupe's own errors say what happened in a sentence; anything else keeps its class name.
  if (err instanceof TroupeError) return { message: err.message, exitCode: EXIT.failure }
  if (err instanceof Error) return { message: `${err.name}: ${err.message}`, exitCode: EXIT.failure }
  return { message: String(err), exitCode: EXIT.failure }
}

/** The subcommand named on the command line, for the message prefix. */
function commandOf(cli: Command, argv: string[]): string {
  const names = new Set(cli.commands.map((c) => c.name()))
  const name = argv.slice(2).find((a) => names.has(a))
  return name ? `troupe ${name}` : 'troupe'
}

/** Print a failure the one way every command does, and exit. */
function fail(cli: Command, err: unknown): never {
  const { message, exitCode } = explain(err)
  if (message !== undefined) {
    const prefix = commandOf(cli, process.argv)
    process.stderr.write(`${prefix}: ${message}\n`)
    if (process.argv.includes('--debug')) process.stderr.write(`${debugText(err)}\n`)
    else if (exitCode === EXIT.usage) process.stderr.write(`(${prefix} --help lists the options)\n`)
  }
  process.exit(exitCode)
}

function debugText(err: unknown): string {
  if (!(err instanceof Error)) return String(err)
  let text = err.stack ?? String(err)
  const remote = (err as TroupeError).remoteStack
  if (remote) text += `\nremote stack:\n${remote}`
  if (err.cause !== undefined) text += `\ncaused by: ${debugText(err.cause)}`
  return text
}

const cli = program()
// A failure after a command started (a long-running manager or worker) ends the same way.
process.on('uncaughtException', (err) => fail(cli, err))
process.on('unhandledRejection', (err) => fail(cli, err))
try {
  const { registerCommands } = await import('./commands.js')
  await registerCommands(cli)
  await cli.parseAsync(process.argv)
} catch (err) {
  fail(cli, err)
}
