/**
 * Ingestion on real files, through the holder's session (real lease, real mutex, real state files):
 * partial lines, quarantine of every kind of bad line, replay and duplicates, truncation and
 * replacement, NOT_READY → READY, supersession (queued, not yet ready, stale on arrival), the
 * equal-ready_at tie-break and FIFO order.
 */
import assert from 'node:assert/strict';
import { appendFileSync, readdirSync, readFileSync, renameSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import type { Outcome, QueueItem, ReadinessEvent, RejectedLine } from '../../src/contract/types.generated.js';
import { validators } from '../../src/contract/validate.js';
import { MAX_LINE_BYTES } from '../../src/readiness/parse.js';
import { QueueState } from '../../src/queue/queue.js';
import { releaseLease } from '../../src/runtime/lease-store.js';
import { HolderSession } from '../../src/runtime/session.js';
import { readCheckpointFile, readQueue } from '../../src/store/readers.js';
import {
  appendEvents,
  fakeTimers,
  approved,
  at,
  candidateEvents,
  engineOf,
  finalized,
  holdLease,
  keyOf,
  ledger,
  manualClock,
  never,
  pushed,
  recordingEngine,
  resolvedConfig,
  shaOf,
  tally,
  tempDir,
  tempDirsRemovedAfter,
  testContext,
  writeQueueJournal,
  type TestContext,
} from '../support/index.js';

const state = tempDirsRemovedAfter();

interface Holder {
  session: HolderSession;
  ctx: TestContext;
  order: string[];
  /** Drains the queue to its end with an instant engine; the number decided. */
  drain(): Promise<number>;
  /** Ends the round, closes the session and releases the lease, so that the next `open` may take it. */
  close(): Promise<void>;
}

const clock = manualClock();

/** Acquires the lease and opens the holder's session on `dir`, as the runtime does. */
async function open(st: ReturnType<typeof tempDir>): Promise<Holder> {
  const ctx = testContext({ now: clock.now, timers: fakeTimers(clock) });
  const held = await holdLease(st.paths, clock.now());
  const ev = recordingEngine();
  const session = await HolderSession.open({ paths: st.paths, config: resolvedConfig(st.dir), ctx, held });
  return {
    session,
    ctx,
    order: ev.order,
    drain: () => session.drain(engineOf(ev), never()),
    close: async () => {
      await session.endRound();
      session.close();
      assert.ok(await releaseLease(st.paths, held, clock.now));
    },
  };
}

const rejectedLines = (st: ReturnType<typeof tempDir>): RejectedLine[] => {
  try {
    return readFileSync(st.paths.rejected, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as RejectedLine);
  } catch {
    return [];
  }
};

const queued = (st: ReturnType<typeof tempDir>) => readQueue(st.paths).map((it) => `${it.slug} ${it.branch} ${it.status}`);
const stripTimes = (o: Outcome) => ({ ...o, duration_ms: 0 });

describe('reading the log', () => {
  test('a partial last line waits, is not quarantined, and completes', async () => {
    const st = state();
    const [ra, fr, bp] = candidateEvents(1);
    writeFileSync(st.paths.readiness, `${JSON.stringify(ra)}\n${JSON.stringify(fr)}\n${JSON.stringify(bp).slice(0, 40)}`);
    const h = await open(st);
    assert.deepEqual(tally(await h.session.ingest()), { accepted: 2, rejected: 0, enqueued: 0, superseded: 0 });
    assert.equal(h.session.projection.conditions({ slug: 's1', branch: 'b1', sha: shaOf(1) }).branch_pushed, false);
    assert.deepEqual(tally(await h.session.ingest()), { accepted: 0, rejected: 0, enqueued: 0, superseded: 0 }, 'read again: still waiting');
    appendFileSync(st.paths.readiness, `${JSON.stringify(bp).slice(40)}\n`);
    assert.deepEqual(tally(await h.session.ingest()), { accepted: 1, rejected: 0, enqueued: 1, superseded: 0 });
    assert.deepEqual(queued(st), ['s1 b1 queued']);
    assert.deepEqual(rejectedLines(st), []);
    await h.close();
  });

  test('every kind of bad line is quarantined with its reason, offset and line; the valid lines around it are ingested', async () => {
    const st = state();
    const [ra, fr, bp] = candidateEvents(1);
    const lines: [Buffer, RejectedLine['reason'] | null][] = [
      [Buffer.from(JSON.stringify(ra)), null],
      [Buffer.from('{"type":"review_approved","slug":'), 'invalid_json'],
      [Buffer.from(JSON.stringify(fr)), null],
      [Buffer.concat([Buffer.from('{"type":"branch_pushed","pusher":"'), Buffer.from([0xc3, 0x28]), Buffer.from('"}')]), 'invalid_utf8'],
      [Buffer.from(JSON.stringify({ ...approved('s2'), review_round: 0 })), 'schema'],
      [Buffer.from(JSON.stringify({ ...approved('s3'), reviewer_session_id: 'x'.repeat(MAX_LINE_BYTES) })), 'line_too_long'],
      [Buffer.from(JSON.stringify({ type: 'merged', slug: 's1' })), 'unknown_type'],
      [Buffer.from('[1,2,3]'), 'not_an_object'],
      [Buffer.from(JSON.stringify(finalized('s1', 'b9', shaOf(9), '2016-12-31T23:59:60Z'))), 'schema'],
      [Buffer.from(''), null],
      [Buffer.from(JSON.stringify(bp)), null],
    ];
    writeFileSync(st.paths.readiness, Buffer.concat(lines.flatMap(([b]) => [b, Buffer.from('\n')])));
    const offsets: number[] = [];
    lines.reduce((off, [b]) => (offsets.push(off), off + b.length + 1), 0);

    const h = await open(st);
    assert.deepEqual(tally(await h.session.ingest()), { accepted: 3, rejected: 7, enqueued: 1, superseded: 0 }, 'a blank line is neither an event nor an error');
    assert.deepEqual(queued(st), ['s1 b1 queued'], 'the candidate whose lines surround the bad ones is ready');

    const got = rejectedLines(st);
    const want = lines.flatMap(([, reason], i) => (reason ? [{ reason, offset: offsets[i], line: i + 1 }] : []));
    assert.deepEqual(got.map((r) => ({ reason: r.reason, offset: r.offset, line: r.line })), want);
    for (const r of got) {
      assert.ok(validators.rejected(r), JSON.stringify(validators.rejected.errors));
      assert.ok(r.errors.length > 0 && r.errors.every((e) => e.length > 0));
    }
    assert.ok(got.find((r) => r.reason === 'schema')?.errors.some((e) => e.startsWith('review_round: must be >= 1')));
    assert.equal(got.find((r) => r.reason === 'line_too_long')?.truncated, true);
    assert.equal(h.ctx.events('line_rejected').length, 7);

    // Nothing is quarantined twice: not by the same session, nor after a restart from the checkpoint.
    await h.session.ingest();
    await h.close();
    const h2 = await open(st);
    await h2.session.ingest();
    await h2.close();
    assert.equal(rejectedLines(st).length, 7);
  });
});

/** A log with every kind of history: ready, waiting, superseded while queued and while waiting, stale. */
function history(): ReadinessEvent[] {
  return [
    ...candidateEvents(1),
    ...candidateEvents(2),
    approved('s3'), // s3 waits for its push: never ready
    finalized('s3', 'b3', shaOf(3), at(3)),
    finalized('s2', 'b2-new', shaOf(22), at(20)), // supersedes queued s2 (not yet pushed: waits)
    approved('s4', { id: 'ra-4' }),
    finalized('s4', 'b4', shaOf(4), at(4)), // not pushed yet, then superseded while waiting
    finalized('s4', 'b4-new', shaOf(44), at(40)),
    pushed('b4-new', shaOf(44)),
    pushed('b4', shaOf(4)),
    finalized('s1', 'b1-old', shaOf(11), at(0)), // older than s1's head: stale on arrival
    ...candidateEvents(5, at(1)),
  ];
}

/** Duplicates of history(): same id with other content, or (without id) the same content in another key order. */
function duplicates(): ReadinessEvent[] {
  return history().map((e) => (e.id !== undefined ? { ...e, ...(e.type === 'finalize_ready' ? { ready_at: at(999) } : {}), ...(e.type === 'branch_pushed' ? { pusher: 'again' } : {}) } : (Object.fromEntries(Object.entries(e).reverse()) as ReadinessEvent)));
}

interface Result {
  afterIngest: { queue: readonly QueueItem[]; ledger: unknown[]; projection: unknown };
  afterDrain: { queue: readonly QueueItem[]; ledger: unknown[]; projection: unknown; order: string[] };
}

/** Ingests `lines`, then drains; what the state looks like after each step. */
async function replay(lines: readonly (object | string)[]): Promise<Result> {
  const st = state();
  appendEvents(st.paths.readiness, lines);
  const h = await open(st);
  await h.session.ingest();
  const afterIngest = { queue: readQueue(st.paths), ledger: ledger(st.paths).map(stripTimes), projection: h.session.projection.digest() };
  await h.drain();
  const afterDrain = { queue: readQueue(st.paths), ledger: ledger(st.paths).map(stripTimes), projection: h.session.projection.digest(), order: h.order };
  await h.close();
  return { afterIngest, afterDrain };
}

describe('quarantine after a crash', () => {
  test('lines quarantined after the last checkpoint are not quarantined again when the next holder replays them', async () => {
    const st = state();
    appendEvents(st.paths.readiness, ['{"type":"nope"}', ...candidateEvents(1)]);
    const crashed = await open(st);
    await crashed.session.ingest();
    assert.equal(rejectedLines(st).length, 1);
    // No checkpoint, no release: the holder died. The next one takes the lease over once it expired.
    clock.advance(3_600_000);
    const next = await open(st);
    await next.session.ingest();
    assert.equal(rejectedLines(st).length, 1, 'the bad line is in rejected.jsonl once');
    await next.close();
    assert.equal(readCheckpointFile(st.paths)?.round.rejected.count, 1);
  });

  test('a flood of bad lines in one read is quarantined whole (no per-line argument list)', async () => {
    const st = state();
    writeFileSync(st.paths.readiness, `${'x\n'.repeat(150_000)}${candidateEvents(1).map((e) => JSON.stringify(e)).join('\n')}\n`);
    const h = await open(st);
    assert.deepEqual(tally(await h.session.ingest()), { accepted: 3, rejected: 150_000, enqueued: 1, superseded: 0 });
    await h.close();
    assert.equal(readCheckpointFile(st.paths)?.round.rejected.count, 150_000);
    assert.equal(rejectedLines(st).length, 150_000);
  });
});

describe('replay and duplicates', () => {
  test('the history decides as expected', async () => {
    const r = await replay(history());
    assert.deepEqual(r.afterIngest.queue.map((it) => it.slug), ['s1', 's5', 's4']);
    assert.deepEqual(r.afterIngest.ledger.map((o) => { const x = o as Outcome; return [x.outcome, x.slug, x.branch, x.superseded_by?.branch]; }), [['superseded', 's2', 'b2', 'b2-new']]);
    assert.deepEqual(r.afterDrain.order, ['s1', 's5', 's4']);
    assert.deepEqual(r.afterDrain.queue, []);
  });

  test('the same log twice in a row yields the same projection, queue and ledger as once', async () => {
    const once = await replay(history());
    const twice = await replay([...history(), ...history()]);
    assert.deepEqual(twice, once);
  });

  test('duplicates with and without id change nothing', async () => {
    const once = await replay(history());
    const dup = await replay([...history(), ...duplicates()]);
    assert.deepEqual(dup, once);
  });

  test('re-reading the whole log after losing the checkpoint decides nothing twice', async () => {
    const st = state();
    appendEvents(st.paths.readiness, history());
    let h = await open(st);
    await h.session.ingest();
    await h.drain();
    await h.close();
    const before = readFileSync(st.paths.outcomes, 'utf8');
    // Every state file but the logs lost: the checkpoint, the journal, the snapshot.
    for (const f of readdirSync(st.dir)) if (/^(checkpoint\.json|journal\..*|projection\..*)$/.test(f)) rmSync(join(st.dir, f));
    h = await open(st);
    const again = await h.session.ingest();
    assert.equal(again.accepted, history().length, 'every line was read again');
    assert.equal(again.enqueued, 0);
    assert.equal(again.superseded, 0);
    assert.equal(await h.drain(), 0);
    await h.close();
    assert.equal(readFileSync(st.paths.outcomes, 'utf8'), before);
    assert.deepEqual(queued(st), []);
  });
});

describe('truncation and replacement', () => {
  const next = (n: number) => candidateEvents(n, at(100 + n));

  test('are detected and re-read without duplicating anything, in a session and after a restart', async () => {
    const st = state();
    appendEvents(st.paths.readiness, history());
    let h = await open(st);
    await h.session.ingest();
    await h.drain();
    const decided = ledger(st.paths).length;

    // Truncated, then rewritten shorter: one new candidate and part of the history again.
    truncateSync(st.paths.readiness, 0);
    appendEvents(st.paths.readiness, [...next(6), ...history().slice(0, 6)]);
    let r = await h.session.ingest();
    assert.deepEqual(h.ctx.events('log_reset').map((l) => l.fields.why), ['truncated']);
    assert.deepEqual([r.applied, r.enqueued, r.superseded], [3, 1, 0]);
    await h.drain();
    assert.deepEqual(h.order.slice(-1), ['s6']);

    // Replaced by rename (new inode), longer than before.
    const tmp = join(st.dir, 'readiness.new');
    writeFileSync(tmp, [...history(), ...next(6), ...next(7), ...history()].map((e) => `${JSON.stringify(e)}\n`).join(''));
    renameSync(tmp, st.paths.readiness);
    r = await h.session.ingest();
    assert.deepEqual(h.ctx.events('log_reset').map((l) => l.fields.why), ['truncated', 'replaced']);
    assert.deepEqual([r.applied, r.enqueued], [3, 1]);
    await h.drain();
    await h.close();

    // Replaced again while no holder runs: the next one notices from its checkpoint.
    writeFileSync(tmp, [...next(8), ...history(), ...next(7)].map((e) => `${JSON.stringify(e)}\n`).join(''));
    renameSync(tmp, st.paths.readiness);
    h = await open(st);
    r = await h.session.ingest();
    assert.deepEqual(h.ctx.events('log_reset').map((l) => l.fields.why), ['replaced']);
    assert.deepEqual([r.applied, r.enqueued], [3, 1]);
    await h.drain();
    await h.close();

    const outcomes = ledger(st.paths);
    assert.equal(outcomes.length, decided + 3);
    assert.equal(new Set(outcomes.map(keyOf)).size, outcomes.length, 'no candidate decided twice');
    assert.deepEqual(queued(st), []);
  });
});

describe('readiness, step by step', () => {
  test('NOT_READY → READY: each missing condition named until the last event; enqueued only then', async () => {
    const st = state();
    const c = { slug: 's1', branch: 'b1', sha: shaOf(1) };
    const h = await open(st);
    const steps: [ReadinessEvent, Partial<ReturnType<HolderSession['projection']['conditions']>>][] = [
      [pushed('b1', shaOf(1)), { review_approved: false, finalize_ready: false, branch_pushed: true }],
      [pushed('b1', shaOf(1), 'fork', { pusher: 'x' }), { branch_pushed: true }],
      [approved('s1'), { review_approved: true, finalize_ready: false }],
      [finalized('s1', 'b1', shaOf(1), at(1)), { review_approved: true, finalize_ready: true, branch_pushed: true }],
    ];
    for (const [i, [event, expect]] of steps.entries()) {
      appendEvents(st.paths.readiness, [event]);
      const r = await h.session.ingest();
      const cond = h.session.projection.conditions(c);
      for (const [k, v] of Object.entries(expect)) assert.equal(cond[k as keyof typeof cond], v, `after step ${i}: ${k}`);
      assert.equal(r.enqueued, i === steps.length - 1 ? 1 : 0, `step ${i}`);
    }
    assert.deepEqual(queued(st), ['s1 b1 queued']);
    await h.drain();
    assert.deepEqual(ledger(st.paths).map((o) => [o.outcome, o.reasons]), [['would_integrate', []]]);
    await h.close();
  });

  test('a drain names the missing conditions of a queued item whose events are not all there, and only then', async () => {
    const st = state();
    // A queue inherited without the events behind it (e.g. its log was replaced).
    const q = new QueueState();
    for (const n of [1, 2, 3]) q.enqueue({ slug: `s${n}`, branch: `b${n}`, sha: shaOf(n), ready_at: at(n), log_offset: n }, Date.parse(at(n)), at(0));
    writeQueueJournal(st.paths, q.list());
    appendEvents(st.paths.readiness, [approved('s1'), finalized('s1', 'b1', shaOf(1), at(1)), approved('s2'), pushed('b2', shaOf(2)), ...candidateEvents(3)]);
    const h = await open(st);
    await h.session.ingest();
    await h.drain();
    await h.close();
    assert.deepEqual(
      ledger(st.paths).map((o) => [o.slug, o.outcome, o.reasons]),
      [
        ['s1', 'would_block', ['missing_branch_pushed']],
        ['s2', 'would_block', ['missing_finalize_ready']],
        ['s3', 'would_integrate', []],
      ],
    );
    assert.deepEqual(h.order, ['s3'], 'the engine only sees candidates whose event conditions hold');
  });
});

describe('supersession and order', () => {
  test('a queued candidate superseded by a newer finalize_ready leaves the queue with a superseded outcome', async () => {
    const st = state();
    const h = await open(st);
    appendEvents(st.paths.readiness, candidateEvents(1, at(1)));
    await h.session.ingest();
    assert.deepEqual(queued(st), ['s1 b1 queued']);
    appendEvents(st.paths.readiness, [finalized('s1', 'b1-v2', shaOf(12), at(2))]);
    const r = await h.session.ingest();
    assert.equal(r.superseded, 1);
    assert.deepEqual(queued(st), [], 'the newer one waits for its push');
    const [o] = ledger(st.paths);
    assert.ok(o && validators.outcome(o));
    assert.deepEqual([o.outcome, o.slug, o.branch, o.sha, o.reasons, o.superseded_by, o.lease_epoch], ['superseded', 's1', 'b1', shaOf(1), ['superseded'], { branch: 'b1-v2', sha: shaOf(12) }, 1]);
    assert.equal(o.ready_at, at(1));
    appendEvents(st.paths.readiness, [pushed('b1-v2', shaOf(12))]);
    await h.session.ingest();
    await h.drain();
    await h.close();
    assert.deepEqual(ledger(st.paths).map((x) => [x.outcome, x.branch]), [['superseded', 'b1'], ['would_integrate', 'b1-v2']]);
    assert.deepEqual(h.session.counts, { would_integrate: 1, would_block: 0, superseded: 1 });
  });

  test('a candidate superseded before it was ready is never enqueued and gets no outcome', async () => {
    const st = state();
    const h = await open(st);
    appendEvents(st.paths.readiness, [approved('s1'), finalized('s1', 'b1', shaOf(1), at(1)), finalized('s1', 'b2', shaOf(2), at(2)), pushed('b1', shaOf(1))]);
    const r = await h.session.ingest();
    assert.deepEqual([r.enqueued, r.superseded], [0, 0]);
    assert.deepEqual(queued(st), []);
    assert.deepEqual(h.session.projection.conditions({ slug: 's1', branch: 'b1', sha: shaOf(1) }).superseded_by, { slug: 's1', branch: 'b2', sha: shaOf(2) });
    appendEvents(st.paths.readiness, [pushed('b2', shaOf(2))]);
    await h.session.ingest();
    await h.drain();
    await h.close();
    assert.deepEqual(ledger(st.paths).map((o) => o.branch), ['b2']);
  });

  test('equal ready_at: the one later in the log wins', async () => {
    const st = state();
    const h = await open(st);
    appendEvents(st.paths.readiness, [approved('s1'), pushed('b1', shaOf(1)), pushed('b2', shaOf(2)), finalized('s1', 'b1', shaOf(1), at(5))]);
    await h.session.ingest();
    appendEvents(st.paths.readiness, [finalized('s1', 'b2', shaOf(2), at(5))]);
    await h.session.ingest();
    await h.drain();
    await h.close();
    assert.deepEqual(ledger(st.paths).map((o) => [o.outcome, o.branch, o.superseded_by?.branch]), [['superseded', 'b1', 'b2'], ['would_integrate', 'b2', undefined]]);
  });

  test('a finalize_ready older than the head is superseded on arrival: logged, never enqueued, no outcome', async () => {
    const st = state();
    const h = await open(st);
    appendEvents(st.paths.readiness, [approved('s1'), pushed('b1', shaOf(1)), pushed('b0', shaOf(9)), finalized('s1', 'b1', shaOf(1), at(5))]);
    await h.session.ingest();
    await h.drain();
    appendEvents(st.paths.readiness, [finalized('s1', 'b0', shaOf(9), at(4))]);
    const r = await h.session.ingest();
    assert.deepEqual([r.accepted, r.enqueued, r.superseded], [1, 0, 0]);
    assert.deepEqual(h.ctx.events('superseded_on_arrival').map((l) => [l.fields.slug, l.fields.branch, l.fields.by_branch]), [['s1', 'b0', 'b1']]);
    assert.deepEqual(h.session.projection.conditions({ slug: 's1', branch: 'b0', sha: shaOf(9) }).superseded_by, { slug: 's1', branch: 'b1', sha: shaOf(1) });
    assert.equal(await h.drain(), 0);
    await h.close();
    assert.deepEqual(ledger(st.paths).map((o) => o.branch), ['b1']);
  });

  test('FIFO: drained by ready_at, then by log position, whatever order they became ready in', async () => {
    const st = state();
    const h = await open(st);
    // Log order s1..s5; ready_at order s4, (s2 = s5 tie: s2 is earlier in the log), s1, s3; s3 becomes ready first.
    const readyAt: Record<number, string> = { 1: at(30), 2: at(20), 3: at(40), 4: at(10), 5: at(20) };
    appendEvents(st.paths.readiness, [1, 2, 3, 4, 5].flatMap((n) => [approved(`s${n}`), finalized(`s${n}`, `b${n}`, shaOf(n), readyAt[n] as string)]));
    appendEvents(st.paths.readiness, [3, 5, 1, 4, 2].map((n) => pushed(`b${n}`, shaOf(n))));
    await h.session.ingest();
    assert.deepEqual(readQueue(st.paths).map((it) => it.slug), ['s4', 's2', 's5', 's1', 's3']);
    await h.drain();
    await h.close();
    assert.deepEqual(h.order, ['s4', 's2', 's5', 's1', 's3']);
    assert.deepEqual(ledger(st.paths).map((o) => o.slug), ['s4', 's2', 's5', 's1', 's3']);
  });
});
