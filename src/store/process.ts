/** Whether a lease owner's process still runs: known only on its own host. */
import { hostname } from 'node:os';

/** true or false for a process on this host; null for another host, which cannot be asked. */
export function processAlive(owner: { host: string; pid: number }): boolean | null {
  if (owner.host !== hostname()) return null;
  try {
    process.kill(owner.pid, 0);
    return true;
  } catch (e) {
    // EPERM: it exists, as another user's process.
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}
