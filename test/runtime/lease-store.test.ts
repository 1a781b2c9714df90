/**
 * The lease on real files under the real proper-lockfile mutex, with an injected clock: acquisition,
 * refusal, takeover of an expired lease and of a dead owner, epochs, and fencing — a holder that lost
 * its lease writes nothing more, whatever it tries.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { describe, test } from 'node:test';
import type { ShadowError } from '../../src/contract/errors.js';
import { acquireLease, fenced, readLease, releaseLease, renewLease } from '../../src/runtime/lease-store.js';
import { QueueState } from '../../src/queue/queue.js';
import { HolderSession, readQueue } from '../../src/runtime/session.js';
import { writeJsonAtomic } from '../../src/store/atomic-json.js';
import { appendEvents, at, candidateEvents, manualClock, owner, recordingEvaluator, resolvedConfig, shaOf, tempDirsRemovedAfter, testContext } from '../support/index.js';

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
    const a = await acquireLease(st.paths, owner('a', 'host-a'), clock.now(), 1);
    assert.ok(a.acquired);
    assert.equal(a.takeover, 'none');
    assert.equal(a.held.epoch, 1);
    assert.deepEqual(readLease(st.paths), a.lease);

    clock.advance(999);
    const busy = await acquireLease(st.paths, owner('b', 'host-b'), clock.now(), 1);
    assert.ok(!busy.acquired);
    assert.equal(busy.holder.owner.run_id, 'a');

    clock.advance(1);
    const b = await acquireLease(st.paths, owner('b', 'host-b'), clock.now(), 1);
    assert.ok(b.acquired);
    assert.equal(b.takeover, 'expired');
    assert.equal(b.held.epoch, 2);
    assert.equal(b.previous?.owner.run_id, 'a');
    assert.notEqual(b.held.token, a.held.token);
  });

  test('renewal keeps the lease past its first expiry; release frees it and the epoch keeps growing', async () => {
    const st = state();
    const clock = manualClock();
    const a = await acquireLease(st.paths, owner('a', 'host-a'), clock.now(), 1);
    assert.ok(a.acquired);
    clock.advance(800);
    await renewLease(st.paths, a.held, clock.now, 1);
    clock.advance(800);
    assert.equal((await acquireLease(st.paths, owner('b', 'host-b'), clock.now(), 1)).acquired, false, 'renewed: still held');
    assert.equal(await releaseLease(st.paths, a.held, clock.now), true);
    assert.equal(readLease(st.paths)?.released_at, clock.now().toISOString());
    const b = await acquireLease(st.paths, owner('b', 'host-b'), clock.now(), 1);
    assert.ok(b.acquired);
    assert.equal(b.takeover, 'none');
    assert.equal(b.held.epoch, 2);
  });

  test('a lease held by a dead pid on this host is taken over at once; a live one is not', async () => {
    const st = state();
    const clock = manualClock();
    const dead = await acquireLease(st.paths, owner('dead', hostname(), deadPid()), clock.now(), 3600);
    assert.ok(dead.acquired);
    const c = await acquireLease(st.paths, owner('c', 'host-c'), clock.now(), 3600);
    assert.equal(c.acquired, false, 'from another host, a pid says nothing');
    const me = await acquireLease(st.paths, owner('me', hostname(), process.pid), clock.now(), 3600);
    assert.ok(me.acquired, 'on its host, the dead pid is known to be gone: no need to wait out the hour');
    assert.equal(me.takeover, 'dead_owner');
    assert.equal(me.held.epoch, 2);
    const neighbour = await acquireLease(st.paths, owner('neighbour', hostname(), process.ppid), clock.now(), 3600);
    assert.equal(neighbour.acquired, false, 'another process on this host is refused while our pid lives');
  });
});

describe('fencing: a holder that lost its lease writes nothing more', () => {
  test('fenced writes, renewal and release all refuse once another owner took over', async () => {
    const st = state();
    const clock = manualClock();
    const a = await acquireLease(st.paths, owner('a', 'host-a'), clock.now(), 1);
    assert.ok(a.acquired);
    let wrote = 0;
    await fenced(st.paths, a.held, clock.now, () => (wrote += 1));
    clock.advance(2000);
    const b = await acquireLease(st.paths, owner('b', 'host-b'), clock.now(), 60);
    assert.ok(b.acquired);
    const leaseText = readFileSync(st.paths.lease, 'utf8');

    await assert.rejects(fenced(st.paths, a.held, clock.now, () => (wrote += 1)), (e: ShadowError) => isLost(e) && /taken over by host-b/.test(e.message) && e.details.epoch === 1);
    await assert.rejects(renewLease(st.paths, a.held, clock.now, 60), isLost);
    assert.equal(await releaseLease(st.paths, a.held, clock.now), false);
    assert.equal(wrote, 1);
    assert.equal(readFileSync(st.paths.lease, 'utf8'), leaseText, "the new holder's lease is untouched");
    await fenced(st.paths, b.held, clock.now, () => (wrote += 1));
    assert.equal(wrote, 2);
  });

  test('an expired lease nobody took yet is lost too', async () => {
    const st = state();
    const clock = manualClock();
    const a = await acquireLease(st.paths, owner('a', 'host-a'), clock.now(), 1);
    assert.ok(a.acquired);
    clock.advance(1000);
    await assert.rejects(fenced(st.paths, a.held, clock.now, () => 1), (e: ShadowError) => isLost(e) && /expired/.test(e.message));
  });

  test("a session whose lease was taken over: ingest, drain and checkpoint throw E_LEASE_LOST and the ledger, queue and quarantine are unchanged", async () => {
    const st = state();
    const clock = manualClock();
    const a = await acquireLease(st.paths, owner('a', 'host-a'), clock.now(), 1);
    assert.ok(a.acquired);
    const ev = recordingEvaluator();
    const ctx = testContext({ now: clock.now });
    const session = await HolderSession.open({ paths: st.paths, config: resolvedConfig(st.dir), ctx, held: a.held, evaluate: ev.evaluate });
    appendEvents(st.paths.readiness, [...candidateEvents(1), ...candidateEvents(2), ...candidateEvents(3)]);
    await session.ingest();
    let n = 0;
    await session.drain(() => n++ >= 1); // decides s1 only
    assert.deepEqual(ev.order, ['s1']);

    clock.advance(1500);
    const b = await acquireLease(st.paths, owner('b', 'host-b'), clock.now(), 60);
    assert.ok(b.acquired);
    assert.equal(b.takeover, 'expired');
    assert.equal(b.held.epoch, 2);

    const files = [st.paths.outcomes, st.paths.queue, st.paths.rejected, st.paths.checkpoint, st.paths.lease];
    const before = files.map((f) => (existsSync(f) ? readFileSync(f, 'utf8') : null));
    appendEvents(st.paths.readiness, [...candidateEvents(4), 'not json']);

    await assert.rejects(session.drain(() => false), isLost);
    await assert.rejects(session.ingest(), isLost);
    await assert.rejects(session.checkpoint(), isLost);
    assert.deepEqual(ev.order, ['s1'], 'nothing more was evaluated');
    assert.deepEqual(files.map((f) => (existsSync(f) ? readFileSync(f, 'utf8') : null)), before);
  });

  test('recovery happens only after acquiring: a session cannot open on a lease it does not hold; the holder recovers', async () => {
    const st = state();
    const clock = manualClock();
    const a = await acquireLease(st.paths, owner('a', 'host-a'), clock.now(), 1);
    assert.ok(a.acquired);
    // A crashed holder left s1 in progress.
    const q = new QueueState();
    q.enqueue({ slug: 's1', branch: 'b1', sha: shaOf(1), ready_at: at(1), log_offset: 0 }, Date.parse(at(1)), at(2));
    q.transition({ slug: 's1', branch: 'b1', sha: shaOf(1) }, 'in_progress', 'dequeued', clock.now(), 1);
    writeJsonAtomic(st.paths.queue, q.toFile(clock.now(), 1));
    const queueBefore = readFileSync(st.paths.queue, 'utf8');

    clock.advance(2000);
    const b = await acquireLease(st.paths, owner('b', 'host-b'), clock.now(), 60);
    assert.ok(b.acquired);
    const ctx = testContext({ now: clock.now });
    const deps = { paths: st.paths, config: resolvedConfig(st.dir), ctx, evaluate: recordingEvaluator().evaluate };
    await assert.rejects(HolderSession.open({ ...deps, held: a.held }), isLost);
    assert.equal(readFileSync(st.paths.queue, 'utf8'), queueBefore, 'not recovered by a non-holder');

    const s = await HolderSession.open({ ...deps, held: b.held });
    const item = readQueue(st.paths).list()[0];
    assert.equal(item?.status, 'queued');
    assert.deepEqual(item.transitions.at(-1), { at: clock.now().toISOString(), from: 'in_progress', to: 'queued', reason: 'recovered: its holder stopped before deciding', epoch: 2 });
    assert.deepEqual(ctx.events('item_recovered').map((l) => [l.fields.slug, l.fields.epoch]), [['s1', 2]]);
    assert.equal(s.queue.next()?.slug, 's1');
  });
});
