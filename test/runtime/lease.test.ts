/** The lease rules as pure logic: states, who may acquire at which epoch, when a holder has lost it. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { LeaseFile } from '../../src/contract/types.generated.js';
import { validators } from '../../src/contract/validate.js';
import {
  acquiredLease,
  decideAcquire,
  heldOf,
  LEASE_KEY,
  leaseOf,
  leaseState,
  lostBecause,
  needsRestore,
  releasedLease,
  renewedLease,
  type LeaseView,
  type Owner,
} from '../../src/runtime/lease.js';

const T = Date.parse('2026-06-01T12:00:00.000Z');
const d = (ms: number) => new Date(T + ms);
const me: Owner = { host: 'here', pid: 100, run_id: 'me' };
const other: Owner = { host: 'there', pid: 200, run_id: 'other' };
const sameHost: Owner = { host: 'here', pid: 300, run_id: 'neighbour' };
const alive = () => true;
const dead = () => false;

/** A lease acquired by `owner` at T with a 10 s TTL, at `epoch`. */
const lease = (owner: Owner, epoch = 1): LeaseFile => acquiredLease(epoch, owner, `tok-${owner.run_id}`, d(0), 10);

/** What an acquirer sees when lease.json and the claims agree. */
const view = (l: LeaseFile | null, extra: Partial<LeaseView> = {}): LeaseView => ({ lease: l, topClaim: l?.epoch ?? 0, claim: l ? { claim: { epoch: l.epoch, owner: l.owner, claimed_at: l.acquired_at }, touchedMs: T } : null, floor: 0, ...extra });

describe('leaseState', () => {
  test('free when absent or released; held until expires_at; expired from expires_at on', () => {
    assert.equal(leaseState(null, d(0)), 'free');
    const l = lease(other);
    assert.equal(leaseState(l, d(0)), 'held');
    assert.equal(leaseState(l, d(9_999)), 'held');
    assert.equal(leaseState(l, d(10_000)), 'expired');
    assert.equal(leaseState(releasedLease(l, d(1)), d(2)), 'free');
  });
});

describe('decideAcquire', () => {
  const cases: { name: string; view: LeaseView; at: number; ownerAlive?: (o: Owner) => boolean; want: ReturnType<typeof decideAcquire> | { ok: false } }[] = [
    { name: 'nothing at all: epoch 1, no takeover', view: view(null), at: 0, want: { ok: true, epoch: 1, takeover: 'none', previous: null } },
    { name: 'a released lease: the next epoch, no takeover', view: view(releasedLease(lease(other, 4), d(5))), at: 6, want: { ok: true, epoch: 5, takeover: 'none', previous: releasedLease(lease(other, 4), d(5)) } },
    { name: 'a live holder of another host is refused', view: view(lease(other)), at: 1, ownerAlive: dead, want: { ok: false } },
    { name: 'a live holder of this host is refused', view: view(lease(sameHost)), at: 1, want: { ok: false } },
    { name: 'an expired lease is taken over, whoever held it', view: view(lease(other, 7)), at: 10_000, want: { ok: true, epoch: 8, takeover: 'expired', previous: lease(other, 7) } },
    { name: 'a held lease whose owner on this host is dead is taken over at once', view: view(lease(sameHost, 3)), at: 1, ownerAlive: dead, want: { ok: true, epoch: 4, takeover: 'dead_owner', previous: lease(sameHost, 3) } },
    { name: 'our own pid is never "dead"', view: view(lease({ ...me, run_id: 'earlier' })), at: 1, ownerAlive: dead, want: { ok: false } },
    {
      name: 'lease.json deleted: the epoch continues above the claims, and their holder is judged by the claim (fresh: refused)',
      view: { lease: null, topClaim: 6, claim: { claim: { epoch: 6, owner: other, claimed_at: d(0).toISOString() }, touchedMs: T + 5_000 }, floor: 0 },
      at: 10_000,
      want: { ok: false },
    },
    {
      name: 'lease.json deleted and the claim stale: taken over above it',
      view: { lease: null, topClaim: 6, claim: { claim: { epoch: 6, owner: other, claimed_at: d(0).toISOString() }, touchedMs: T }, floor: 0 },
      at: 10_000,
      want: { ok: true, epoch: 7, takeover: 'unrecorded', previous: null },
    },
    {
      name: 'lease.json overwritten late by an ex-holder (an older epoch): the newer claim stands for the holder',
      view: { lease: lease(other, 2), topClaim: 3, claim: { claim: { epoch: 3, owner: sameHost, claimed_at: d(0).toISOString() }, touchedMs: T + 9_000 }, floor: 0 },
      at: 10_000,
      want: { ok: false },
    },
    { name: 'lease.json and the claims deleted: never below what the journal and checkpoint know', view: { lease: null, topClaim: 0, claim: null, floor: 9 }, at: 0, want: { ok: true, epoch: 10, takeover: 'unrecorded', previous: null } },
    { name: 'a claimant that died before writing its claim (unreadable): taken over', view: { lease: lease(other, 2), topClaim: 3, claim: { claim: null, touchedMs: T }, floor: 0 }, at: 1, want: { ok: true, epoch: 4, takeover: 'unrecorded', previous: lease(other, 2) } },
  ];
  for (const c of cases) {
    test(c.name, () => {
      const got = decideAcquire(c.view, d(c.at), me, c.ownerAlive ?? alive, 10);
      if (c.want.ok) assert.deepEqual(got, c.want);
      else assert.equal(got.ok, false, JSON.stringify(got));
    });
  }

  test('a refusal names the holder: lease.json, or a stand-in built from the claim', () => {
    const l = lease(other, 5);
    assert.deepEqual(decideAcquire(view(l), d(1), me, alive, 10), { ok: false, holder: l });
    const got = decideAcquire({ lease: null, topClaim: 6, claim: { claim: { epoch: 6, owner: other, claimed_at: d(0).toISOString() }, touchedMs: T }, floor: 0 }, d(1), me, alive, 10);
    assert.ok(!got.ok);
    assert.deepEqual([got.holder.owner, got.holder.epoch, got.holder.expires_at], [other, 6, d(10_000).toISOString()]);
    assert.ok(validators.lease(got.holder));
  });
});

