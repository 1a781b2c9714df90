/**
 * The runtime in process, on real state files with the real lease and mutex, and an instant
 * evaluator (no git): the mode gate, FIFO drain, events arriving mid-drain, restart from the
 * checkpoint without re-reading the log, recovery (in_progress items, ledger tail), renewal during a
 * long evaluation, and a lease lost mid-evaluation.
 */
import assert from 'node:assert/strict';
import { existsSync, openSync, closeSync, readFileSync, statSync, writeSync } from 'node:fs';
import { after, describe, test } from 'node:test';
import type { Outcome } from '../../src/contract/types.generated.js';
import { appendOutcomes } from '../../src/ledger/ledger.js';
import { QueueState } from '../../src/queue/queue.js';
import { drain, type DrainReport } from '../../src/runtime/drain.js';
import type { HeldLease } from '../../src/runtime/lease.js';
import { acquireLease, readLease, releaseLease } from '../../src/runtime/lease-store.js';
import { HolderSession, readCheckpoint, readQueue } from '../../src/runtime/session.js';
import { writeJsonAtomic } from '../../src/store/atomic-json.js';
import {
  appendEvents,
  approved,
  assertEpochsContiguous,
  assertExactlyOnce,
  at,
  candidateEvents,
  finalized,
  holdLease,
  keyOf,
  ledger,
  owner,
  pushed,
  recordingEvaluator,
  shaOf,
  sleep,
  tally,
  tempRepo,
  testContext,
  type TempRepo,
} from '../support/index.js';

const repos: TempRepo[] = [];
after(() => repos.forEach((r) => r.remove()));
function repo(config?: string | null): TempRepo {
  const r = tempRepo(config);
  repos.push(r);
  return r;
}

const key = (n: number) => keyOf({ slug: `s${n}`, branch: `b${n}`, sha: shaOf(n) });

function expectDone(r: DrainReport): Extract<DrainReport, { status: 'done' }> {
  assert.equal(r.status, 'done', JSON.stringify(r));
  return r;
}

