/**
 * The readiness projection as pure logic: event conditions 1–3 and 5 per candidate, the effects each
 * event causes (ready, superseded, stale), duplicates, and that a projection restored from its
 * sections behaves exactly like the one that never stopped.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { ReadinessEvent } from '../../src/contract/types.generated.js';
import { dedupKey, Projection, type Effect } from '../../src/readiness/projection.js';
import { approved, at, finalized, pushed, shaOf } from '../support/index.js';

/** The "log" of each projection under test: what its read-back of a position finds (as the session reads the file). */
const logs = new WeakMap<Projection, Map<number, ReadinessEvent>>();

/** Applies events at increasing fake offsets (remembered for the read-back); returns every effect, in order. */
function run(p: Projection, events: readonly ReadinessEvent[], firstOffset = 0): Effect[] {
  let log = logs.get(p);
  if (!log) {
    const lines = new Map<number, ReadinessEvent>();
    logs.set(p, (log = lines));
    p.readBackWith((position) => lines.get(position) ?? null);
  }
  const all: Effect[] = [];
  events.forEach((e, i) => {
    const effects: Effect[] = [];
    log.set(firstOffset + i * 100, e);
    p.apply(e, firstOffset + i * 100, effects);
    all.push(...effects);
  });
  return all;
}

const describeEffect = (e: Effect) =>
  e.kind === 'superseded' ? `superseded ${e.slug} ${e.previous?.branch ?? '(enqueued)'}`
  : e.kind === 'retry_ignored' ? `retry_ignored ${e.slug} ${e.why}`
  : `${e.kind} ${e.candidate.slug} ${e.candidate.branch}`;

/** A copy through the sections a snapshot file holds (each array copied, as a file read would). */
const roundTrip = (p: Projection) => {
  const x = p.sections();
  const copy = Object.fromEntries(Object.entries(x).map(([k, v]: [string, Uint8Array]) => [k, v.slice()])) as unknown as typeof x;
  return Projection.restore('origin', copy);
};

const c1 = { slug: 's1', branch: 'b1', sha: shaOf(1) };

function permutations<T>(xs: readonly T[]): T[][] {
  if (xs.length <= 1) return [[...xs]];
  return xs.flatMap((x, i) => permutations([...xs.slice(0, i), ...xs.slice(i + 1)]).map((rest) => [x, ...rest]));
}

describe('NOT_READY → READY', () => {
  test('step by step, each missing condition is named until the last one arrives', () => {
    const p = Projection.empty('origin');
    assert.deepEqual(p.conditions(c1), { review_approved: false, finalize_ready: false, branch_pushed: false, superseded_by: null });
    assert.deepEqual(run(p, [approved('s1')]), []);
    assert.deepEqual(p.conditions(c1), { review_approved: true, finalize_ready: false, branch_pushed: false, superseded_by: null });
    assert.deepEqual(run(p, [finalized('s1', 'b1', shaOf(1), at(5))], 100), []);
    assert.deepEqual(p.conditions(c1), { review_approved: true, finalize_ready: true, branch_pushed: false, superseded_by: null });
    const effects = run(p, [pushed('b1', shaOf(1))], 200);
    assert.deepEqual(p.conditions(c1), { review_approved: true, finalize_ready: true, branch_pushed: true, superseded_by: null });
    assert.deepEqual(effects, [{ kind: 'ready', candidate: { ...c1, ready_at: at(5), log_offset: 100 }, ready_ms: Date.parse(at(5)), episode: 1 }]);
  });

  test('in every order of the three events, ready fires exactly once, at the last one', () => {
    const events = [approved('s1'), finalized('s1', 'b1', shaOf(1), at(5)), pushed('b1', shaOf(1))];
    for (const order of permutations(events)) {
      const p = Projection.empty('origin');
      const perEvent = order.map((e) => {
        const effects: Effect[] = [];
        p.apply(e, 0, effects);
        return effects.map(describeEffect);
      });
      assert.deepEqual(perEvent, [[], [], ['ready s1 b1']], order.map((e) => e.type).join(','));
      // Nothing more, whatever repeats.
      assert.deepEqual(run(p, [approved('s1', { review_round: 2 }), pushed('b1', shaOf(1), 'origin', { pusher: 'again' })]), []);
    }
  });

  test('a push to another remote does not count', () => {
    const p = Projection.empty('origin');
    assert.deepEqual(run(p, [approved('s1'), finalized('s1', 'b1', shaOf(1), at(5)), pushed('b1', shaOf(1), 'fork')]), []);
    assert.equal(p.conditions(c1).branch_pushed, false);
    assert.deepEqual(run(p, [pushed('b1', shaOf(1), 'origin')]).map(describeEffect), ['ready s1 b1']);
  });

  test('a push of another sha of the branch does not count', () => {
    const p = Projection.empty('origin');
    assert.deepEqual(run(p, [approved('s1'), finalized('s1', 'b1', shaOf(1), at(5)), pushed('b1', shaOf(2))]), []);
    assert.equal(p.conditions(c1).branch_pushed, false);
  });

  test('one push readies every slug waiting on that branch and sha', () => {
    const p = Projection.empty('origin');
    run(p, [approved('s1'), approved('s2'), finalized('s1', 'shared', shaOf(9), at(1)), finalized('s2', 'shared', shaOf(9), at(2))]);
    assert.deepEqual(run(p, [pushed('shared', shaOf(9))]).map(describeEffect).sort(), ['ready s1 shared', 'ready s2 shared']);
  });
});

