/**
 * Lease rules for `integration/main`, as plain functions over plain data. The store applies them as
 * compare-and-swap inside the state mutex; correctness rests on the token and the epoch (fencing),
 * which every write re-checks, not on the mutex alone.
 */
import type { LeaseFile } from '../contract/types.generated.js';

export const LEASE_KEY = 'integration/main' as const;
export type Owner = LeaseFile['owner'];

export interface HeldLease {
  token: string;
  epoch: number;
  owner: Owner;
}

export type LeaseState = 'free' | 'held' | 'expired';

export function leaseState(lease: LeaseFile | null, now: Date): LeaseState {
  if (!lease || lease.released_at !== null) return 'free';
  return Date.parse(lease.expires_at) <= now.getTime() ? 'expired' : 'held';
}

export type AcquireDecision =
  | { ok: true; takeover: 'none' | 'expired' | 'dead_owner'; previous: LeaseFile | null }
  | { ok: false; holder: LeaseFile };

/**
 * Free or expired leases may be taken. A held one only when its owner is on this host and its pid is
 * gone (`ownerAlive` false): a crashed holder on the same machine need not wait out its TTL.
 */
export function decideAcquire(lease: LeaseFile | null, now: Date, self: Owner, ownerAlive: boolean): AcquireDecision {
  const state = leaseState(lease, now);
  if (state === 'free') return { ok: true, takeover: 'none', previous: lease };
  if (state === 'expired') return { ok: true, takeover: 'expired', previous: lease };
  const holder = lease as LeaseFile;
  if (holder.owner.host === self.host && holder.owner.pid !== self.pid && !ownerAlive) return { ok: true, takeover: 'dead_owner', previous: holder };
  return { ok: false, holder };
}

export function acquiredLease(previous: LeaseFile | null, self: Owner, token: string, now: Date, ttlSeconds: number): LeaseFile {
  const at = now.toISOString();
  return {
    schema_version: 1,
    key: LEASE_KEY,
    owner: self,
    token,
    epoch: (previous?.epoch ?? 0) + 1,
    acquired_at: at,
    renewed_at: at,
    expires_at: new Date(now.getTime() + ttlSeconds * 1000).toISOString(),
    released_at: null,
  };
}

/** Why `held` is no longer ours, or null when it still is. */
export function lostBecause(lease: LeaseFile | null, held: HeldLease, now: Date): string | null {
  if (!lease) return 'lease.json is gone';
  if (lease.epoch !== held.epoch || lease.token !== held.token) return `taken over by ${describeOwner(lease.owner)} at epoch ${lease.epoch}`;
  if (lease.released_at !== null) return 'it was released';
  if (Date.parse(lease.expires_at) <= now.getTime()) return `it expired at ${lease.expires_at}`;
  return null;
}

export function renewedLease(lease: LeaseFile, now: Date, ttlSeconds: number): LeaseFile {
  return { ...lease, renewed_at: now.toISOString(), expires_at: new Date(now.getTime() + ttlSeconds * 1000).toISOString() };
}

export function releasedLease(lease: LeaseFile, now: Date): LeaseFile {
  return { ...lease, released_at: now.toISOString(), expires_at: now.toISOString() };
}

export const describeOwner = (o: Owner) => `${o.host}:${o.pid} (run ${o.run_id})`;
