/**
 * The runtime in process, on real state files with the real lease and mutex, and an instant
 * evaluator (no git): the mode gate, FIFO drain, events arriving mid-drain, restart from the
 * checkpoint without re-reading the log, recovery (in_progress items, ledger tail), renewal during a
 * long evaluation, and a lease lost mid-evaluation.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { after, describe, test } from 'node:test';
import type { Outcome } from '../../src/contract/types.generated.js';
import { QueueState } from '../../src/queue/queue.js';
import { drain, type DrainReport } from '../../src/runtime/drain.js';
import type { HeldLease } from '../../src/runtime/lease.js';
import { acquireLease, releaseLease } from '../../src/runtime/lease-store.js';
import { HolderSession, type EngineFactory } from '../../src/runtime/session.js';
import { appendRecords } from '../../src/store/jsonl.js';
import { readCheckpointFile, readLeaseFile, readQueue } from '../../src/store/readers.js';
import {
  appendEvents,
  approved,
  assertEpochsContiguous,
  assertExactlyOnce,
  at,
  candidateEvents,
  finalized,
  holdLease,
  engineOf,
  keyOf,
  ledger,
  fakeTimers,
  never,
  owner,
  pushed,
  recordingEngine,
  shaOf,
  tally,
  tempRepo,
  testContext,
  waitFor,
  writeQueueJournal,
  type TempRepo,
} from '../support/index.js';

/** A context whose timers fire only when the test says so: no renewal runs on its own (machine speed never shows in the logs). */
const runtimeContext = (cwd: string) => testContext({ cwd, timers: fakeTimers() });

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
    const report = await drain(r.load(), runtimeContext(r.dir), { engine: recordingEngine().engine });
    assert.equal(report.status, 'mode_off');
    assert.equal(existsSync(r.paths.lease), false);
    assert.equal(existsSync(r.paths.outcomes), false);
  });

  test('nothing to do: idle, without taking the lease', async () => {
    const r = repo();
    assert.equal((await drain(r.load(), runtimeContext(r.dir), { engine: recordingEngine().engine })).status, 'idle');
    assert.equal(existsSync(r.paths.lease), false);
  });

  test('FIFO: candidates decided by ready_at then log position; checkpoint at the end of the log; lease released', async () => {
    const r = repo();
    const readyAt = [50, 10, 30, 10, 20];
    appendEvents(r.paths.readiness, readyAt.flatMap((s, i) => candidateEvents(i + 1, at(s))));
    const ev = recordingEngine();
    const ctx = runtimeContext(r.dir);
    const done = expectDone(await drain(r.load(), ctx, { engine: ev.engine }));
    assert.deepEqual([done.epoch, done.decided, done.ingested, done.rejected, done.queued], [1, 5, 15, 0, 0]);
    assert.deepEqual(ev.order, ['s2', 's4', 's5', 's3', 's1']);
    assert.deepEqual(ledger(r.paths).map((o) => [o.slug, o.outcome, o.lease_epoch]), ev.order.map((s) => [s, 'would_integrate', 1]));
    assert.equal(readCheckpointFile(r.paths)?.round.log.offset, statSync(r.paths.readiness).size);
    assert.notEqual(readLeaseFile(r.paths)?.released_at, null);
    assert.deepEqual(ctx.logs.filter((l) => l.event.startsWith('lease_')).map((l) => l.event), ['lease_acquired', 'lease_released']);
  });

  test('events arriving while draining are decided in the same tenure', async () => {
    const r = repo();
    appendEvents(r.paths.readiness, candidateEvents(1));
    const ev = recordingEngine((item) => {
      if (item.slug === 's1') appendEvents(r.paths.readiness, candidateEvents(2));
    });
    const done = expectDone(await drain(r.load(), runtimeContext(r.dir), { engine: ev.engine }));
    assert.equal(done.decided, 2);
    assert.deepEqual(ledger(r.paths).map((o) => [o.slug, o.lease_epoch]), [['s1', 1], ['s2', 1]]);
  });

  test('a partial last line is not work: one tenure reads what is whole, the next drains are idle until the line completes', async () => {
    const r = repo();
    const [ra, fr, bp] = candidateEvents(1);
    appendEvents(r.paths.readiness, [ra, fr, Buffer.from(JSON.stringify(bp).slice(0, 30))]);
    const ctx = runtimeContext(r.dir);
    const done = expectDone(await drain(r.load(), ctx, { engine: recordingEngine().engine }));
    assert.deepEqual([done.ingested, done.decided], [2, 0]);
    assert.equal(ctx.events('lease_acquired').length, 1, 'the lease is taken once, not again and again for the same partial line');
    assert.equal((await drain(r.load(), runtimeContext(r.dir), { engine: recordingEngine().engine })).status, 'idle');
    assert.equal(readLeaseFile(r.paths)?.epoch, 1);
    appendEvents(r.paths.readiness, [Buffer.from(`${JSON.stringify(bp).slice(30)}\n`)]);
    const next = expectDone(await drain(r.load(), runtimeContext(r.dir), { engine: recordingEngine().engine }));
    assert.deepEqual([next.epoch, next.ingested, next.decided], [2, 1, 1]);
  });

  test('restart from the checkpoint does not re-read the log: offset = log size, projection restored', async () => {
    const r = repo();
    appendEvents(r.paths.readiness, [1, 2, 3].flatMap((n) => candidateEvents(n)));
    expectDone(await drain(r.load(), runtimeContext(r.dir), { engine: recordingEngine().engine }));
    const size = statSync(r.paths.readiness).size;
    const cp = readCheckpointFile(r.paths);
    assert.equal(cp?.round.log.offset, size);
    assert.equal(cp.round.log.lines, 9);
    assert.deepEqual(cp.round.counts, { would_integrate: 3, would_block: 0, superseded: 0 });

    assert.equal((await drain(r.load(), runtimeContext(r.dir), { engine: recordingEngine().engine })).status, 'idle');
    assert.equal(readLeaseFile(r.paths)?.epoch, 1, 'idle: the lease was not even taken');
    appendEvents(r.paths.readiness, candidateEvents(4));

    const ctx = runtimeContext(r.dir);
    const held = await holdLease(r.paths, new Date(), 'probe');
    const session = await HolderSession.open({ paths: r.paths, config: r.load().config, ctx, held });
    assert.equal(session.logOffset, size);
    for (const n of [1, 2, 3]) {
      const c = { slug: `s${n}`, branch: `b${n}`, sha: shaOf(n) };
      assert.ok(session.projection.isDecided(c));
      assert.deepEqual(session.projection.conditions(c), { review_approved: true, finalize_ready: true, branch_pushed: true, superseded_by: null });
    }
    assert.deepEqual(session.counts, { would_integrate: 3, would_block: 0, superseded: 0 });
    assert.deepEqual(tally(await session.ingest()), { accepted: 3, rejected: 0, enqueued: 1, superseded: 0 }, 'only the new lines are read');
    const ev = recordingEngine();
    await session.drain(engineOf(ev), never());
    await session.endRound();
    session.close();
    await releaseLease(r.paths, held, () => new Date());
    assert.deepEqual(ev.order, ['s4']);
    assert.deepEqual(ledger(r.paths).map((o) => o.slug), ['s1', 's2', 's3', 's4']);
  });

  test('a log rewritten in place before the cursor (same inode, same first bytes, old end on a line boundary) is read again as a replaced one', async () => {
    const r = repo();
    appendEvents(r.paths.readiness, [1, 2].flatMap((n) => candidateEvents(n)));
    expectDone(await drain(r.load(), runtimeContext(r.dir), { engine: recordingEngine().engine }));
    const before = readFileSync(r.paths.readiness);
    const ino = statSync(r.paths.readiness).ino;
    // Rewritten in place: the first line (well over 256 bytes of it) kept, s2's lines replaced by s3's of the same length.
    const replaced = Buffer.from(before.toString().replaceAll('s2', 's3').replaceAll('b2', 'b3').replaceAll(shaOf(2), shaOf(3)).replaceAll('-2', '-3'));
    assert.equal(replaced.length, before.length);
    const fd = (await import('node:fs')).openSync(r.paths.readiness, 'r+');
    (await import('node:fs')).writeSync(fd, replaced, 0, replaced.length, 0);
    (await import('node:fs')).closeSync(fd);
    assert.equal(statSync(r.paths.readiness).ino, ino);
    assert.deepEqual(before.subarray(0, 256), replaced.subarray(0, 256));
    const ctx = runtimeContext(r.dir);
    const ev = recordingEngine();
    expectDone(await drain(r.load(), ctx, { engine: ev.engine }));
    assert.deepEqual(ctx.events('log_reset').map((l) => l.fields.why), ['replaced']);
    assert.deepEqual(ev.order, ['s3'], 'the rewritten part was read: its new candidate decided, the old ones not twice');
    assertExactlyOnce(ledger(r.paths), [key(1), key(2), keyOf({ slug: 's3', branch: 'b3', sha: shaOf(3) })]);
  });
});

