import type { Command } from 'commander'

/**
 * Every subcommand, by name, with the module that defines it. A module exports
 * `register(cli: Command): void`, which adds its command with flags and action.
 */
const commands: Record<string, string> = {
  'manager': './manager.js',
  'worker': './worker.js',
  'dashboard': './dashboard.js',
}

/** Attach every subcommand to the program. */
export async function registerCommands(cli: Command): Promise<void> {
  for (const path of Object.values(commands)) {
    const mod = (await import(path)) as { register(cli: Command): void }
    mod.register(cli)
  }
}