describe('supersession', () => {
  test('a newer finalize_ready supersedes a ready head (wasReady) and becomes the head', () => {
    const p = Projection.empty('origin');
    run(p, [approved('s1'), pushed('b1', shaOf(1)), finalized('s1', 'b1', shaOf(1), at(1))]);
    const effects = run(p, [pushed('b2', shaOf(2)), finalized('s1', 'b2', shaOf(2), at(2))], 1000);
    assert.deepEqual(
      effects.map((e) => (e.kind === 'superseded' ? [e.kind, e.slug, e.previous, e.by.sha, e.wasReady] : e.kind === 'retry_ignored' ? [e.kind] : [e.kind, e.candidate.sha])),
      [['superseded', 's1', null, shaOf(2), true], ['ready', shaOf(2)]],
      'an enqueued head is the queue\'s live item: the effect names its slug',
    );
    assert.deepEqual(p.conditions(c1).superseded_by, { slug: 's1', branch: 'b2', sha: shaOf(2) });
    assert.equal(p.conditions({ slug: 's1', branch: 'b2', sha: shaOf(2) }).superseded_by, null);
  });

  test('a not-yet-ready head that is superseded is reported with wasReady false and never becomes ready', () => {
    const p = Projection.empty('origin');
    run(p, [approved('s1'), finalized('s1', 'b1', shaOf(1), at(1))]);
    const effects = run(p, [finalized('s1', 'b2', shaOf(2), at(2))]);
    assert.deepEqual(effects.map((e) => [e.kind, e.kind === 'superseded' && e.wasReady, e.kind === 'superseded' && e.previous]), [['superseded', false, c1]]);
    assert.deepEqual(run(p, [pushed('b1', shaOf(1))]), [], 'its late push changes nothing: supersession is final');
    assert.deepEqual(run(p, [pushed('b2', shaOf(2))]).map(describeEffect), ['ready s1 b2']);
  });

  test('equal ready_at: the one later in the log wins', () => {
    const p = Projection.empty('origin');
    run(p, [approved('s1'), pushed('b1', shaOf(1)), pushed('b2', shaOf(2))]);
    assert.deepEqual(run(p, [finalized('s1', 'b1', shaOf(1), at(7))]).map(describeEffect), ['ready s1 b1']);
    assert.deepEqual(run(p, [finalized('s1', 'b2', shaOf(2), at(7))]).map(describeEffect), ['superseded s1 (enqueued)', 'ready s1 b2']);
    assert.deepEqual(p.conditions(c1).superseded_by, { slug: 's1', branch: 'b2', sha: shaOf(2) });
  });

  test('equal ready_at written in another zone is the same instant', () => {
    const p = Projection.empty('origin');
    run(p, [approved('s1'), finalized('s1', 'b1', shaOf(1), '2026-01-01T12:00:00Z')]);
    assert.deepEqual(run(p, [finalized('s1', 'b2', shaOf(2), '2026-01-01T14:00:00+02:00')]).map((e) => e.kind), ['superseded']);
  });

  test('a finalize_ready older than the head is stale on arrival: never ready, superseded by the head', () => {
    const p = Projection.empty('origin');
    run(p, [approved('s1'), pushed('b1', shaOf(1)), approved('s9'), finalized('s1', 'b2', shaOf(2), at(10))]);
    const effects = run(p, [finalized('s1', 'b1', shaOf(1), at(5))], 5000);
    assert.deepEqual(effects, [{ kind: 'stale', candidate: { ...c1, ready_at: at(5), log_offset: 5000 }, by: { slug: 's1', branch: 'b2', sha: shaOf(2) } }], 'a waiting head names itself from its strings');
    assert.deepEqual(p.conditions(c1), { review_approved: true, finalize_ready: true, branch_pushed: true, superseded_by: { slug: 's1', branch: 'b2', sha: shaOf(2) } });
  });

  test('a head that no longer waits is named by reading its line back; unknown when that line is gone', () => {
    const p = Projection.empty('origin');
    const head = finalized('s1', 'b2', shaOf(2), at(10));
    run(p, [approved('s1'), pushed('b2', shaOf(2)), head], 100);
    const lines = new Map<number, ReadinessEvent>([[300, head]]);
    p.readBackWith((position) => lines.get(position) ?? null);
    assert.deepEqual(run(p, [finalized('s1', 'b1', shaOf(1), at(5))], 5000), [{ kind: 'stale', candidate: { ...c1, ready_at: at(5), log_offset: 5000 }, by: { slug: 's1', branch: 'b2', sha: shaOf(2) } }]);
    assert.deepEqual(p.conditions(c1).superseded_by, { slug: 's1', branch: 'b2', sha: shaOf(2) });
    lines.clear();
    assert.equal(p.conditions(c1).superseded_by, 'unknown', 'newer, but its strings cannot be read back');
  });

  test('slugs are independent', () => {
    const p = Projection.empty('origin');
    run(p, [approved('s1'), approved('s2'), pushed('b1', shaOf(1)), pushed('b2', shaOf(2))]);
    assert.deepEqual(run(p, [finalized('s1', 'b1', shaOf(1), at(9)), finalized('s2', 'b2', shaOf(2), at(1))]).map(describeEffect), ['ready s1 b1', 'ready s2 b2']);
  });
});

