/**
 * The state mutex: a short proper-lockfile lock held around one read-modify-write of the lease
 * (never for minutes). It only keeps live processes from racing each other; nothing rests on it for
 * safety: epochs are claimed exclusively (claims.ts) and every holder write is fenced (a holder that
 * lost the lease cannot land a write that counts). So a mutex whose holder stalls is broken after
 * proper-lockfile's stale time, and one left by a process of this host that is dead is broken at
 * once: its owner is recorded beside it.
 */
import { readFileSync, rmdirSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import lockfile from 'proper-lockfile';
import { errors, ShadowError } from '../contract/errors.js';
import { FILE_MODE } from './files.js';
import { processAlive } from './process.js';
import type { StatePaths } from './paths.js';

const STALE_MS = 10_000;
/** Waiting for a busy mutex: up to 400 attempts, 2 ms apart growing to 50 ms, randomized. */
const RETRY = { attempts: 400, minMs: 2, maxMs: 50, factor: 1.3 };

export interface MutexOptions {
  /** Told when a mutex left by a dead process of this host was broken. */
  onBroken?: (owner: { host: string; pid: number }) => void;
  /** Test seam: proper-lockfile's lock, to force the failures a pause causes at the exact point. */
  lock?: typeof lockfile.lock;
}

/** `fn` gets `assertIntact`, to call before each write: it throws once the lock was found compromised. */
export async function withStateMutex<T>(paths: StatePaths, fn: (assertIntact: () => void) => T | Promise<T>, opts: MutexOptions = {}): Promise<T> {
  let compromised: Error | null = null;
  let release: () => Promise<void>;
  try {
    release = await lockWhenFree(paths, opts, (err) => {
      compromised = err;
    });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ELOCKED') throw errors.mutexTimeout(paths.mutex);
    if ((e as NodeJS.ErrnoException).code === 'EACCES' || (e as NodeJS.ErrnoException).code === 'EPERM') throw errors.stateWriteFailed(paths.mutex, e as NodeJS.ErrnoException);
    throw errors.stateDirUnusable(paths.dir, dirExists(paths.dir) ? (e as Error).message : 'it does not exist');
  }
  try {
    const assertIntact = () => {
      if (compromised) throw errors.mutexCompromised(paths.mutex, compromised.message);
    };
    const result = await fn(assertIntact);
    assertIntact();
    return result;
  } finally {
    await release().catch((e: unknown) => {
      // Releasing a compromised lock fails; the transaction already reported it.
      if (!compromised && !(e instanceof ShadowError)) throw e;
    });
  }
}

/**
 * Retries while the mutex is held by someone else (ELOCKED), and after an ENOENT while the state
 * directory exists (our fresh lock was removed by a waiter that judged it stale while we were
 * paused): any other failure (a missing, read-only or full state directory) is reported at once.
 */
async function lockWhenFree(paths: StatePaths, opts: MutexOptions, onCompromised: (err: Error) => void): Promise<() => Promise<void>> {
  let delay = RETRY.minMs;
  for (let attempt = 1; ; attempt++) {
    breakIfOwnerDead(paths, opts);
    try {
      const release = await (opts.lock ?? lockfile.lock)(paths.dir, { lockfilePath: paths.mutex, realpath: false, stale: STALE_MS, update: STALE_MS / 4, retries: 0, onCompromised });
      recordOwner(paths);
      return async () => {
        try {
          unlinkSync(paths.mutexOwner);
        } catch {
          // already gone: a breaker removed it with the lock
        }
        await release();
      };
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      const retry = code === 'ELOCKED' || (code === 'ENOENT' && dirExists(paths.dir));
      if (!retry || attempt >= RETRY.attempts) throw e;
    }
    await new Promise((resolve) => setTimeout(resolve, delay * (1 + Math.random())));
    delay = Math.min(RETRY.maxMs, delay * RETRY.factor);
  }
}

interface OwnerRecord {
  host: string;
  pid: number;
  /** Identity of the lock directory it owns: a record left beside a later lock says nothing about it. */
  ino: number;
  birthtimeMs: number;
}

function recordOwner(paths: StatePaths): void {
  try {
    const st = statSync(paths.mutex);
    const owner: OwnerRecord = { host: hostname(), pid: process.pid, ino: st.ino, birthtimeMs: st.birthtimeMs };
    writeFileSync(paths.mutexOwner, JSON.stringify(owner), { mode: FILE_MODE });
  } catch {
    // Without the record the lock is still broken after the stale time, as before.
  }
}

/** A mutex held by a dead process of this host is broken at once instead of after the stale time. */
function breakIfOwnerDead(paths: StatePaths, opts: MutexOptions): void {
  let owner: OwnerRecord;
  try {
    const st = statSync(paths.mutex);
    owner = JSON.parse(readFileSync(paths.mutexOwner, 'utf8')) as OwnerRecord;
    if (owner.ino !== st.ino || owner.birthtimeMs !== st.birthtimeMs) return;
  } catch {
    return;
  }
  if (owner.pid === process.pid || processAlive(owner) !== false) return;
  try {
    unlinkSync(paths.mutexOwner);
    rmdirSync(paths.mutex);
    opts.onBroken?.({ host: owner.host, pid: owner.pid });
  } catch {
    // someone else broke it first
  }
}

function dirExists(dir: string): boolean {
  try {
    return statSync(dir).isDirectory();
  } catch {
    return false;
  }
}
