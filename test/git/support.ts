/** What the git module's tests share: the settings a handle is opened with, and whether a process is gone. */
import { readdirSync, readFileSync } from 'node:fs';
import { fixtureEnv } from '../../fixtures/git.js';
import { systemTimers } from '../../src/context.js';
import type { GitSettings } from '../../src/git/runner.js';

/** The fixture's environment (no user or system config), real timers, git's default timeout unless given. */
export const settings = (overrides: Partial<GitSettings> = {}): GitSettings => ({ env: fixtureEnv(), timeoutSeconds: 120, timers: systemTimers, ...overrides });

/** Whether a process no longer runs: it does not exist, or it has exited and waits to be reaped (Linux). */
export function gone(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return true;
  }
  try {
    return /^\d+ \(.*\) Z /.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return true;
  }
}

/** Polls `condition` until it holds (true) or `limitMs` passed (false): for what another process does on its own time. */
export async function eventually(condition: () => boolean, limitMs = 10_000): Promise<boolean> {
  for (const start = Date.now(); Date.now() - start < limitMs; await new Promise((r) => setTimeout(r, 20))) if (condition()) return true;
  return condition();
}

/** This process's children whose command line contains `part` (Linux: read from /proc). */
export function childrenRunning(part: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const ppid = Number(/^\d+ \(.*\) \S+ (\d+)/.exec(readFileSync(`/proc/${entry}/stat`, 'utf8'))?.[1]);
      if (ppid === process.pid && readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0').join(' ').includes(part)) pids.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return pids;
}
