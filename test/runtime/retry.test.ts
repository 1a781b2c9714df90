/**
 * Episodes and sha-bound approvals on a real fixture repository, through the CLI. retry: a candidate
 * that failed with git_error (main_branch named wrong) gets exactly one more decision once the config
 * is fixed and `retry` is run; reading the log again — a drain with nothing new, the log replaced by a
 * copy, every state file but the ledger lost — yields no more; a retry that names another sha, or
 * comes while the candidate is undecided, changes nothing; explain tells each retry's fate. An
 * approval naming v1 does not make v2 ready; status and explain say why.
 */
import assert from 'node:assert/strict';
import { copyFileSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { createFixture, type Fixture } from '../../fixtures/repo.js';
import { statePaths, type StatePaths } from '../../src/store/paths.js';
import type { ExplainReport } from '../../src/report/explain.js';
import type { StatusReport } from '../../src/report/status.js';
import { appendEvents, approved, cli, cliJson, finalized, ledger, manualClock, pushed, readyEvents, writeShadowConfig, type CandidateRef } from '../support/index.js';

const clock = manualClock();

let fx: Fixture;
let paths: StatePaths;
after(() => fx.remove());
const run = async (args: string[]) => {
  clock.advance(60_000);
  const r = await cli(fx.clone, args, { now: clock.now });
  assert.equal(r.code, 0, `${args.join(' ')}: ${r.stderr}`);
  return r;
};

describe('retry: one more decision, never two', { timeout: 60_000 }, () => {
  let c: CandidateRef;
  const decisions = () => ledger(paths).filter((o) => o.slug === 'feature').map((o) => [o.outcome, o.episode, o.reasons.join(',')]);

  before(async () => {
    fx = createFixture({ scenarios: false, agents: ['alice'] });
    const wt = fx.worktrees.alice as string;
    fx.git(wt, 'checkout', '-q', '-b', 'agent/alice/feature');
    c = { slug: 'feature', branch: 'agent/alice/feature', sha: fx.commit(wt, { 'feature.txt': 'new\n' }, 'feature') };
    fx.push(wt, 'HEAD:refs/heads/agent/alice/feature');
    paths = statePaths(join(fx.clone, '.git', 'shadow-integrator'));
    // A setup mistake: the canonical branch named wrong. Every evaluation fails closed with git_error.
    writeShadowConfig(fx.clone, { main_branch: 'trunk' });
    appendEvents(paths.readiness, readyEvents(c, clock.now().toISOString()));
    await run(['drain']);
    assert.deepEqual(decisions(), [['would_block', 1, 'git_error']]);
  });

  test('a retry naming another sha changes nothing, and the holder says why', async () => {
    await run(['retry', c.slug, '--sha', 'f'.repeat(40)]);
    const r = await run(['drain']);
    assert.deepEqual(decisions(), [['would_block', 1, 'git_error']]);
    assert.match(r.stderr, /event=retry_ignored slug=feature sha=f{40} why="the sha is not the slug's current candidate's/);
  });

  test('after the fix, retry yields exactly one more outcome: episode 2', async () => {
    writeShadowConfig(fx.clone, { main_branch: 'main' });
    await run(['retry', c.slug, '--sha', c.sha, '--requested-by', 'operator']);
    const r = await run(['drain']);
    assert.match(r.stderr, /event=enqueued slug=feature .*episode=2 retry_requested_by=operator/);
    assert.deepEqual(decisions(), [
      ['would_block', 1, 'git_error'],
      ['would_integrate', 2, ''],
    ]);
    await run(['drain']);
    assert.equal(decisions().length, 2, 'a drain with nothing new decides nothing');
  });

  test('reading the log again yields no more: the log replaced by a copy, then every state file but the ledger lost', async () => {
    copyFileSync(paths.readiness, `${paths.readiness}.copy`);
    renameSync(`${paths.readiness}.copy`, paths.readiness);
    assert.match((await run(['drain'])).stderr, /event=log_reset/);
    assert.equal(decisions().length, 2);
    for (const f of readdirSync(paths.dir)) if (/^(journal\.|projection\.|checkpoint\.json)/.test(f)) rmSync(join(paths.dir, f));
    await run(['drain']);
    assert.equal(decisions().length, 2);
  });

  test('after all that, the next retry is episode 3, once; one while it is undecided changes nothing', async () => {
    await run(['retry', c.slug]);
    await run(['retry', c.slug]);
    const r = await run(['drain']);
    assert.match(r.stderr, /event=retry_ignored slug=feature why="the candidate is not decided in its current episode yet/);
    assert.deepEqual(decisions().map(([o, e]) => [o, e]), [
      ['would_block', 1],
      ['would_integrate', 2],
      ['would_integrate', 3],
    ]);
  });

  test('explain: each retry with what it did, each episode with its outcome', async () => {
    const e = await cliJson<ExplainReport>(fx.clone, ['explain', c.slug], { now: clock.now });
    assert.deepEqual(e.retries.map((r) => [r.result, r.episode ?? null]), [
      ['other_sha', null],
      ['started_episode', 2],
      ['started_episode', 3],
      ['decided_after_request', 3],
    ]);
    assert.deepEqual(e.candidates[0]?.episodes, [
      { episode: 1, retry_line: null, outcome: 'would_block' },
      { episode: 2, retry_line: e.retries[1]?.line, outcome: 'would_integrate' },
      { episode: 3, retry_line: e.retries[2]?.line, outcome: 'would_integrate' },
    ]);
    const text = (await cli(fx.clone, ['explain', c.slug], { now: clock.now })).stdout;
    assert.match(text, /episodes: 1 would_block · 2 would_integrate \(retry at line \d+\) · 3 would_integrate/);
    assert.match(text, /changed nothing: the current episode was decided only after the retry was requested/);
  });
});

describe('an approval bound to the reviewed sha', { timeout: 60_000 }, () => {
  test('an approval naming v1 does not make v2 ready: v2 waits for its own; status and explain say why', async () => {
    const wt = fx.worktrees.alice as string;
    fx.git(wt, 'checkout', '-q', '-b', 'agent/alice/reviewed', 'refs/remotes/origin/main');
    const branch = 'agent/alice/reviewed';
    const v1 = fx.commit(wt, { 'reviewed.txt': 'v1\n' }, 'v1');
    fx.push(wt, `HEAD:refs/heads/${branch}`);
    const t = () => clock.now().toISOString();
    appendEvents(paths.readiness, [approved('reviewed', { sha: v1, approved_at: t() }), finalized('reviewed', branch, v1, t()), pushed(branch, v1)]);
    await run(['drain']);
    assert.deepEqual(ledger(paths).filter((o) => o.slug === 'reviewed').map((o) => [o.sha, o.outcome]), [[v1, 'would_integrate']], 'v1 approved by sha: ready');

    clock.advance(60_000);
    const v2 = fx.commit(wt, { 'reviewed.txt': 'v2, pushed after the review\n' }, 'v2');
    fx.push(wt, `HEAD:refs/heads/${branch}`);
    appendEvents(paths.readiness, [finalized('reviewed', branch, v2, t()), pushed(branch, v2)]);
    await run(['drain']);
    assert.deepEqual(ledger(paths).filter((o) => o.slug === 'reviewed').map((o) => o.sha), [v1], 'v2 is not ready: no decision');

    const st = await cliJson<StatusReport>(fx.clone, ['status'], { now: clock.now });
    assert.deepEqual(st.waiting.map((w) => [w.slug, w.sha, w.lacks, w.approved_other_sha]), [['reviewed', v2, ['missing_review_approved'], true]]);
    assert.match((await cli(fx.clone, ['status'], { now: clock.now })).stdout, /reviewed +agent\/alice\/reviewed +\w+ +missing_review_approved \(approved for another sha\)/);
    const e = await cliJson<ExplainReport>(fx.clone, ['explain', 'reviewed'], { now: clock.now });
    const review = (sha: string) => e.candidates.find((x) => x.sha === sha)?.conditions[0];
    assert.equal(review(v1)?.event?.line, e.approvals[0]?.line, 'v1: the approval that counted');
    assert.equal(review(v2)?.met, false);
    assert.match(review(v2)?.why ?? '', new RegExp(`line ${e.approvals[0]?.line} names sha ${v1.slice(0, 12)}…\\), not this candidate's ${v2.slice(0, 12)}…`));

    appendEvents(paths.readiness, [approved('reviewed', { sha: v2, review_round: 2, approved_at: t() })]);
    await run(['drain']);
    assert.deepEqual(ledger(paths).filter((o) => o.slug === 'reviewed').map((o) => [o.sha, o.outcome]), [[v1, 'would_integrate'], [v2, 'would_integrate']], "v2's own approval");
  });
});
