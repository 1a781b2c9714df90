/**
 * retry on a real fixture repository, through the CLI: a candidate that failed with git_error
 * (main_branch named wrong) gets exactly one more decision once the config is fixed and `retry` is
 * run; reading the log again — a drain with nothing new, the log replaced by a copy, every state file
 * but the ledger lost — yields no more; a retry that names another sha, or comes while the candidate
 * is undecided, changes nothing.
 */
import assert from 'node:assert/strict';
import { copyFileSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { createFixture, type Fixture } from '../../fixtures/repo.js';
import { statePaths, type StatePaths } from '../../src/store/paths.js';
import { appendEvents, cli, ledger, manualClock, readyEvents, writeShadowConfig, type CandidateRef } from '../support/index.js';

const clock = manualClock();

describe('retry: one more decision, never two', { timeout: 60_000 }, () => {
  let fx: Fixture;
  let paths: StatePaths;
  let c: CandidateRef;
  const run = async (args: string[]) => {
    clock.advance(60_000);
    const r = await cli(fx.clone, args, { now: clock.now });
    assert.equal(r.code, 0, `${args.join(' ')}: ${r.stderr}`);
    return r;
  };
  const decisions = () => ledger(paths).map((o) => [o.outcome, o.episode, o.reasons.join(',')]);

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
  after(() => fx.remove());

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
    assert.equal(ledger(paths).length, 2, 'a drain with nothing new decides nothing');
  });

  test('reading the log again yields no more: the log replaced by a copy, then every state file but the ledger lost', async () => {
    copyFileSync(paths.readiness, `${paths.readiness}.copy`);
    renameSync(`${paths.readiness}.copy`, paths.readiness);
    assert.match((await run(['drain'])).stderr, /event=log_reset/);
    assert.equal(ledger(paths).length, 2);
    for (const f of readdirSync(paths.dir)) if (/^(journal\.|projection\.|checkpoint\.json)/.test(f)) rmSync(join(paths.dir, f));
    await run(['drain']);
    assert.equal(ledger(paths).length, 2);
  });

  test('after all that, the next retry is episode 3, once; one while it is undecided changes nothing', async () => {
    await run(['retry', c.slug]);
    await run(['retry', c.slug]);
    const r = await run(['drain']);
    assert.match(r.stderr, /event=retry_ignored slug=feature why="the current episode was decided after the retry was requested|event=retry_ignored slug=feature why="the candidate is not decided in its current episode yet/);
    assert.deepEqual(decisions().map(([o, e]) => [o, e]), [
      ['would_block', 1],
      ['would_integrate', 2],
      ['would_integrate', 3],
    ]);
  });
});