describe('duplicates', () => {
  test('an id used by an event that changed something refuses another event under it, even with different content', () => {
    const p = Projection.empty('origin');
    const effects: Effect[] = [];
    assert.equal(p.apply(approved('s1', { id: 'x' }), 0, effects), 'applied');
    assert.equal(p.apply(approved('s2', { id: 'x' }), 100, effects), 'duplicate');
    assert.equal(p.conditions({ slug: 's2', branch: 'b', sha: shaOf(1) }).review_approved, false);
  });

  test('without id, the same content again changes nothing, and costs nothing: no key is kept per event', () => {
    const p = Projection.empty('origin');
    const e = finalized('s1', 'b1', shaOf(1), at(1));
    const reordered = Object.fromEntries(Object.entries(e).reverse()) as ReadinessEvent;
    assert.equal(dedupKey(e), dedupKey(reordered), 'explain still calls it a duplicate');
    assert.equal(p.apply(e, 0, []), 'applied');
    assert.equal(p.apply(reordered, 100, []), 'noop');
    assert.equal(p.apply({ ...e, worker_session_id: 'w2' } as ReadinessEvent, 200, []), 'noop', 'the same candidate finalized again');
    for (let i = 0; i < 1000; i++) p.apply(approved('s1', { review_round: i + 1 }), 300 + i, []);
    assert.deepEqual(p.sizes, { slugs: 1, waiting: 1, approved: 1, approvedSha: 0, pushed: 0, finalized: 1, decided: 0, ids: 0 }, 'a thousand approvals of one slug: one member');
  });

  test('a ready_at that Date cannot use (the schema should have refused it) changes nothing: unusable, to be quarantined', () => {
    const p = Projection.empty('origin');
    const before = p.digest();
    assert.equal(p.apply(finalized('s1', 'b1', shaOf(1), '2016-12-31T23:59:60Z', { id: 'x' }), 0, []), 'unusable');
    assert.equal(p.digest(), before, 'not finalized, its id not taken');
    assert.equal(p.apply(finalized('s1', 'b1', shaOf(1), at(1), { id: 'x' }), 100, []), 'applied');
  });

  test('the same candidate finalized again (another event) changes nothing: one episode, one head', () => {
    const p = Projection.empty('origin');
    run(p, [approved('s1'), pushed('b1', shaOf(1))]);
    assert.deepEqual(run(p, [finalized('s1', 'b1', shaOf(1), at(1))]).map(describeEffect), ['ready s1 b1']);
    assert.deepEqual(run(p, [finalized('s1', 'b1', shaOf(1), at(2), { worker_session_id: 'other' })]), []);
    assert.equal(p.sizes.slugs, 1);
  });
});

