/**
 * The lease on real files, with an injected clock: acquisition, refusal, takeover of an expired lease
 * and of a dead owner, epochs claimed exclusively, the epoch never going back (lease.json deleted, or
 * overwritten late by an ex-holder), the time of acquisition taken after the mutex wait, and fencing:
 * a holder that lost its lease writes nothing more, whatever it tries.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import type { ShadowError } from '../../src/contract/errors.js';
import { validators } from '../../src/contract/validate.js';
import { QueueState } from '../../src/queue/queue.js';
import { acquireLease, checkHeld, releaseLease, renewLease } from '../../src/runtime/lease-store.js';
import { HolderSession } from '../../src/runtime/session.js';
import { writeJsonAtomic } from '../../src/store/atomic-json.js';
import { claimEpoch, highestClaim } from '../../src/store/claims.js';
import { journalFile, writeJournal } from '../../src/store/journal.js';
import { withStateMutex } from '../../src/store/mutex.js';
import { readLeaseFile, readQueue } from '../../src/store/readers.js';
import { appendEvents, at, candidateEvents, engineOf, fakeTimers, manualClock, never, owner, recordingEngine, resolvedConfig, shaOf, tempDirsRemovedAfter, testContext } from '../support/index.js';

const state = tempDirsRemovedAfter();

const isLost = (e: ShadowError) => e.code === 'E_LEASE_LOST' && e.exitCode === 1;

/** The pid of a process of ours that has exited. */
function deadPid(): number {
  const r = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
  return Number(r.stdout);
}

describe('acquire, refuse, take over', () => {
  test('the first acquisition is epoch 1; a live holder is refused; after expiry it is taken over at epoch 2', async () => {
    const st = state();
    const clock = manualClock();
    const a = await acquireLease(st.paths, owner('a', 'host-a'), clock.now, 1);
    assert.ok(a.acquired);
    assert.equal(a.takeover, 'none');
    assert.equal(a.held.epoch, 1);
    assert.deepEqual(readLeaseFile(st.paths), a.lease);

    clock.advance(999);
    const busy = await acquireLease(st.paths, owner('b', 'host-b'), clock.now, 1);
    assert.ok(!busy.acquired);
    assert.equal(busy.holder.owner.run_id, 'a');

    clock.advance(1);
    const b = await acquireLease(st.paths, owner('b', 'host-b'), clock.now, 1);
    assert.ok(b.acquired);
    assert.equal(b.takeover, 'expired');
    assert.equal(b.held.epoch, 2);
    assert.equal(b.previous?.owner.run_id, 'a');
    assert.equal(b.previousSinceMs, Date.parse(a.lease.acquired_at), 'the previous tenure began with its claim');
    assert.notEqual(b.held.token, a.held.token);
    assert.deepEqual(readdirSync(st.paths.epochs).sort(), ['1', '2'], 'each epoch claimed once');
  });

  test('renewal keeps the lease past its first expiry; release frees it and the epoch keeps growing', async () => {
    const st = state();
    const clock = manualClock();
    const a = await acquireLease(st.paths, owner('a', 'host-a'), clock.now, 1);
    assert.ok(a.acquired);
    clock.advance(800);
    await renewLease(st.paths, a.held, clock.now, 1);
    clock.advance(800);
    assert.equal((await acquireLease(st.paths, owner('b', 'host-b'), clock.now, 1)).acquired, false, 'renewed: still held');
    assert.equal(await releaseLease(st.paths, a.held, clock.now), true);
    assert.equal(readLeaseFile(st.paths)?.released_at, clock.now().toISOString());
    const b = await acquireLease(st.paths, owner('b', 'host-b'), clock.now, 1);
    assert.ok(b.acquired);
    assert.equal(b.takeover, 'none');
    assert.equal(b.held.epoch, 2);
  });

  test('a lease held by a dead pid on this host is taken over at once; a live one is not', async () => {
    const st = state();
    const clock = manualClock();
    const dead = await acquireLease(st.paths, owner('dead', hostname(), deadPid()), clock.now, 3600);
    assert.ok(dead.acquired);
    const c = await acquireLease(st.paths, owner('c', 'host-c'), clock.now, 3600);
    assert.equal(c.acquired, false, 'from another host, a pid says nothing');
    const me = await acquireLease(st.paths, owner('me', hostname(), process.pid), clock.now, 3600);
    assert.ok(me.acquired, 'on its host, the dead pid is known to be gone: no need to wait out the hour');
    assert.equal(me.takeover, 'dead_owner');
    assert.equal(me.held.epoch, 2);
    const neighbour = await acquireLease(st.paths, owner('neighbour', hostname(), process.ppid), clock.now, 3600);
    assert.equal(neighbour.acquired, false, 'another process on this host is refused while our pid lives');
  });

  test('the time of acquisition is read after the mutex was had: a lease written after a long wait is not born expired', async () => {
    const st = state();
    const clock = manualClock();
    let acquisition: ReturnType<typeof acquireLease> | null = null;
    await withStateMutex(st.paths, async () => {
      acquisition = acquireLease(st.paths, owner('a', 'host-a'), clock.now, 60);
      // While the acquirer waits for the mutex, two minutes pass (longer than the TTL).
      await new Promise((resolve) => setTimeout(resolve, 20));
      clock.advance(120_000);
    });
    const a = await (acquisition as unknown as ReturnType<typeof acquireLease>);
    assert.ok(a.acquired);
    assert.equal(a.lease.acquired_at, clock.now().toISOString());
    assert.equal(Date.parse(a.lease.expires_at) - clock.now().getTime(), 60_000);
  });

  test('an epoch is claimed once: a second claim of the same epoch fails, whatever the mutex did', () => {
    const st = state();
    const claim = { epoch: 5, owner: owner('x'), claimed_at: at(0) };
    assert.equal(claimEpoch(st.paths, claim), true);
    assert.equal(claimEpoch(st.paths, { ...claim, owner: owner('y') }), false);
    assert.equal(highestClaim(st.paths), 5);
  });

  test('an acquisition that loses the race for its epoch claim reports the lease busy instead of sharing the epoch', async () => {
    const st = state();
    const clock = manualClock();
    // Another process (which raced past a broken mutex) claimed epoch 1 but has not written lease.json yet.
    claimEpoch(st.paths, { epoch: 1, owner: owner('racer', 'host-r'), claimed_at: clock.now().toISOString() });
    const me = await acquireLease(st.paths, owner('me', 'host-m'), clock.now, 60);
    assert.ok(!me.acquired);
    assert.equal(me.holder.owner.run_id, 'racer');
    assert.equal(me.holder.epoch, 1);
  });
});