describe('recovery', () => {
  /** The journal as a holder that crashed while evaluating s1 left it (s2 still queued). */
  function crashedQueue(r: TempRepo): void {
    const q = new QueueState();
    for (const n of [1, 2]) q.enqueue({ slug: `s${n}`, branch: `b${n}`, sha: shaOf(n), ready_at: at(n), log_offset: (n - 1) * 1000 }, Date.parse(at(n)), at(0));
    q.transition({ slug: 's1', branch: 'b1', sha: shaOf(1) }, 'in_progress', 'dequeued', new Date(), 1);
    writeQueueJournal(r.paths, [...q.list()]);
    appendEvents(r.paths.readiness, [...candidateEvents(1), ...candidateEvents(2)]);
  }

  test('in_progress items go back to queued, only once the lease is ours; then each gets exactly one outcome', async () => {
    const r = repo();
    crashedQueue(r);
    // A live holder on another host: the queue is not ours to touch.
    const other = await acquireLease(r.paths, owner('other', 'elsewhere', 1), () => new Date(), 3600);
    assert.ok(other.acquired);
    const journal = readFileSync(`${r.paths.dir}/journal.1.0.jsonl`, 'utf8');
    const busy = await drain(r.load(), runtimeContext(r.dir), { engine: recordingEngine().engine });
    assert.equal(busy.status, 'lease_busy');
    assert.equal(readFileSync(`${r.paths.dir}/journal.1.0.jsonl`, 'utf8'), journal);

    await releaseLease(r.paths, other.held, () => new Date());
    const ctx = runtimeContext(r.dir);
    const ev = recordingEngine();
    const done = expectDone(await drain(r.load(), ctx, { engine: ev.engine }));
    assert.equal(done.epoch, 3);
    assert.deepEqual(ctx.events('item_recovered').map((l) => [l.fields.slug, l.fields.epoch]), [['s1', 3]]);
    assert.deepEqual(ev.order, ['s1', 's2']);
    assertExactlyOnce(ledger(r.paths), [key(1), key(2)]);
    assert.deepEqual(readQueue(r.paths), []);
    assert.deepEqual([ev.opened, ev.closed], [1, 1], 'one engine for the tenure, closed at its end');
  });

  test('a queue left with another candidate of a slug (checkpoint lost) supersedes it instead of failing every drain', async () => {
    const r = repo();
    // The journal holds s1@sha(1); there is no checkpoint and the log says s1's newest candidate is sha(11).
    const q = new QueueState();
    q.enqueue({ slug: 's1', branch: 'b1', sha: shaOf(1), ready_at: at(1), log_offset: 0 }, Date.parse(at(1)), at(0));
    writeQueueJournal(r.paths, [...q.list()]);
    appendEvents(r.paths.readiness, [approved('s1'), finalized('s1', 'b1-v2', shaOf(11), at(5)), pushed('b1-v2', shaOf(11))]);
    const ev = recordingEngine();
    expectDone(await drain(r.load(), runtimeContext(r.dir), { engine: ev.engine }));
    const outcomes = ledger(r.paths);
    assert.deepEqual(outcomes.map((o) => [o.sha, o.outcome]), [[shaOf(1), 'superseded'], [shaOf(11), 'would_integrate']]);
    assert.deepEqual(outcomes[0]?.superseded_by, { branch: 'b1-v2', sha: shaOf(11) });
    assert.deepEqual(readQueue(r.paths), []);
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
    appendRecords(r.paths.outcomes, [o]);
    const ev = recordingEngine();
    const done = expectDone(await drain(r.load(), runtimeContext(r.dir), { engine: ev.engine }));
    assert.deepEqual(ev.order, ['s2']);
    assertExactlyOnce(ledger(r.paths), [key(1), key(2)]);
    assert.deepEqual(done.counts, { would_integrate: 1, would_block: 1, superseded: 0 });
  });
});

