/**
 * The state mutex: a short proper-lockfile lock held around one read-modify-write of the state files
 * (never for minutes). proper-lockfile's staleness is clock- and stall-sensitive, so correctness does
 * not rest on it alone: the lease's token/epoch check runs inside it, and a compromised lock aborts
 * the transaction (the caller sees E_MUTEX_COMPROMISED) instead of crashing the process.
 */
import lockfile from 'proper-lockfile';
import { errors, ShadowError } from '../contract/errors.js';
import type { StatePaths } from './paths.js';

const STALE_MS = 10_000;
/** Waiting for a busy mutex: up to 400 attempts, 2 ms apart growing to 50 ms, randomized. */
const RETRY = { attempts: 400, minMs: 2, maxMs: 50, factor: 1.3 };

/** `fn` gets `assertIntact`, to call before each write: it throws once the lock was found compromised. */
export async function withStateMutex<T>(paths: StatePaths, fn: (assertIntact: () => void) => T | Promise<T>): Promise<T> {
  let compromised: Error | null = null;
  let release: () => Promise<void>;
  try {
    release = await lockWhenFree(paths, (err) => {
      compromised = err;
    });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ELOCKED') throw errors.mutexTimeout(paths.mutex);
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw errors.stateDirUnusable(paths.dir, 'it does not exist');
    throw errors.stateDirUnusable(paths.dir, (e as Error).message);
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
 * Retries only while the mutex is held by someone else (ELOCKED): any other failure (a missing,
 * read-only or full state directory) is reported at once instead of after every retry.
 */
async function lockWhenFree(paths: StatePaths, onCompromised: (err: Error) => void): Promise<() => Promise<void>> {
  let delay = RETRY.minMs;
  for (let attempt = 1; ; attempt++) {
    try {
      return await lockfile.lock(paths.dir, { lockfilePath: paths.mutex, realpath: false, stale: STALE_MS, update: STALE_MS / 4, retries: 0, onCompromised });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ELOCKED' || attempt >= RETRY.attempts) throw e;
    }
    await new Promise((resolve) => setTimeout(resolve, delay * (1 + Math.random())));
    delay = Math.min(RETRY.maxMs, delay * RETRY.factor);
  }
}
