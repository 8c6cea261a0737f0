import { Manager } from '../../src/manager/index.ts'

/** Connect a Manager client to `address`. */
export function connectToManager(address: string, authkey: string): Promise<Manager> {
  return new Manager({ address, authkey }).connect()
}

/** Wait until `cond()` holds, polling; fails after `ms` so no test hangs. */
export async function until(cond: () => boolean | Promise<boolean>, ms = 5000): Promise<void> {
  const end = Date.now() + ms
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`condition not met within ${ms} ms`)
    await new Promise((r) => setTimeout(r, 5))
  }
}