describe('epochs and the lease file', () => {
  test('an acquired lease is a valid lease.json: owner, token, times, expiry = now + ttl', () => {
    const l = acquiredLease(1, me, 'tok', d(0), 1.5);
    assert.ok(validators.lease(l), JSON.stringify(validators.lease.errors));
    assert.deepEqual(l, {
      schema_version: 1,
      key: LEASE_KEY,
      owner: me,
      token: 'tok',
      epoch: 1,
      acquired_at: d(0).toISOString(),
      renewed_at: d(0).toISOString(),
      expires_at: d(1500).toISOString(),
      released_at: null,
    });
  });

  test('renewal moves renewed_at and expires_at only; release sets released_at and expires now', () => {
    const l = lease(me);
    const r = renewedLease(l, d(4000), 10);
    assert.deepEqual(r, { ...l, renewed_at: d(4000).toISOString(), expires_at: d(14_000).toISOString() });
    const rel = releasedLease(r, d(5000));
    assert.deepEqual(rel, { ...r, released_at: d(5000).toISOString(), expires_at: d(5000).toISOString() });
    assert.ok(validators.lease(rel));
  });

  test('a held lease and the lease.json it stands for convert into each other', () => {
    const l = lease(me, 4);
    assert.deepEqual(leaseOf(heldOf(l), l.renewed_at), l);
  });
});

describe('lostBecause', () => {
  const l = lease(me, 4);
  const held = heldOf(l);

  test('null while the lease is ours and live', () => {
    assert.equal(lostBecause(l, held, d(9_999)), null);
    assert.equal(lostBecause(renewedLease(l, d(9_000), 10), held, d(15_000)), null);
  });

  test('taken over (a newer epoch, or another token), released, expired: each says why', () => {
    const takeover = acquiredLease(5, other, 'new', d(10_000), 10);
    assert.match(lostBecause(takeover, held, d(10_001)) ?? '', /taken over by there:200 \(run other\) at epoch 5/);
    assert.match(lostBecause({ ...l, token: 'theirs' }, held, d(1)) ?? '', /taken over by here:100 \(run me\) at epoch 4/);
    assert.match(lostBecause(releasedLease(l, d(1)), held, d(2)) ?? '', /it was released/);
    assert.match(lostBecause(l, held, d(10_000)) ?? '', /it expired at 2026-06-01T12:00:10.000Z/);
  });

  test('lease.json that does not show us (deleted, or an older epoch written late) is not a loss while our own expiry is ahead: it needs restoring', () => {
    for (const shown of [null, lease(other, 3)]) {
      assert.equal(lostBecause(shown, held, d(1)), null);
      assert.equal(needsRestore(shown, held), true);
      assert.match(lostBecause(shown, held, d(10_000)) ?? '', /it expired/);
    }
    assert.equal(needsRestore(l, held), false);
  });
});
