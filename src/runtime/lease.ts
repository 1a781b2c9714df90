/**
 * Lease rules for `integration/main`, as plain functions over plain data. The lease store applies
 * them; correctness rests on epochs claimed exclusively (`epochs/<n>`) and on every holder write
 * going through descriptors a taker orphans, not on the state mutex.
 */
import type { LeaseClaim, LeaseFile } from '../contract/types.generated.js';

export const LEASE_KEY = 'integration/main' as const;
export type Owner = LeaseFile['owner'];

export interface HeldLease {
  token: string;
  epoch: number;
  owner: Owner;
  acquired_at: string;
  /** Our own expiry as last written: judges the lease while lease.json does not show it (deleted, or overwritten late by an ex-holder). */
  expires_at: string;
}

/** Our lease as lease.json shows it while it is ours. */
export const leaseOf = (held: HeldLease, renewedAt: string): LeaseFile => ({
  schema_version: 1,
  key: LEASE_KEY,
  owner: held.owner,
  token: held.token,
  epoch: held.epoch,
  acquired_at: held.acquired_at,
  renewed_at: renewedAt,
  expires_at: held.expires_at,
  released_at: null,
});

export const heldOf = (lease: LeaseFile): HeldLease => ({ token: lease.token, epoch: lease.epoch, owner: lease.owner, acquired_at: lease.acquired_at, expires_at: lease.expires_at });

export type LeaseState = 'free' | 'held' | 'expired';

export function leaseState(lease: LeaseFile | null, now: Date): LeaseState {
  if (!lease || lease.released_at !== null) return 'free';
  return Date.parse(lease.expires_at) <= now.getTime() ? 'expired' : 'held';
}

export type Takeover = 'none' | 'expired' | 'dead_owner' | 'unrecorded';

/** What an acquirer knows: lease.json, the highest claimed epoch and its claim, and the highest epoch the state files know. */
export interface LeaseView {
  lease: LeaseFile | null;
  topClaim: number;
  claim: { claim: LeaseClaim | null; touchedMs: number } | null;
  /** The highest epoch the checkpoint and the journal know: deleting lease.json (and the claims) never lowers the epoch below it. */
  floor: number;
}

export type AcquireDecision =
  | { ok: true; epoch: number; takeover: Takeover; previous: LeaseFile | null }
  | { ok: false; holder: LeaseFile };

/**
 * Free leases are taken; expired ones taken over; a held one only when its owner is on this host and
 * its pid is gone (`ownerAlive` false). When the highest claimed epoch is not the one lease.json
 * shows (its acquirer died before writing it, lease.json was deleted, or an ex-holder overwrote it
 * late), that epoch's claim stands for it: held while its mtime (the holder's renewals) is fresh.
 */
export function decideAcquire(view: LeaseView, now: Date, self: Owner, ownerAlive: (o: Owner) => boolean, ttlSeconds: number): AcquireDecision {
  const { lease } = view;
  const top = Math.max(view.topClaim, lease?.epoch ?? 0, view.floor);
  const epoch = top + 1;
  if (top === 0) return { ok: true, epoch, takeover: 'none', previous: null };
  if (lease && lease.epoch === top) {
    const state = leaseState(lease, now);
    if (state === 'free') return { ok: true, epoch, takeover: 'none', previous: lease };
    if (state === 'expired') return { ok: true, epoch, takeover: 'expired', previous: lease };
    if (isDeadHere(lease.owner, self, ownerAlive)) return { ok: true, epoch, takeover: 'dead_owner', previous: lease };
    return { ok: false, holder: lease };
  }
  const claimed = view.topClaim === top ? view.claim : null;
  if (claimed?.claim) {
    const expires = claimed.touchedMs + ttlSeconds * 1000;
    const standIn: LeaseFile = {
      schema_version: 1,
      key: LEASE_KEY,
      owner: claimed.claim.owner,
      token: '(unknown: lease.json does not show this epoch)',
      epoch: top,
      acquired_at: claimed.claim.claimed_at,
      renewed_at: new Date(claimed.touchedMs).toISOString(),
      expires_at: new Date(expires).toISOString(),
      released_at: null,
    };
    if (expires > now.getTime() && !isDeadHere(claimed.claim.owner, self, ownerAlive)) return { ok: false, holder: standIn };
  }
  return { ok: true, epoch, takeover: 'unrecorded', previous: lease };
}

const isDeadHere = (o: Owner, self: Owner, ownerAlive: (o: Owner) => boolean) => o.host === self.host && o.pid !== self.pid && !ownerAlive(o);

export function acquiredLease(epoch: number, self: Owner, token: string, now: Date, ttlSeconds: number): LeaseFile {
  const at = now.toISOString();
  return {
    schema_version: 1,
    key: LEASE_KEY,
    owner: self,
    token,
    epoch,
    acquired_at: at,
    renewed_at: at,
    expires_at: new Date(now.getTime() + ttlSeconds * 1000).toISOString(),
    released_at: null,
  };
}

/**
 * Why `held` is no longer ours, or null while it is. A lease.json of a newer epoch means taken over;
 * one of an older epoch, or none, does not show us (an ex-holder's late write, or a deletion): our
 * own expiry decides, and the renewal writes our lease back.
 */
export function lostBecause(lease: LeaseFile | null, held: HeldLease, now: Date): string | null {
  if (lease && lease.epoch > held.epoch) return `taken over by ${describeOwner(lease.owner)} at epoch ${lease.epoch}`;
  if (lease && lease.epoch === held.epoch) {
    if (lease.token !== held.token) return `taken over by ${describeOwner(lease.owner)} at epoch ${lease.epoch}`;
    if (lease.released_at !== null) return 'it was released';
    if (Date.parse(lease.expires_at) <= now.getTime()) return `it expired at ${lease.expires_at}`;
    return null;
  }
  if (Date.parse(held.expires_at) <= now.getTime()) return `it expired at ${held.expires_at}`;
  return null;
}

/** lease.json does not show our lease (deleted, or an older epoch written late): the renewal restores it. */
export const needsRestore = (lease: LeaseFile | null, held: HeldLease) => !lease || lease.epoch < held.epoch;

export function renewedLease(lease: LeaseFile, now: Date, ttlSeconds: number): LeaseFile {
  return { ...lease, renewed_at: now.toISOString(), expires_at: new Date(now.getTime() + ttlSeconds * 1000).toISOString() };
}

export function releasedLease(lease: LeaseFile, now: Date): LeaseFile {
  return { ...lease, released_at: now.toISOString(), expires_at: now.toISOString() };
}

export const describeOwner = (o: Owner) => `${o.host}:${o.pid} (run ${o.run_id})`;