describe('the epoch never goes back', () => {
  test('lease.json deleted: the next epoch is above the claims; with the claims deleted too, above what the journal knows', async () => {
    const st = state();
    const clock = manualClock();
    for (let i = 0; i < 3; i++) {
      const a = await acquireLease(st.paths, owner(`a${i}`, 'host-a'), clock.now, 60);
      assert.ok(a.acquired);
      await releaseLease(st.paths, a.held, clock.now);
    }
    rmSync(st.paths.lease);
    const b = await acquireLease(st.paths, owner('b', 'host-b'), clock.now, 60);
    assert.ok(b.acquired);
    assert.equal(b.held.epoch, 4);
    assert.equal(b.takeover, 'unrecorded', 'without lease.json, nobody can tell the last holder released it: what it might still write is sealed');
    // A journal written by epoch 4, then lease.json and every claim lost.
    writeJournal(st.paths, journalFile(4, 0), { t: 'base', epoch: 4, at: at(0), items: 0, round: { epoch: 4, at: at(0), log: { dev: 0, ino: 0, offset: 0, lines: 0, base: 0 }, ledger: { head_len: 0, head_hash: '', offset: 0 }, rejected: { count: 0, position: { head_len: 0, head_hash: '', offset: 0 } }, counts: { would_integrate: 0, would_block: 0, superseded: 0 }, snapshot: null, queue: { live: 0, waiting: 0 } } }, []).close();
    rmSync(st.paths.lease);
    rmSync(st.paths.epochs, { recursive: true });
    clock.advance(3_600_000);
    const c = await acquireLease(st.paths, owner('c', 'host-c'), clock.now, 60);
    assert.ok(c.acquired);
    assert.equal(c.held.epoch, 5);
  });

  test("an ex-holder's late lease.json (an older epoch) does not oust the holder: its renewal writes its lease back, and acquirers judge by the newer claim", async () => {
    const st = state();
    const clock = manualClock();
    const a = await acquireLease(st.paths, owner('a', 'host-a'), clock.now, 1);
    assert.ok(a.acquired);
    clock.advance(2000);
    const b = await acquireLease(st.paths, owner('b', 'host-b'), clock.now, 60);
    assert.ok(b.acquired);
    // A, paused in its renewal between the check and the rename, lands it now.
    writeJsonAtomic(st.paths.lease, { ...a.lease, renewed_at: clock.now().toISOString(), expires_at: new Date(clock.now().getTime() + 1000).toISOString() }, validators.lease);
    assert.equal(checkHeld(st.paths, b.held, clock.now()), null, 'B still holds the lease');
    assert.match(checkHeld(st.paths, a.held, clock.now()) ?? '', /epoch 2 was claimed/, 'A has lost it, whatever lease.json says');
    const c = await acquireLease(st.paths, owner('c', 'host-c'), () => new Date(clock.now().getTime() + 5000), 60);
    assert.equal(c.acquired, false, "A's lease.json expired, but epoch 2's claim was renewed: B holds it");
    const renewed = await renewLease(st.paths, b.held, clock.now, 60);
    assert.equal(renewed.restored, true);
    assert.equal(readLeaseFile(st.paths)?.epoch, 2);
    assert.equal(readLeaseFile(st.paths)?.token, b.held.token);
  });
});

