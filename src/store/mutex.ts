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

/** `fn` gets `assertIntact`, to call before each write: it throws once the lock was found compromised. */
export async function withStateMutex<T>(paths: StatePaths, fn: (assertIntact: () => void) => T | Promise<T>): Promise<T> {
  let compromised: Error | null = null;
  let release: () => Promise<void>;
  try {
    release = await lockfile.lock(paths.dir, {
      lockfilePath: paths.mutex,
      realpath: false,
      stale: STALE_MS,
      update: STALE_MS / 4,
      retries: { retries: 400, minTimeout: 2, maxTimeout: 50, factor: 1.3, randomize: true },
      onCompromised: (err) => {
        compromised = err;
      },
    });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ELOCKED') throw errors.mutexTimeout(paths.mutex);
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw errors.stateDirUnusable(paths.dir, 'it does not exist');
    throw errors.stateDirUnusable(paths.dir, (e as Error).message);
  }
  try {
    const assertIntact = () => {
      if (compromised) throw errors.mutexCompromised(paths.mutex, (compromised as Error).message);
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
