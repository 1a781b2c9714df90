/** The lease rules as pure logic: states, who may acquire, epochs, when a holder has lost it. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { LeaseFile } from '../../src/contract/types.generated.js';
import { validators } from '../../src/contract/validate.js';
import { acquiredLease, decideAcquire, LEASE_KEY, leaseState, lostBecause, releasedLease, renewedLease, type HeldLease, type Owner } from '../../src/runtime/lease.js';

const T = Date.parse('2026-06-01T12:00:00.000Z');
const d = (ms: number) => new Date(T + ms);
const me: Owner = { host: 'here', pid: 100, run_id: 'me' };
const other: Owner = { host: 'there', pid: 200, run_id: 'other' };
const sameHost: Owner = { host: 'here', pid: 300, run_id: 'neighbour' };

/** A lease acquired by `owner` at T with a 10 s TTL, at `epoch`. */
function lease(owner: Owner, epoch = 1): LeaseFile {
  return { ...acquiredLease(epoch > 1 ? ({ epoch: epoch - 1 } as LeaseFile) : null, owner, `tok-${owner.run_id}`, d(0), 10), epoch };
}

const heldOf = (l: LeaseFile): HeldLease => ({ token: l.token, epoch: l.epoch, owner: l.owner });

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
  test('a free lease is taken without takeover', () => {
    assert.deepEqual(decideAcquire(null, d(0), me, false), { ok: true, takeover: 'none', previous: null });
    const released = releasedLease(lease(other), d(5));
    assert.deepEqual(decideAcquire(released, d(6), me, true), { ok: true, takeover: 'none', previous: released });
  });

  test('a lease held by a live owner (another host, or this host with a live pid) is refused', () => {
    const l = lease(other);
    assert.deepEqual(decideAcquire(l, d(1), me, true), { ok: false, holder: l });
    assert.deepEqual(decideAcquire(l, d(1), me, false), { ok: false, holder: l }, "another host's pid says nothing here");
    const n = lease(sameHost);
    assert.deepEqual(decideAcquire(n, d(1), me, true), { ok: false, holder: n });
  });

  test('an expired lease is taken over, whoever held it', () => {
    const l = lease(other, 7);
    assert.deepEqual(decideAcquire(l, d(10_000), me, true), { ok: true, takeover: 'expired', previous: l });
  });

  test('a held lease whose owner on this host is dead is taken over at once', () => {
    const n = lease(sameHost, 3);
    assert.deepEqual(decideAcquire(n, d(1), me, false), { ok: true, takeover: 'dead_owner', previous: n });
  });

  test('our own pid is never "dead": a second acquisition by the same process is refused', () => {
    const mine = lease({ ...me, run_id: 'earlier' });
    assert.equal(decideAcquire(mine, d(1), me, false).ok, false);
  });
});

describe('epochs and the lease file', () => {
  test('epoch starts at 1 and grows by one at every acquisition, released or taken over', () => {
    const first = acquiredLease(null, me, 'a', d(0), 10);
    assert.equal(first.epoch, 1);
    const second = acquiredLease(releasedLease(first, d(1)), other, 'b', d(2), 10);
    assert.equal(second.epoch, 2);
    const third = acquiredLease(second, me, 'c', d(20_000), 10);
    assert.equal(third.epoch, 3);
  });

  test('an acquired lease is a valid lease.json: owner, token, times, expiry = now + ttl', () => {
    const l = acquiredLease(null, me, 'tok', d(0), 1.5);
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
});

describe('lostBecause', () => {
  const l = lease(me, 4);
  const held = heldOf(l);

  test('null while the lease is ours and live', () => {
    assert.equal(lostBecause(l, held, d(9_999)), null);
    assert.equal(lostBecause(renewedLease(l, d(9_000), 10), held, d(15_000)), null);
  });

  test('gone, taken over (another token or epoch), released, expired: each says why', () => {
    assert.match(lostBecause(null, held, d(1)) ?? '', /lease\.json is gone/);
    assert.match(lostBecause({ ...l, token: 'theirs' }, held, d(1)) ?? '', /taken over by here:100 \(run me\) at epoch 4/);
    const takeover = acquiredLease(l, other, 'new', d(10_000), 10);
    assert.match(lostBecause(takeover, held, d(10_001)) ?? '', /taken over by there:200 \(run other\) at epoch 5/);
    assert.match(lostBecause(releasedLease(l, d(1)), held, d(2)) ?? '', /it was released/);
    assert.match(lostBecause(l, held, d(10_000)) ?? '', /it expired at 2026-06-01T12:00:10.000Z/);
  });

  test('the same token at another epoch is not ours', () => {
    assert.notEqual(lostBecause({ ...l, epoch: 5 }, held, d(1)), null);
  });
});