describe('the state mutex', () => {
  test('a mutex left by a dead process of this host is broken at once (and said so), not after the stale time', async () => {
    const st = state();
    // What a process killed with -9 inside the mutex leaves: the lock directory and its owner record.
    mkdirSync(st.paths.mutex);
    const { ino, birthtimeMs } = (await import('node:fs')).statSync(st.paths.mutex);
    writeFileSync(st.paths.mutexOwner, JSON.stringify({ host: hostname(), pid: deadPid(), ino, birthtimeMs }));
    const broken: string[] = [];
    const started = Date.now();
    assert.equal(await withStateMutex(st.paths, () => 42, { onBroken: (o) => broken.push(`${o.host}:${o.pid}`) }), 42);
    assert.equal(broken.length, 1);
    assert.ok(Date.now() - started < 5000, 'not after the 10 s stale time');
    assert.equal(existsSync(st.paths.mutex), false);
  });

  test('a mutex held by a live process is not broken', async () => {
    const st = state();
    mkdirSync(st.paths.mutex);
    const { ino, birthtimeMs } = (await import('node:fs')).statSync(st.paths.mutex);
    writeFileSync(st.paths.mutexOwner, JSON.stringify({ host: hostname(), pid: process.ppid, ino, birthtimeMs }));
    const broken: string[] = [];
    const attempt = withStateMutex(st.paths, () => 1, { onBroken: (o) => broken.push(String(o.pid)) });
    await new Promise((resolve) => setTimeout(resolve, 100));
    assert.deepEqual(broken, []);
    rmSync(st.paths.mutex, { recursive: true });
    rmSync(st.paths.mutexOwner);
    assert.equal(await attempt, 1);
  });
});