describe('approvals bound to a sha', () => {
  const v1 = { slug: 's1', branch: 'b1', sha: shaOf(1) };
  const v2 = { slug: 's1', branch: 'b1', sha: shaOf(2) };

  test('an approval naming v1 makes v1 ready, and not v2 pushed after it (a later push needs its own approval)', () => {
    const p = Projection.empty('origin');
    assert.deepEqual(run(p, [approved('s1', { sha: v1.sha }), pushed('b1', v1.sha), finalized('s1', 'b1', v1.sha, at(1))]).map(describeEffect), ['ready s1 b1']);
    assert.deepEqual(run(p, [pushed('b1', v2.sha), finalized('s1', 'b1', v2.sha, at(2))], 1000).map(describeEffect), ['superseded s1 (enqueued)'], 'v2 supersedes v1 but is not ready');
    assert.equal(p.conditions(v2).review_approved, false);
    assert.equal(p.conditions(v1).review_approved, true);
    const [waiting] = p.waitingCandidates().candidates;
    assert.deepEqual(waiting && [waiting.candidate.sha, waiting.missing_review_approved, waiting.approved_other_sha, waiting.missing_branch_pushed], [v2.sha, true, true, false]);
    assert.deepEqual(run(p, [approved('s1', { sha: v2.sha, review_round: 2 })], 2000).map(describeEffect), ['ready s1 b1'], "v2's own approval");
  });

  test('in every order of the three events, an approval of the sha readies it exactly once; one of another sha never does', () => {
    for (const order of permutations([approved('s1', { sha: v1.sha }), finalized('s1', 'b1', v1.sha, at(5)), pushed('b1', v1.sha)])) {
      const p = Projection.empty('origin');
      assert.deepEqual(run(p, order).map(describeEffect), ['ready s1 b1'], order.map((e) => e.type).join(','));
    }
    for (const order of permutations([approved('s1', { sha: v2.sha }), finalized('s1', 'b1', v1.sha, at(5)), pushed('b1', v1.sha)])) {
      assert.deepEqual(run(Projection.empty('origin'), order), [], order.map((e) => e.type).join(','));
    }
  });

  test('an approval without a sha approves the slug: every candidate of it, as before', () => {
    const p = Projection.empty('origin');
    run(p, [approved('s1'), pushed('b1', v1.sha), pushed('b1', v2.sha), finalized('s1', 'b1', v1.sha, at(1))]);
    assert.deepEqual(run(p, [finalized('s1', 'b1', v2.sha, at(2))], 1000).map(describeEffect), ['superseded s1 (enqueued)', 'ready s1 b1']);
  });

  test('the same approval of a sha again changes nothing; sha-bound approvals survive a snapshot', () => {
    const p = Projection.empty('origin');
    assert.equal(p.apply(approved('s1', { sha: v1.sha, id: 'a' }), 0, []), 'applied');
    assert.equal(p.apply(approved('s1', { sha: v1.sha, review_round: 2 }), 100, []), 'noop');
    assert.equal(p.apply(approved('s2', { sha: v1.sha, id: 'a' }), 200, []), 'duplicate');
    const restored = roundTrip(p);
    assert.equal(restored.digest(), p.digest());
    assert.deepEqual(run(restored, [pushed('b1', v1.sha), finalized('s1', 'b1', v1.sha, at(1))], 300).map(describeEffect), ['ready s1 b1']);
  });
});