describe('drain', () => {
  test('mode off: explains, writes nothing', async () => {
    const r = repo(null);
    appendEvents(r.paths.readiness, candidateEvents(1));
    const report = await drain(r.load(), testContext({ cwd: r.dir }), { evaluate: recordingEvaluator().evaluate });
    assert.equal(report.status, 'mode_off');
    assert.equal(existsSync(r.paths.lease), false);
    assert.equal(existsSync(r.paths.outcomes), false);
  });

  test('nothing to do: idle, without taking the lease', async () => {
    const r = repo();
    assert.equal((await drain(r.load(), testContext({ cwd: r.dir }), { evaluate: recordingEvaluator().evaluate })).status, 'idle');
    assert.equal(existsSync(r.paths.lease), false);
  });

  test('FIFO: candidates decided by ready_at then log position; checkpoint at the end of the log; lease released', async () => {
    const r = repo();
    const readyAt = [50, 10, 30, 10, 20];
    appendEvents(r.paths.readiness, readyAt.flatMap((s, i) => candidateEvents(i + 1, at(s))));
    const ev = recordingEvaluator();
    const ctx = testContext({ cwd: r.dir });
    const done = expectDone(await drain(r.load(), ctx, { evaluate: ev.evaluate }));
    assert.deepEqual([done.epoch, done.decided, done.ingested, done.rejected, done.queued], [1, 5, 15, 0, 0]);
    assert.deepEqual(ev.order, ['s2', 's4', 's5', 's3', 's1']);
    assert.deepEqual(ledger(r.paths).map((o) => [o.slug, o.outcome, o.lease_epoch]), ev.order.map((s) => [s, 'would_integrate', 1]));
    assert.equal(readCheckpoint(r.paths)?.log.offset, statSync(r.paths.readiness).size);
    assert.notEqual(readLease(r.paths)?.released_at, null);
    assert.deepEqual(ctx.logs.filter((l) => l.event.startsWith('lease_')).map((l) => l.event), ['lease_acquired', 'lease_released']);
  });

  test('events arriving while draining are decided in the same tenure', async () => {
    const r = repo();
    appendEvents(r.paths.readiness, candidateEvents(1));
    const ev = recordingEvaluator((item) => {
      if (item.slug === 's1') appendEvents(r.paths.readiness, candidateEvents(2));
    });
    const done = expectDone(await drain(r.load(), testContext({ cwd: r.dir }), { evaluate: ev.evaluate }));
    assert.equal(done.decided, 2);
    assert.deepEqual(ledger(r.paths).map((o) => [o.slug, o.lease_epoch]), [['s1', 1], ['s2', 1]]);
  });

  test('a partial last line is not work: one tenure reads what is whole, the next drains are idle until the line completes', async () => {
    const r = repo();
    const [ra, fr, bp] = candidateEvents(1);
    appendEvents(r.paths.readiness, [ra, fr, Buffer.from(JSON.stringify(bp).slice(0, 30))]);
    const ctx = testContext({ cwd: r.dir });
    const done = expectDone(await drain(r.load(), ctx, { evaluate: recordingEvaluator().evaluate }));
    assert.deepEqual([done.ingested, done.decided], [2, 0]);
    assert.equal(ctx.events('lease_acquired').length, 1, 'the lease is taken once, not again and again for the same partial line');
    assert.equal((await drain(r.load(), testContext({ cwd: r.dir }), { evaluate: recordingEvaluator().evaluate })).status, 'idle');
    assert.equal(readLease(r.paths)?.epoch, 1);
    appendEvents(r.paths.readiness, [Buffer.from(`${JSON.stringify(bp).slice(30)}\n`)]);
    const next = expectDone(await drain(r.load(), testContext({ cwd: r.dir }), { evaluate: recordingEvaluator().evaluate }));
    assert.deepEqual([next.epoch, next.ingested, next.decided], [2, 1, 1]);
  });

  test('restart from the checkpoint does not re-read the log: offset = log size, projection restored', async () => {
    const r = repo();
    appendEvents(r.paths.readiness, [1, 2, 3].flatMap((n) => candidateEvents(n)));
    expectDone(await drain(r.load(), testContext({ cwd: r.dir }), { evaluate: recordingEvaluator().evaluate }));
    const size = statSync(r.paths.readiness).size;
    const cp = readCheckpoint(r.paths);
    assert.equal(cp?.log.offset, size);
    assert.equal(cp.log.lines, 9);
    assert.deepEqual(cp.counts, { would_integrate: 3, would_block: 0, superseded: 0 });

    assert.equal((await drain(r.load(), testContext({ cwd: r.dir }), { evaluate: recordingEvaluator().evaluate })).status, 'idle');
    assert.equal(readLease(r.paths)?.epoch, 1, 'idle: the lease was not even taken');

    // Scribble over the consumed part of the log (past its first bytes, same size, same inode): a reader
    // that went back over it would quarantine every line.
    const fd = openSync(r.paths.readiness, 'r+');
    const junk = Buffer.from(readFileSync(r.paths.readiness).subarray(300).toString().replace(/[^\n]/g, '#'));
    writeSync(fd, junk, 0, junk.length, 300);
    closeSync(fd);
    appendEvents(r.paths.readiness, candidateEvents(4));

    const ctx = testContext({ cwd: r.dir });
    const held = await holdLease(r.paths, new Date(), 'probe');
    const session = await HolderSession.open({ paths: r.paths, config: r.load().config, ctx, held, evaluate: recordingEvaluator().evaluate });
    assert.equal(session.logOffset, size);
    for (const n of [1, 2, 3]) {
      const c = { slug: `s${n}`, branch: `b${n}`, sha: shaOf(n) };
      assert.ok(session.projection.isDecided(c));
      assert.deepEqual(session.projection.conditions(c), { review_approved: true, finalize_ready: true, branch_pushed: true, superseded_by: null });
    }
    assert.deepEqual(session.counts, { would_integrate: 3, would_block: 0, superseded: 0 });
    assert.deepEqual(tally(await session.ingest()), { accepted: 3, rejected: 0, enqueued: 1, superseded: 0 });
    assert.equal(existsSync(r.paths.rejected) ? readFileSync(r.paths.rejected, 'utf8') : '', '');
    await session.drain(() => false);
    await session.checkpoint();
    await releaseLease(r.paths, held, () => new Date());
    assert.deepEqual(ledger(r.paths).map((o) => o.slug), ['s1', 's2', 's3', 's4']);
  });
});