describe('a failure of our own while evaluating', () => {
  test('is an internal error: no outcome recorded, the tenure stops (lease released, engine closed), the next holder recovers the item', async () => {
    const r = repo();
    appendEvents(r.paths.readiness, [1, 2].flatMap((n) => candidateEvents(n)));
    const broken = recordingEngine((item) => {
      if (item.slug === 's1') throw new TypeError("Cannot read properties of undefined (reading 'tree')");
    });
    await assert.rejects(drain(r.load(), runtimeContext(r.dir), { engine: broken.engine }), (e: { code?: string; exitCode?: number; message: string }) => {
      assert.equal(e.code, 'E_INTERNAL');
      assert.equal(e.exitCode, 1);
      assert.match(e.message, /internal error while evaluating s1 b1@0+1: TypeError/);
      return true;
    });
    assert.deepEqual(ledger(r.paths), [], 'never a verdict');
    assert.equal(readQueue(r.paths).find((it) => it.slug === 's1')?.status, 'in_progress');
    assert.notEqual(readLeaseFile(r.paths)?.released_at, null, 'released: the next holder need not wait out the TTL');
    assert.deepEqual([broken.opened, broken.closed], [1, 1]);

    const ctx = runtimeContext(r.dir);
    const ok = recordingEngine();
    expectDone(await drain(r.load(), ctx, { engine: ok.engine }));
    assert.deepEqual(ctx.events('item_recovered').map((l) => l.fields.slug), ['s1']);
    assertExactlyOnce(ledger(r.paths), [key(1), key(2)]);
  });
});