describe('retry_requested: readiness episodes', () => {
  const c = { slug: 's1', branch: 'b1', sha: shaOf(1) };
  const retry = (requestedAt: string, extra: Partial<ReadinessEvent> = {}) => ({ type: 'retry_requested', slug: 's1', requested_at: requestedAt, requested_by: 'orchestrator', ...extra }) as ReadinessEvent;
  /** A projection where c is ready (enqueued in episode 1) and, with decidedAt, decided then. */
  function readyOnce(decidedAt?: string): Projection {
    const p = Projection.empty('origin');
    run(p, [approved('s1'), pushed('b1', c.sha), finalized('s1', 'b1', c.sha, at(1))]);
    if (decidedAt) p.markDecided({ ...c, episode: 1, decided_at: decidedAt });
    return p;
  }
  const why = (effects: Effect[]) => effects.map((e) => (e.kind === 'retry_ignored' ? e.why : e.kind === 'ready' ? `ready episode ${e.episode}` : e.kind));

  test('after a decision: a new episode of the current candidate, once; the same retry read again starts nothing', () => {
    const p = readyOnce(at(10));
    const effects = run(p, [retry(at(20), { id: 'r1' })], 1000);
    assert.deepEqual(effects, [{ kind: 'ready', candidate: { ...c, ready_at: at(1), log_offset: 200 }, ready_ms: Date.parse(at(1)), episode: 2, retry: { requested_by: 'orchestrator', requested_at: at(20), id: 'r1' } }]);
    assert.equal(p.isDecided({ ...c, episode: 2 }), false);
    assert.equal(p.isDecided({ ...c, episode: 1 }), true);
    assert.deepEqual(why(run(p, [retry(at(20), { id: 'r1' })], 2000)), ['undecided'], 'read again: episode 2 is not decided yet');
    assert.equal(p.apply({ ...approved('s9'), id: 'r1' }, 2500, []), 'duplicate', 'its id is taken');
    p.markDecided({ ...c, episode: 2, decided_at: at(30) });
    assert.deepEqual(why(run(p, [retry(at(20))], 4000)), ['decided_after_request'], 'read again after episode 2 was decided: it was meant for episode 1');
    assert.deepEqual(why(run(p, [retry(at(40), { sha: c.sha })], 5000)), ['ready episode 3'], 'a later retry naming the sha: episode 3');
  });

  test('edge rules: no candidate, another sha, still waiting, not decided yet (queued or in progress), decided after the request', () => {
    assert.deepEqual(why(run(Projection.empty('origin'), [retry(at(5))])), ['no_candidate']);
    assert.deepEqual(why(run(readyOnce(at(10)), [retry(at(20), { sha: shaOf(9) })], 1000)), ['other_sha']);
    const waiting = Projection.empty('origin');
    assert.deepEqual(why(run(waiting, [finalized('s1', 'b1', c.sha, at(1)), retry(at(20))])), ['waiting']);
    assert.deepEqual(why(run(readyOnce(), [retry(at(20))], 1000)), ['undecided']);
    assert.deepEqual(why(run(readyOnce(at(20)), [retry(at(20))], 1000)), ['decided_after_request'], 'decided at the very instant: not before it');
  });

  test('a superseded candidate is never retried: a retry naming it is ignored, one without a sha retries the new head only once decided', () => {
    const p = readyOnce(at(10));
    run(p, [pushed('b2', shaOf(2)), finalized('s1', 'b2', shaOf(2), at(11))], 1000);
    const ignored = run(p, [retry(at(20), { sha: c.sha })], 2000);
    assert.deepEqual(ignored.map((e) => e.kind === 'retry_ignored' && [e.why, e.current?.sha]), [['other_sha', shaOf(2)]]);
    assert.deepEqual(why(run(p, [retry(at(20))], 3000)), ['undecided'], 'the new head is queued, not decided');
  });

  test('a retry of a head whose line cannot be read back starts nothing (and says so)', () => {
    const p = readyOnce(at(10));
    p.readBackWith(() => null);
    assert.deepEqual(why(run(Projection.restore('origin', p.sections()), [retry(at(20))], 1000)), ['unreadable']);
  });

  test('episodes survive a snapshot; a queue item or an outcome of a later episode raises the head to it', () => {
    const p = readyOnce(at(10));
    run(p, [retry(at(20))], 1000);
    const restored = roundTrip(p);
    assert.equal(restored.digest(), p.digest());
    assert.equal(restored.episodeOf(c), 2);
    const stale = readyOnce(at(10));
    stale.noteQueued({ ...c, episode: 2 });
    assert.equal(stale.episodeOf(c), 2, 'the retry came after the snapshot: the queue knows');
    assert.deepEqual(why(run(stale, [retry(at(20))], 1000)), ['undecided']);
    stale.markDecided({ ...c, episode: 2, decided_at: at(30) });
    stale.markDecided({ ...c, episode: 1, decided_at: at(10) });
    assert.equal(stale.episodeOf(c), 2, 'an older episode never lowers it');
    assert.deepEqual(why(run(stale, [retry(at(40))], 2000)), ['ready episode 3']);
  });

  test('decisions read before the log (a journal lost: the ledger first, then the whole log) are taken by the candidate when it becomes the head', () => {
    const p = Projection.empty('origin');
    p.markDecided({ ...c, episode: 1, decided_at: at(10) });
    p.markDecided({ ...c, episode: 2, decided_at: at(30) });
    run(p, [approved('s1'), pushed('b1', c.sha)]);
    assert.deepEqual(why(run(p, [finalized('s1', 'b1', c.sha, at(1))], 1000)), ['ready episode 2'], 'enqueued again is refused by the ledger (decided in episode 2)');
    assert.ok(p.isDecided({ ...c, episode: 2 }));
    assert.deepEqual(why(run(p, [retry(at(20))], 2000)), ['decided_after_request'], 'the retry that started episode 2');
    assert.deepEqual(why(run(p, [retry(at(40))], 3000)), ['ready episode 3']);
  });

  test('a requested_at Date cannot use is unusable: nothing applied', () => {
    const p = readyOnce(at(10));
    const before = p.digest();
    assert.equal(p.apply(retry('2016-12-31T23:59:60Z'), 0, []), 'unusable');
    assert.equal(p.digest(), before);
  });
});