describe('recovery', () => {
  /** queue.json as a holder that crashed while evaluating s1 left it (s2 still queued). */
  function crashedQueue(r: TempRepo): void {
    const q = new QueueState();
    for (const n of [1, 2]) q.enqueue({ slug: `s${n}`, branch: `b${n}`, sha: shaOf(n), ready_at: at(n), log_offset: (n - 1) * 1000 }, Date.parse(at(n)), at(0));
    q.transition({ slug: 's1', branch: 'b1', sha: shaOf(1) }, 'in_progress', 'dequeued', new Date(), 1);
    writeJsonAtomic(r.paths.queue, q.toFile(new Date(), 1));
    appendEvents(r.paths.readiness, [...candidateEvents(1), ...candidateEvents(2)]);
  }

  test('in_progress items go back to queued, only once the lease is ours; then each gets exactly one outcome', async () => {
    const r = repo();
    crashedQueue(r);
    // A live holder on another host: the queue is not ours to touch.
    const other = await acquireLease(r.paths, owner('other', 'elsewhere', 1), new Date(), 3600);
    assert.ok(other.acquired);
    const before = readFileSync(r.paths.queue, 'utf8');
    const busy = await drain(r.load(), testContext({ cwd: r.dir }), { evaluate: recordingEvaluator().evaluate });
    assert.equal(busy.status, 'lease_busy');
    assert.equal(readFileSync(r.paths.queue, 'utf8'), before);

    await releaseLease(r.paths, other.held, () => new Date());
    const ctx = testContext({ cwd: r.dir });
    const ev = recordingEvaluator();
    const done = expectDone(await drain(r.load(), ctx, { evaluate: ev.evaluate }));
    assert.equal(done.epoch, 2);
    assert.deepEqual(ctx.events('item_recovered').map((l) => [l.fields.slug, l.fields.epoch]), [['s1', 2]]);
    assert.deepEqual(ev.order, ['s1', 's2']);
    assertExactlyOnce(ledger(r.paths), [key(1), key(2)]);
    assert.deepEqual(readQueue(r.paths).list(), []);
  });

  test('a queue.json left with another candidate of a slug (checkpoint lost) supersedes it instead of failing every drain', async () => {
    const r = repo();
    // queue.json holds s1@sha(1); the checkpoint is gone and the log says s1's newest candidate is sha(11).
    const q = new QueueState();
    q.enqueue({ slug: 's1', branch: 'b1', sha: shaOf(1), ready_at: at(1), log_offset: 0 }, Date.parse(at(1)), at(0));
    writeJsonAtomic(r.paths.queue, q.toFile(new Date(), 1));
    appendEvents(r.paths.readiness, [approved('s1'), finalized('s1', 'b1-v2', shaOf(11), at(5)), pushed('b1-v2', shaOf(11))]);
    const ev = recordingEvaluator();
    expectDone(await drain(r.load(), testContext({ cwd: r.dir }), { evaluate: ev.evaluate }));
    const outcomes = ledger(r.paths);
    assert.deepEqual(outcomes.map((o) => [o.sha, o.outcome]), [[shaOf(1), 'superseded'], [shaOf(11), 'would_integrate']]);
    assert.deepEqual(outcomes[0]?.superseded_by, { branch: 'b1-v2', sha: shaOf(11) });
    assert.deepEqual(readQueue(r.paths).list(), []);
  });

  test('an outcome already in the ledger (crash after the append, before the queue write) is not decided again', async () => {
    const r = repo();
    crashedQueue(r);
    const o: Outcome = {
      schema_version: 1,
      outcome: 'would_block',
      slug: 's1',
      branch: 'b1',
      sha: shaOf(1),
      reasons: ['git_error'],
      conflicts: [],
      main_sha: null,
      merge_base: null,
      merged_tree: null,
      ready_at: at(1),
      enqueued_at: at(0),
      decided_at: at(3),
      lease_epoch: 1,
      duration_ms: 1,
    };
    appendOutcomes(r.paths.outcomes, [o]);
    const ev = recordingEvaluator();
    const done = expectDone(await drain(r.load(), testContext({ cwd: r.dir }), { evaluate: ev.evaluate }));
    assert.deepEqual(ev.order, ['s2']);
    assertExactlyOnce(ledger(r.paths), [key(1), key(2)]);
    assert.deepEqual(done.counts, { would_integrate: 1, would_block: 1, superseded: 0 });
  });
});