describe('watch keeps its state between tenures', () => {
  test('reused when nobody else held the lease since; loaded again when somebody did', async () => {
    const r = repo();
    appendEvents(r.paths.readiness, candidateEvents(1));
    const config = r.load().config;
    const open = async (runId: string, memory: Parameters<typeof HolderSession.open>[1]) => {
      const ctx = runtimeContext(r.dir);
      const held = await holdLease(r.paths, new Date(), runId);
      const session = await HolderSession.open({ paths: r.paths, config, ctx, held }, memory);
      return { ctx, held, session };
    };
    const close = async (t: Awaited<ReturnType<typeof open>>) => {
      await t.session.endRound();
      const memory = t.session.close();
      assert.ok(await releaseLease(r.paths, t.held, () => new Date()));
      return memory;
    };
    const first = await open('watch', null);
    await first.session.ingest();
    await first.session.drain(engineOf(recordingEngine()), never());
    const memory = await close(first);

    const again = await open('watch', memory);
    assert.deepEqual(again.ctx.events('state_reused').length, 1, 'nothing changed behind its back: no reload');
    assert.equal(again.session.projection, memory.state.projection);
    const memory2 = await close(again);

    // Another process holds the lease for a tenure in between: the journal moved on.
    appendEvents(r.paths.readiness, candidateEvents(2));
    const other = await open('other', null);
    await other.session.ingest();
    await close(other);
    const third = await open('watch', memory2);
    assert.equal(third.ctx.events('state_reused').length, 0, 'loaded again from the journal and the snapshot');
    assert.deepEqual(third.session.queue.list().map((it) => it.slug), ['s2'], "the other tenure's work is seen");
    await close(third);
  });
});

