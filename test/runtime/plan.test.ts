/**
 * What the holder decides, as pure functions over plain data, table by table: what a projection
 * effect does to the queue, what the event conditions decide before git is asked, the outcome record,
 * recovery of an inherited queue, and when to snapshot or compact.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { QueueItem } from '../../src/contract/types.generated.js';
import { validators } from '../../src/contract/validate.js';
import type { Candidate, CandidateRef, Effect } from '../../src/readiness/projection.js';
import { BOUNDS, buildOutcome, decideFromConditions, planEffect, planRecovery, shouldCompact, shouldSnapshot, supersededFields, type Conditions, type EffectPlan } from '../../src/runtime/plan.js';
import { at, shaOf } from '../support/index.js';

const cand = (slug: string, branch: string, n: number): Candidate => ({ slug, branch, sha: shaOf(n), ready_at: at(n), log_offset: n * 100 });
const item = (c: Candidate, status: QueueItem['status'] = 'queued'): QueueItem => ({ ...c, status, enqueued_at: at(0), episode: 1, transitions: [] });
const ref = (c: CandidateRef): CandidateRef => ({ slug: c.slug, branch: c.branch, sha: c.sha });

describe('planEffect: what a projection effect does to the queue', () => {
  const a1 = cand('a', 'b1', 1);
  const a2 = cand('a', 'b2', 2);
  const cases: { name: string; effect: Effect; queue: QueueItem[]; decided?: CandidateRef[]; want: EffectPlan }[] = [
    { name: 'ready, unknown to the queue: enqueue', effect: { kind: 'ready', candidate: a1, ready_ms: 1, episode: 1 }, queue: [], want: { do: 'enqueue', candidate: a1, ready_ms: 1, episode: 1, retry: null, supersede: null } },
    { name: 'ready, already queued: nothing', effect: { kind: 'ready', candidate: a1, ready_ms: 1, episode: 1 }, queue: [item(a1)], want: { do: 'nothing', why: 'queued' } },
    { name: 'ready, decided in the ledger: nothing, whatever else says so', effect: { kind: 'ready', candidate: a1, ready_ms: 1, episode: 1 }, queue: [], decided: [a1], want: { do: 'nothing', why: 'decided' } },
    {
      name: 'ready while another candidate of the slug is live (lost state): that one superseded first',
      effect: { kind: 'ready', candidate: a2, ready_ms: 2, episode: 1 },
      queue: [item(a1)],
      want: { do: 'enqueue', candidate: a2, ready_ms: 2, episode: 1, retry: null, supersede: item(a1) },
    },
    { name: 'superseded while queued: the queued one is superseded by the new head', effect: { kind: 'superseded', slug: 'a', previous: null, by: a2, wasReady: true }, queue: [item(a1)], want: { do: 'supersede', item: item(a1), by: a2 } },
    { name: 'superseded while in progress: superseded too', effect: { kind: 'superseded', slug: 'a', previous: null, by: a2, wasReady: true }, queue: [item(a1, 'in_progress')], want: { do: 'supersede', item: item(a1, 'in_progress'), by: a2 } },
    { name: 'superseded, nothing queued (it was waiting, or decided): nothing', effect: { kind: 'superseded', slug: 'a', previous: ref(a1), by: a2, wasReady: false }, queue: [], want: { do: 'nothing', why: 'not_queued' } },
    { name: 'stale on arrival: named, nothing queued', effect: { kind: 'stale', candidate: a1, by: ref(a2) }, queue: [], want: { do: 'stale', candidate: a1, by: ref(a2) } },
  ];
  for (const c of cases) {
    test(c.name, () => {
      const bySlug = new Map(c.queue.map((it) => [it.slug, it]));
      const decided = new Set((c.decided ?? []).map((d) => `${d.slug} ${d.branch} ${d.sha}`));
      assert.deepEqual(planEffect(c.effect, { ofSlug: (s) => bySlug.get(s) }, (d) => decided.has(`${d.slug} ${d.branch} ${d.sha}`)), c.want);
    });
  }
});

describe('decideFromConditions: the re-check before the merge, from events', () => {
  const all: Conditions = { review_approved: true, finalize_ready: true, branch_pushed: true, superseded_by: null };
  const cases: { name: string; cond: Conditions; want: ReturnType<typeof decideFromConditions> }[] = [
    { name: 'every event condition met: git decides', cond: all, want: { evaluate: true } },
    { name: 'no approval', cond: { ...all, review_approved: false }, want: { evaluate: false, fields: { outcome: 'would_block', reasons: ['missing_review_approved'] } } },
    {
      name: 'nothing at all: every missing condition named, in the contract order',
      cond: { review_approved: false, finalize_ready: false, branch_pushed: false, superseded_by: null },
      want: { evaluate: false, fields: { outcome: 'would_block', reasons: ['missing_review_approved', 'missing_finalize_ready', 'missing_branch_pushed'] } },
    },
    { name: 'no push', cond: { ...all, branch_pushed: false }, want: { evaluate: false, fields: { outcome: 'would_block', reasons: ['missing_branch_pushed'] } } },
    {
      name: 'superseded (whatever else): superseded, by whom',
      cond: { ...all, review_approved: false, superseded_by: { slug: 'a', branch: 'b2', sha: shaOf(2) } },
      want: { evaluate: false, fields: { outcome: 'superseded', reasons: ['superseded'], superseded_by: { branch: 'b2', sha: shaOf(2) } } },
    },
    { name: 'superseded by a head whose line is gone: superseded, unnamed', cond: { ...all, superseded_by: 'unknown' }, want: { evaluate: false, fields: { outcome: 'superseded', reasons: ['superseded'] } } },
  ];
  for (const c of cases) test(c.name, () => assert.deepEqual(decideFromConditions(c.cond), c.want));
});

describe('buildOutcome: the ledger record', () => {
  const it = item(cand('a', 'b1', 1));
  const meta = { epoch: 7, decidedAt: new Date(Date.parse(at(9))), durationMs: 12.34567, base: 'queue' as const };
  test('a clean verdict: schema 2, episode, base, nothing ahead yet; a valid ledger line', () => {
    const o = buildOutcome(it, { outcome: 'would_integrate', reasons: [], conflicts: [], main_sha: shaOf(9), merge_base: shaOf(8), merged_tree: shaOf(7), git_version: '2.39.5', engine: 'merge-tree' }, meta);
    assert.ok(validators.outcome(o), JSON.stringify(validators.outcome.errors));
    assert.deepEqual(o, {
      schema_version: 2,
      outcome: 'would_integrate',
      slug: 'a',
      branch: 'b1',
      sha: shaOf(1),
      reasons: [],
      conflicts: [],
      main_sha: shaOf(9),
      merge_base: shaOf(8),
      merged_tree: shaOf(7),
      ready_at: at(1),
      enqueued_at: at(0),
      decided_at: at(9),
      lease_epoch: 7,
      duration_ms: 12.346,
      episode: 1,
      base: 'queue',
      ahead: [],
      git_version: '2.39.5',
      engine: 'merge-tree',
    });
  });
  test('a supersession: who superseded it, nulls for what git never computed', () => {
    const o = buildOutcome(it, supersededFields(cand('a', 'b2', 2)), { ...meta, base: 'tip' });
    assert.ok(validators.outcome(o));
    assert.deepEqual([o.outcome, o.reasons, o.superseded_by, o.main_sha, o.merged_tree, o.base], ['superseded', ['superseded'], { branch: 'b2', sha: shaOf(2) }, null, null, 'tip']);
  });
});

describe('planRecovery: an inherited queue', () => {
  test('decided in the ledger: dropped; in progress: back to queued; queued: left', () => {
    const [q, p, d] = [item(cand('q', 'bq', 1)), item(cand('p', 'bp', 2), 'in_progress'), item(cand('d', 'bd', 3), 'in_progress')];
    assert.deepEqual(planRecovery([q, p, d], (c) => c.slug === 'd'), { drop: [d], requeue: [p] });
    assert.deepEqual(planRecovery([], () => true), { drop: [], requeue: [] });
  });
});

describe('bounds: when to snapshot the projection, when to compact the journal', () => {
  const MiB = 1024 * 1024;
  const snap: [number, number, boolean, boolean][] = [
    // tail bytes, snapshot bytes, forced → due?
    [0, 0, true, false],
    [10, 0, true, true],
    [BOUNDS.minTailBytes, 0, false, false],
    [BOUNDS.minTailBytes + 1, 0, false, true],
    [BOUNDS.minTailBytes + 1, 64 * MiB, false, false],
    [16 * MiB + 1, 1024 * MiB, false, true],
  ];
  for (const [tail, size, forced, want] of snap) test(`snapshot: a tail of ${tail} B after ${size} B, forced ${forced}: ${want}`, () => assert.equal(shouldSnapshot(tail, size, forced), want));
  const compact: [number, number, boolean][] = [
    [BOUNDS.minJournalBytes, 0, false],
    [BOUNDS.minJournalBytes + 1, 0, true],
    [BOUNDS.minJournalBytes + 1, BOUNDS.minJournalBytes, false],
    [4 * MiB + 1, MiB, true],
  ];
  for (const [changes, live, want] of compact) test(`compact: ${changes} B of changes over ${live} B live: ${want}`, () => assert.equal(shouldCompact(changes, live), want));
});