describe('the lease during a tenure', () => {
  test('a long evaluation does not lose the lease: renewals keep it (ttl 1 s, renew every 0.2 s)', async () => {
    const r = repo('mode: shadow\ngrace_seconds: 0\nlease:\n  ttl_seconds: 1\n  renew_every_seconds: 0.2\n');
    appendEvents(r.paths.readiness, [...candidateEvents(1), ...candidateEvents(2)]);
    const ev = recordingEvaluator(async (item) => {
      if (item.slug === 's1') await sleep(1500);
    });
    const done = expectDone(await drain(r.load(), testContext({ cwd: r.dir }), { evaluate: ev.evaluate }));
    assert.equal(done.decided, 2);
    assert.deepEqual(ledger(r.paths).map((o) => o.lease_epoch), [1, 1]);
    const lease = readLease(r.paths);
    assert.ok(lease && Date.parse(lease.renewed_at) > Date.parse(lease.acquired_at), 'renewed');
  });

  test('a lease taken over mid-evaluation: the decision is not written, the holder stops, the next one finishes', async () => {
    const r = repo();
    appendEvents(r.paths.readiness, [1, 2, 3].flatMap((n) => candidateEvents(n)));
    let thief: HeldLease | null = null;
    const ev = recordingEvaluator(async (item) => {
      if (item.slug !== 's2') return;
      // Another host, whose clock says our lease expired, takes it over while we evaluate s2.
      const got = await acquireLease(r.paths, owner('thief', 'elsewhere', 1), new Date(Date.now() + 3600_000), 60);
      assert.ok(got.acquired);
      thief = got.held;
    });
    const ctx = testContext({ cwd: r.dir });
    const lost = await drain(r.load(), ctx, { evaluate: ev.evaluate });
    assert.equal(lost.status, 'lease_lost', JSON.stringify(lost));
    assert.ok(thief, 'the thief got the lease');
    assert.deepEqual(ledger(r.paths).map((o) => [o.slug, o.lease_epoch]), [['s1', 1]], 'nothing written for s2 under the lost lease');
    assert.equal(existsSync(r.paths.checkpoint), false, 'no checkpoint from a holder that lost its lease');
    assert.equal(readLease(r.paths)?.owner.run_id, 'thief', 'the new holder is left alone');
    assert.equal(readQueue(r.paths).list()[0]?.status, 'in_progress');
    assert.equal(ctx.events('lease_lost').length, 1);

    assert.ok(await releaseLease(r.paths, thief, () => new Date(Date.now() + 3600_000)));
    const ev2 = recordingEvaluator();
    const done = expectDone(await drain(r.load(), testContext({ cwd: r.dir }), { evaluate: ev2.evaluate }));
    assert.equal(done.epoch, 3);
    assert.deepEqual(ev2.order, ['s2', 's3']);
    const outcomes = ledger(r.paths);
    assertExactlyOnce(outcomes, [key(1), key(2), key(3)]);
    assertEpochsContiguous(outcomes);
  });
});
