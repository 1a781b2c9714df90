/**
 * The lease applied to lease.json: read, decide, write by atomic rename, all inside the state mutex.
 * `fenced` is how every other state write proves, at the instant of writing, that this process still
 * holds the lease with its epoch.
 */
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { errors } from '../contract/errors.js';
import type { LeaseFile } from '../contract/types.generated.js';
import { validators } from '../contract/validate.js';
import { readJson, writeJsonAtomic } from '../store/atomic-json.js';
import { withStateMutex } from '../store/mutex.js';
import type { StatePaths } from '../store/paths.js';
import { processAlive } from '../store/process.js';
import { acquiredLease, decideAcquire, lostBecause, releasedLease, renewedLease, type HeldLease, type Owner } from './lease.js';

export const readLease = (paths: StatePaths) => readJson(paths.lease, validators.lease);

export const selfOwner = (runId: string): Owner => ({ host: hostname(), pid: process.pid, run_id: runId });

export type AcquireResult =
  | { acquired: true; held: HeldLease; lease: LeaseFile; takeover: 'none' | 'expired' | 'dead_owner'; previous: LeaseFile | null }
  | { acquired: false; holder: LeaseFile };

export function acquireLease(paths: StatePaths, self: Owner, now: Date, ttlSeconds: number): Promise<AcquireResult> {
  return withStateMutex(paths, (assertIntact) => {
    const current = readLease(paths);
    const decision = decideAcquire(current, now, self, current ? processAlive(current.owner) !== false : false);
    if (!decision.ok) return { acquired: false, holder: decision.holder };
    const lease = acquiredLease(current, self, randomUUID(), now, ttlSeconds);
    assertIntact();
    writeJsonAtomic(paths.lease, lease);
    return { acquired: true, held: { token: lease.token, epoch: lease.epoch, owner: self }, lease, takeover: decision.takeover, previous: decision.previous };
  });
}

/** Runs `write` only while `held` is still the lease, under the mutex; throws E_LEASE_LOST otherwise. */
export function fenced<T>(paths: StatePaths, held: HeldLease, now: () => Date, write: () => T): Promise<T> {
  return withStateMutex(paths, (assertIntact) => {
    const why = lostBecause(readLease(paths), held, now());
    if (why) throw errors.leaseLost(held.epoch, why);
    assertIntact();
    return write();
  });
}

export function renewLease(paths: StatePaths, held: HeldLease, now: () => Date, ttlSeconds: number): Promise<LeaseFile> {
  return withStateMutex(paths, (assertIntact) => {
    const current = readLease(paths);
    const why = lostBecause(current, held, now());
    if (why) throw errors.leaseLost(held.epoch, why);
    const lease = renewedLease(current as LeaseFile, now(), ttlSeconds);
    assertIntact();
    writeJsonAtomic(paths.lease, lease);
    return lease;
  });
}

/** Releases when still ours; a lease already lost is left alone. */
export function releaseLease(paths: StatePaths, held: HeldLease, now: () => Date): Promise<boolean> {
  return withStateMutex(paths, (assertIntact) => {
    const current = readLease(paths);
    if (lostBecause(current, held, now())) return false;
    assertIntact();
    writeJsonAtomic(paths.lease, releasedLease(current as LeaseFile, now()));
    return true;
  });
}
