/** Other processes as a test sees them (Linux: read from /proc). */
import { readdirSync, readFileSync } from 'node:fs';

/** Whether a process no longer runs: it does not exist, or it has exited and waits to be reaped. */
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

/** The parent of a running process. */
export function parentOf(pid: number): number {
  return Number(/^\d+ \(.*\) \S+ (\d+)/.exec(readFileSync(`/proc/${pid}/stat`, 'utf8'))?.[1]);
}

/** This process's children whose command line contains `part`. */
export function childrenRunning(part: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (parentOf(Number(entry)) === process.pid && readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0').join(' ').includes(part)) pids.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return pids;
}

/** Live processes (not zombies) of process group `pgid`: what a group kill must have left none of. */
export function processGroupMembers(pgid: number): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const [, state, group] = /^\d+ \(.*\) (\S) \d+ (\d+)/.exec(readFileSync(`/proc/${entry}/stat`, 'utf8')) ?? [];
      if (Number(group) === pgid && state !== 'Z') pids.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return pids;
}
