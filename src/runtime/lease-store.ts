/**
 * The lease applied to the state directory. Acquisition runs inside the state mutex (live processes
 * do not race each other) but does not rest on it: the new epoch is claimed exclusively
 * (`epochs/<n>`), so a broken mutex can never give two processes one epoch. `checkHeld` is what
 * every holder write runs first: the claims and lease.json, read without the mutex.
 */
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { errors } from '../contract/errors.js';
import type { LeaseFile } from '../contract/types.generated.js';
import { validators } from '../contract/validate.js';
import { writeJsonAtomic } from '../store/atomic-json.js';
import { claimEpoch, claimLost, highestClaim, pruneClaims, readClaim, touchClaim } from '../store/claims.js';
import { liveJournal } from '../store/journal.js';
import { withStateMutex, type MutexOptions } from '../store/mutex.js';
import type { StatePaths } from '../store/paths.js';
import { processAlive } from '../store/process.js';
import { readCheckpointFile, readLeaseFile } from '../store/readers.js';
import { acquiredLease, decideAcquire, heldOf, leaseOf, lostBecause, needsRestore, releasedLease, renewedLease, type HeldLease, type LeaseView, type Owner, type Takeover } from './lease.js';

export const selfOwner = (runId: string): Owner => ({ host: hostname(), pid: process.pid, run_id: runId });

export type AcquireResult =
  | {
      acquired: true;
      held: HeldLease;
      lease: LeaseFile;
      takeover: Takeover;
      previous: LeaseFile | null;
      /** When the previous tenure began (its claim), for sealing what it could still write; null when unknown. */
      previousSinceMs: number | null;
    }
  | { acquired: false; holder: LeaseFile };

/** lease.json, or null when it is missing or unreadable (a holder restores it; the claims still say who holds). */
function leaseOrNull(paths: StatePaths): LeaseFile | null {
  try {
    return readLeaseFile(paths);
  } catch {
    return null;
  }
}

/** The highest epoch the checkpoint and the journal know. */
function epochFloor(paths: StatePaths): number {
  let floor = liveJournal(paths)?.epoch ?? 0;
  try {
    floor = Math.max(floor, readCheckpointFile(paths)?.round.epoch ?? 0);
  } catch {
    // an unreadable checkpoint says nothing; the journal and the claims still do
  }
  return floor;
}

function leaseView(paths: StatePaths): LeaseView {
  const topClaim = highestClaim(paths);
  return { lease: leaseOrNull(paths), topClaim, claim: topClaim > 0 ? readClaim(paths, topClaim) : null, floor: epochFloor(paths) };
}

/**
 * Acquires the lease when it is free, expired, or held by a dead process of this host. `now` is read
 * after the mutex was had: a lease written after waiting for it is not born expired.
 */
export function acquireLease(paths: StatePaths, self: Owner, now: () => Date, ttlSeconds: number, opts: MutexOptions = {}): Promise<AcquireResult> {
  return withStateMutex(
    paths,
    (assertIntact) => {
      const at = now();
      const view = leaseView(paths);
      const decision = decideAcquire(view, at, self, (o) => processAlive(o) !== false, ttlSeconds);
      if (!decision.ok) return { acquired: false, holder: decision.holder };
      assertIntact();
      if (!claimEpoch(paths, { epoch: decision.epoch, owner: self, claimed_at: at.toISOString() })) {
        // Another process claimed this epoch first (it raced us past a broken mutex): it is the holder.
        const again = decideAcquire(leaseView(paths), at, self, (o) => processAlive(o) !== false, ttlSeconds);
        return { acquired: false, holder: again.ok ? acquiredLease(decision.epoch, { host: 'unknown', pid: 0, run_id: 'unknown' }, 'unknown', at, ttlSeconds) : again.holder };
      }
      const lease = acquiredLease(decision.epoch, self, randomUUID(), at, ttlSeconds);
      writeJsonAtomic(paths.lease, lease, validators.lease);
      pruneClaims(paths, decision.epoch - 3);
      const claimedAt = view.claim?.claim?.claimed_at ?? view.lease?.acquired_at;
      return {
        acquired: true,
        held: heldOf(lease),
        lease,
        takeover: decision.takeover,
        previous: decision.previous,
        previousSinceMs: claimedAt ? Date.parse(claimedAt) : null,
      };
    },
    opts,
  );
}

/** Why `held` is no longer ours (the claims, then lease.json), or null while it is. No mutex: nothing is written. */
export function checkHeld(paths: StatePaths, held: HeldLease, now: Date): string | null {
  return claimLost(paths, held.epoch) ?? lostBecause(leaseOrNull(paths), held, now);
}

export interface Renewed {
  lease: LeaseFile;
  /** lease.json did not show our lease (deleted, or overwritten late by an ex-holder) and was written back. */
  restored: boolean;
}

/** Extends our lease; throws E_LEASE_LOST when it is no longer ours. Updates `held` (its expiry). */
export function renewLease(paths: StatePaths, held: HeldLease, now: () => Date, ttlSeconds: number): Promise<Renewed> {
  return withStateMutex(paths, (assertIntact) => {
    const at = now();
    const why = checkHeld(paths, held, at);
    if (why) throw errors.leaseLost(held.epoch, why);
    const current = leaseOrNull(paths);
    const restored = needsRestore(current, held);
    const lease = renewedLease(restored ? leaseOf(held, at.toISOString()) : (current as LeaseFile), at, ttlSeconds);
    assertIntact();
    writeJsonAtomic(paths.lease, lease, validators.lease);
    touchClaim(paths, held.epoch, at);
    held.expires_at = lease.expires_at;
    return { lease, restored };
  });
}

/** Releases when still ours; a lease already lost is left alone. */
export function releaseLease(paths: StatePaths, held: HeldLease, now: () => Date): Promise<boolean> {
  return withStateMutex(paths, (assertIntact) => {
    const at = now();
    if (checkHeld(paths, held, at)) return false;
    assertIntact();
    writeJsonAtomic(paths.lease, releasedLease(leaseOf(held, at.toISOString()), at), validators.lease);
    // The claim says so too (its renewals stop long ago): should lease.json be lost, the epoch is free, not held.
    touchClaim(paths, held.epoch, new Date(0));
    return true;
  });
}