describe('the lease during a tenure', () => {
  test('a long evaluation does not lose the lease: the renewals keep it (driven by the injected timers and clock)', async () => {
    const r = repo('mode: shadow\ngrace_seconds: 0\nlease:\n  ttl_seconds: 1\n  renew_every_seconds: 0.2\n');
    appendEvents(r.paths.readiness, [...candidateEvents(1), ...candidateEvents(2)]);
    const timers = fakeTimers();
    const ev = recordingEngine(async (item) => {
      if (item.slug !== 's1') return;
      // Two renewal periods at a time pass while s1 is evaluated: 1.6 s in all, past the 1 s TTL of the first lease.
      for (let i = 0; i < 4; i++) {
        const before = readLeaseFile(r.paths)?.expires_at;
        timers.advance(400);
        await waitFor(() => readLeaseFile(r.paths)?.expires_at !== before, 'the renewal');
      }
    });
    const ctx = testContext({ cwd: r.dir, now: timers.clock.now, timers });
    const done = expectDone(await drain(r.load(), ctx, { engine: ev.engine }));
    assert.equal(done.decided, 2);
    assert.deepEqual(ledger(r.paths).map((o) => o.lease_epoch), [1, 1]);
    assert.ok(ctx.events('lease_renewed').length >= 4);
    assert.equal(timers.pending(), 0, 'the renewal timer is cleared at the end of the tenure');
  });

  test('a lease lost during a long evaluation closes the engine at once: the check is stopped, not waited for', async () => {
    const r = repo();
    appendEvents(r.paths.readiness, candidateEvents(1));
    const timers = fakeTimers();
    const ctx = testContext({ cwd: r.dir, timers });
    let closes = 0;
    let stopRunning: ((e: Error) => void) | null = null;
    const engine: EngineFactory = () => ({
      // A check that runs until the engine is closed (as the real engine's processes are killed then).
      evaluate: () =>
        new Promise<never>((_, reject) => {
          stopRunning = reject;
          void (async () => {
            const got = await acquireLease(r.paths, owner('thief', 'elsewhere', 1), () => new Date(Date.now() + 3600_000), 60);
            assert.ok(got.acquired);
            timers.advance(30_000); // the renewal finds the lease gone
          })();
        }),
      close: () => {
        closes += 1;
        stopRunning?.(new Error('cancelled: the engine was closed'));
        return Promise.resolve();
      },
    });
    const lost = await drain(r.load(), ctx, { engine });
    assert.equal(lost.status, 'lease_lost', JSON.stringify(lost));
    assert.ok(closes >= 1);
    assert.deepEqual(ledger(r.paths), []);
    assert.equal(readQueue(r.paths)[0]?.status, 'in_progress', 'the next holder recovers it');
  });

  test('a lease taken over mid-evaluation: the decision is not written, the holder stops, the next one finishes', async () => {
    const r = repo();
    appendEvents(r.paths.readiness, [1, 2, 3].flatMap((n) => candidateEvents(n)));
    let thief: HeldLease | null = null;
    const ev = recordingEngine(async (item) => {
      if (item.slug !== 's2') return;
      // Another host, whose clock says our lease expired, takes it over while we evaluate s2.
      const got = await acquireLease(r.paths, owner('thief', 'elsewhere', 1), () => new Date(Date.now() + 3600_000), 60);
      assert.ok(got.acquired);
      thief = got.held;
    });
    const ctx = runtimeContext(r.dir);
    const lost = await drain(r.load(), ctx, { engine: ev.engine });
    assert.equal(lost.status, 'lease_lost', JSON.stringify(lost));
    assert.ok(thief, 'the thief got the lease');
    assert.deepEqual(ledger(r.paths).map((o) => [o.slug, o.lease_epoch]), [['s1', 1]], 'nothing written for s2 under the lost lease');
    assert.equal(existsSync(r.paths.checkpoint), false, 'no checkpoint from a holder that lost its lease');
    assert.equal(readLeaseFile(r.paths)?.owner.run_id, 'thief', 'the new holder is left alone');
    assert.equal(readQueue(r.paths)[0]?.status, 'in_progress');
    assert.equal(ctx.events('lease_lost').length, 1);

    assert.ok(await releaseLease(r.paths, thief, () => new Date(Date.now() + 3600_000)));
    const ev2 = recordingEngine();
    const done = expectDone(await drain(r.load(), runtimeContext(r.dir), { engine: ev2.engine }));
    assert.equal(done.epoch, 3);
    assert.deepEqual(ev2.order, ['s2', 's3']);
    const outcomes = ledger(r.paths);
    assertExactlyOnce(outcomes, [key(1), key(2), key(3)]);
    assertEpochsContiguous(outcomes);
  });
});