describe('waiting candidates', () => {
  test('oldest ready_at first, with what each lacks; the limit cuts the list, not the total', () => {
    const p = Projection.empty('origin');
    run(p, [finalized('late', 'b3', shaOf(3), at(30)), approved('early'), finalized('early', 'b1', shaOf(1), at(10)), pushed('b2', shaOf(2)), finalized('mid', 'b2', shaOf(2), at(20)), approved('done'), pushed('b4', shaOf(4)), finalized('done', 'b4', shaOf(4), at(5))]);
    const all = p.waitingCandidates();
    assert.equal(all.total, 3);
    assert.deepEqual(
      all.candidates.map((w) => [w.candidate.slug, w.missing_review_approved, w.missing_branch_pushed]),
      [['early', false, true], ['mid', true, false], ['late', true, true]],
    );
    const cut = p.waitingCandidates(1);
    assert.deepEqual([cut.total, cut.candidates.map((w) => w.candidate.slug)], [3, ['early']]);
  });
});

describe('snapshot and restore', () => {
  // Candidates in every state: ready, waiting for a push, waiting for approval, superseded, stale.
  const history: ReadinessEvent[] = [
    approved('ready'),
    pushed('r', shaOf(1)),
    finalized('ready', 'r', shaOf(1), at(1)),
    approved('wait-push'),
    finalized('wait-push', 'wp', shaOf(2), at(2)),
    finalized('wait-approval', 'wa', shaOf(3), at(3)),
    pushed('wa', shaOf(3)),
    finalized('ready', 'r2', shaOf(4), at(4)),
    finalized('ready', 'r-old', shaOf(5), at(0)),
  ];
  const future: ReadinessEvent[] = [
    pushed('wp', shaOf(2)),
    approved('wait-approval'),
    pushed('r2', shaOf(4)),
    finalized('ready', 'r3', shaOf(6), at(9)),
    ...history.slice(0, 3), // replayed: nothing happens
  ];

  test('a restored projection behaves exactly like the one that never stopped', () => {
    const live = Projection.empty('origin');
    run(live, history);
    live.markDecided({ slug: 'ready', branch: 'r', sha: shaOf(1) });
    const restored = roundTrip(live);
    assert.equal(restored.digest(), live.digest());
    assert.deepEqual(restored.sizes, live.sizes);
    assert.deepEqual(run(restored, future, 10_000), run(live, future, 10_000));
    assert.equal(restored.digest(), live.digest());
    assert.ok(restored.isDecided({ slug: 'ready', branch: 'r', sha: shaOf(1) }));
    assert.ok(!restored.isDecided({ slug: 'ready', branch: 'r2', sha: shaOf(4) }));
  });

  test('the effects of the future are the expected ones', () => {
    const p = Projection.empty('origin');
    run(p, history);
    assert.deepEqual(run(p, future).map(describeEffect), ['ready wait-push wp', 'ready wait-approval wa', 'ready ready r2', 'superseded ready (enqueued)']);
    assert.deepEqual(p.conditions({ slug: 'ready', branch: 'r3', sha: shaOf(6) }), { review_approved: true, finalize_ready: true, branch_pushed: false, superseded_by: null });
  });

  test('an empty projection round-trips', () => {
    assert.deepEqual(roundTrip(Projection.empty('origin')).sizes, Projection.empty('origin').sizes);
  });

  test('many waiting heads come and go: the arena and the indexes stay exact (heads superseded, promoted, restored midway)', () => {
    let p = Projection.empty('origin');
    const ready: string[] = [];
    for (let i = 0; i < 5000; i++) {
      const slug = `w${i}`;
      p.apply(finalized(slug, `b${i}`, shaOf(i), at(i)), i * 10, []);
      if (i % 3 === 0) p.apply(finalized(slug, `b${i}-v2`, shaOf(100_000 + i), at(i + 1)), i * 10 + 1, []);
      if (i === 2500) p = roundTrip(p);
    }
    assert.equal(p.sizes.waiting, 5000);
    for (let i = 0; i < 5000; i += 2) {
      const effects: Effect[] = [];
      p.apply(approved(`w${i}`), 1e6 + i, []);
      p.apply(pushed(i % 3 === 0 ? `b${i}-v2` : `b${i}`, shaOf(i % 3 === 0 ? 100_000 + i : i)), 2e6 + i, effects);
      ready.push(...effects.map(describeEffect));
    }
    assert.equal(ready.length, 2500);
    assert.deepEqual(ready.slice(0, 3), ['ready w0 b0-v2', 'ready w2 b2', 'ready w4 b4']);
    assert.equal(p.sizes.waiting, 2500);
    const q = roundTrip(p);
    assert.equal(q.digest(), p.digest());
    const late: Effect[] = [];
    q.apply(approved('w4999'), 3e6, []);
    q.apply(pushed('b4999', shaOf(4999)), 3e6 + 1, late);
    assert.deepEqual(late.map(describeEffect), ['ready w4999 b4999']);
  });
});