describe('fencing: a holder that lost its lease writes nothing more', () => {
  test('renewal and release refuse once another owner took over; checkHeld says why', async () => {
    const st = state();
    const clock = manualClock();
    const a = await acquireLease(st.paths, owner('a', 'host-a'), clock.now, 1);
    assert.ok(a.acquired);
    assert.equal(checkHeld(st.paths, a.held, clock.now()), null);
    clock.advance(2000);
    const b = await acquireLease(st.paths, owner('b', 'host-b'), clock.now, 60);
    assert.ok(b.acquired);
    const leaseText = readFileSync(st.paths.lease, 'utf8');
    assert.match(checkHeld(st.paths, a.held, clock.now()) ?? '', /epoch 2 was claimed by another process/);
    await assert.rejects(renewLease(st.paths, a.held, clock.now, 60), isLost);
    assert.equal(await releaseLease(st.paths, a.held, clock.now), false);
    assert.equal(readFileSync(st.paths.lease, 'utf8'), leaseText, "the new holder's lease is untouched");
  });

  test('an expired lease nobody took yet is lost too', async () => {
    const st = state();
    const clock = manualClock();
    const a = await acquireLease(st.paths, owner('a', 'host-a'), clock.now, 1);
    assert.ok(a.acquired);
    clock.advance(1000);
    assert.match(checkHeld(st.paths, a.held, clock.now()) ?? '', /expired/);
  });

  test('a session whose lease was taken over: ingest, drain and endRound throw E_LEASE_LOST and the ledger, journal and quarantine are unchanged', async () => {
    const st = state();
    const clock = manualClock();
    const a = await acquireLease(st.paths, owner('a', 'host-a'), clock.now, 1);
    assert.ok(a.acquired);
    const ev = recordingEngine();
    const ctx = testContext({ now: clock.now, timers: fakeTimers(clock) });
    const session = await HolderSession.open({ paths: st.paths, config: resolvedConfig(st.dir), ctx, held: a.held });
    appendEvents(st.paths.readiness, [...candidateEvents(1), ...candidateEvents(2), ...candidateEvents(3)]);
    await session.ingest();
    const stop = new AbortController();
    await session.drain(engineOf(recordingEngine(() => stop.abort())), stop.signal); // decides s1 only
    clock.advance(1500);
    const b = await acquireLease(st.paths, owner('b', 'host-b'), clock.now, 60);
    assert.ok(b.acquired);
    assert.equal(b.takeover, 'expired');

    const names = () => readdirSync(st.dir).filter((f) => !f.startsWith('.')).sort();
    const files = names().filter((f) => f !== 'lease.json' && f !== 'epochs' && f !== 'state.lock');
    const before = files.map((f) => readFileSync(join(st.dir, f), 'utf8'));
    appendEvents(st.paths.readiness, [...candidateEvents(4), 'not json']);
    const readinessAfter = readFileSync(st.paths.readiness, 'utf8');

    await assert.rejects(session.drain(engineOf(ev), never()), isLost);
    await assert.rejects(session.ingest(), isLost);
    await assert.rejects(session.endRound({ final: true }), isLost);
    assert.deepEqual(ev.order, [], 'nothing more was evaluated');
    assert.deepEqual(names().filter((f) => f !== 'lease.json' && f !== 'epochs' && f !== 'state.lock'), files, 'no file created');
    assert.deepEqual(files.map((f) => (f === 'readiness.jsonl' ? readinessAfter : readFileSync(join(st.dir, f), 'utf8'))), before.map((t, i) => (files[i] === 'readiness.jsonl' ? readinessAfter : t)));
    session.close();
  });

  test('recovery happens only after acquiring: a session cannot open on a lease it does not hold; the holder recovers', async () => {
    const st = state();
    const clock = manualClock();
    const a = await acquireLease(st.paths, owner('a', 'host-a'), clock.now, 1);
    assert.ok(a.acquired);
    // A crashed holder left s1 in progress.
    const q = new QueueState();
    q.enqueue({ slug: 's1', branch: 'b1', sha: shaOf(1), ready_at: at(1), log_offset: 0 }, Date.parse(at(1)), at(2));
    q.transition({ slug: 's1', branch: 'b1', sha: shaOf(1) }, 'in_progress', 'dequeued', clock.now(), 1);
    const nowhere = { head_len: 0, head_hash: '', offset: 0 };
    writeJournal(st.paths, journalFile(1, 0), { t: 'base', epoch: 1, at: at(0), items: 1, round: { epoch: 1, at: at(0), log: { dev: 0, ino: 0, offset: 0, lines: 0, base: 0 }, ledger: nowhere, rejected: { count: 0, position: nowhere }, counts: { would_integrate: 0, would_block: 0, superseded: 0 }, snapshot: null, queue: { live: 1, waiting: 0 } } }, [...q.list()]).close();

    clock.advance(2000);
    const b = await acquireLease(st.paths, owner('b', 'host-b'), clock.now, 60);
    assert.ok(b.acquired);
    const ctx = testContext({ now: clock.now, timers: fakeTimers(clock) });
    const deps = { paths: st.paths, config: resolvedConfig(st.dir), ctx };
    await assert.rejects(HolderSession.open({ ...deps, held: a.held }), isLost);
    assert.equal(readQueue(st.paths)[0]?.status, 'in_progress', 'not recovered by a non-holder');

    const s = await HolderSession.open({ ...deps, held: b.held, takeover: { kind: b.takeover, sinceMs: b.previousSinceMs } });
    const item = readQueue(st.paths)[0];
    assert.equal(item?.status, 'queued');
    assert.deepEqual(item.transitions.at(-1), { at: clock.now().toISOString(), from: 'in_progress', to: 'queued', reason: 'recovered: its holder stopped before deciding', epoch: 2 });
    assert.deepEqual(ctx.events('item_recovered').map((l) => [l.fields.slug, l.fields.epoch]), [['s1', 2]]);
    assert.equal(s.queue.next()?.slug, 's1');
    s.close();
  });
});

