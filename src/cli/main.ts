/**
 * The `troupe` command. Each subcommand lives in its own file and is loaded
 * only when used, so `troupe --help` stays fast.
 */
import { Command } from 'commander'
import { readFileSync } from 'node:fs'

const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }

/** Build the CLI program (exported for tests). */
export function program(): Command {
  const cli = new Command('troupe')
    .description('Processes, pools, queues, managers and actors for Node.js')
    .version(pkg.version, '-V, --version')
    .showHelpAfterError()
  // Subcommands register themselves through their own modules (see commands.ts).
  return cli
}

const cli = program()
const { registerCommands } = await import('./commands.js')
await registerCommands(cli)
await cli.parseAsync(process.argv)
