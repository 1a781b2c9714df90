/** History questions on a fixture repository, and values from events that never reach git. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { createFixture, type Fixture } from '../../fixtures/repo.js';
import { fetchRemoteTracking } from '../../src/git/fetch.js';
import { remoteRef } from '../../src/git/guard.js';
import { commitParents, diffPatchIds, isAncestor, mergeBase, patchIds, walkCommits, type CommitInfo } from '../../src/git/history.js';
import { openGit, type GitHandle } from '../../src/git/runner.js';
import { gitSpy, testEnv } from '../support/index.js';
import { settings } from './support.js';

/** The commits `walkCommits` hands over, in its order. */
async function logOf(h: GitHandle, tip: string, exclude?: string): Promise<CommitInfo[]> {
  const out: CommitInfo[] = [];
  await walkCommits(h, tip, (c) => out.push(c), exclude === undefined ? {} : { exclude });
  return out;
}

describe('on a fixture repository', () => {
  let fx: Fixture;
  before(() => {
    fx = createFixture();
  });
  after(() => fx.remove());
  const rev = (r: string) => fx.git(fx.clone, 'rev-parse', r);

  test('a fetch goes on without an optional branch the remote no longer has, and stops at a required one', async () => {
    const spy = gitSpy();
    const h = openGit(fx.clone, settings({ env: testEnv(spy.env) }));
    const branch = fx.scenarios.clean.branch;
    assert.deepEqual(await fetchRemoteTracking(h, 'origin', ['main', branch], ['agent/gone-1', 'agent/gone-2']), { missing: null, gone: ['agent/gone-1', 'agent/gone-2'] });
    assert.equal(spy.calls().filter((c) => c.startsWith('fetch')).length, 3, 'one fetch more per gone branch');
    assert.deepEqual(await fetchRemoteTracking(h, 'origin', ['main', 'agent/never'], ['agent/gone-1']), { missing: 'agent/never', gone: [] });
  });

  test('option-injection values are refused and never spawn git', async () => {
    const spy = gitSpy();
    const h = openGit(fx.clone, settings({ env: testEnv(spy.env) }));
    const pwned = join(fx.root, 'pwned');
    const clean = fx.scenarios.clean.sha;
    for (const attempt of [
      () => mergeBase(h, '--output=' + pwned, clean),
      () => mergeBase(h, clean, '-c'),
      () => isAncestor(h, '--upload-pack=touch ' + pwned, 'refs/remotes/origin/main'),
      () => isAncestor(h, clean, 'origin/main'),
      () => walkCommits(h, `--output=${pwned}`, () => undefined),
      () => walkCommits(h, 'refs/remotes/origin/main', () => undefined, { exclude: '--output=' + pwned }),
      () => commitParents(h, ['--output=' + pwned]),
      () => fetchRemoteTracking(h, 'origin', ['--upload-pack=touch ' + pwned]),
      () => fetchRemoteTracking(h, '--upload-pack=touch ' + pwned, ['main']),
      () => fetchRemoteTracking(h, 'ext::sh -c touch% ' + pwned, ['main']),
      () => diffPatchIds(h, [{ to: clean, from: '-c' }]),
      () => new Promise((resolve) => resolve(remoteRef('origin', '--upload-pack=evil'))),
    ]) {
      await assert.rejects(attempt, { code: 'E_GIT_REFUSED' });
    }
    assert.deepEqual(spy.calls(), []);
    assert.equal(existsSync(pwned), false);
  });

  test('merge base and ancestry from exit codes', async () => {
    const h = openGit(fx.clone, settings());
    const main = rev('refs/remotes/origin/main');
    assert.equal(await mergeBase(h, main, fx.scenarios.clean.sha), rev(`${fx.scenarios.clean.sha}^`));
    assert.equal(await isAncestor(h, fx.scenarios.already_merged.sha, 'refs/remotes/origin/main'), true);
    assert.equal(await isAncestor(h, fx.scenarios.clean.sha, main), false);
    await assert.rejects(isAncestor(h, 'f'.repeat(40), main), { code: 'E_GIT_FAILED' });
    // Unrelated histories have no merge base: an answer, not an error.
    const orphan = fx.git(fx.clone, 'commit-tree', '-m', 'orphan', rev('HEAD^{tree}'));
    assert.equal(await mergeBase(h, main, orphan), null);
  });

  test('history for parity: commits with parents and trees in one spawn, patch ids for many commits in two, streamed side by side', async () => {
    const [main, tree] = [rev('refs/remotes/origin/main'), rev('refs/remotes/origin/main^{tree}')];
    const spy = gitSpy();
    const h = openGit(fx.clone, settings({ env: testEnv(spy.env) }));
    const commits = await logOf(h, 'refs/remotes/origin/main');
    assert.equal(commits[0]?.sha, main);
    assert.equal(commits[0]?.tree, tree);
    assert.ok(commits.some((c) => c.parents.length === 2), 'the merge of already_merged');
    const squash = commits.find((c) => c.subject === 'squash-merge squashed')?.sha as string;
    const ids = await patchIds(h, [fx.scenarios.squashed.sha, squash, fx.scenarios.clean.sha]);
    assert.equal(ids.get(fx.scenarios.squashed.sha), ids.get(squash), 'a squash merge has the same patch id');
    assert.notEqual(ids.get(fx.scenarios.clean.sha), ids.get(squash));
    // The inverse change's id is what a revert of it carries.
    const reverse = await diffPatchIds(h, [{ to: fx.scenarios.squashed.sha }], { reverse: true });
    fx.git(fx.worktrees.alice as string, 'checkout', '-q', '--detach', fx.scenarios.squashed.sha);
    fx.git(fx.worktrees.alice as string, 'revert', '--no-edit', 'HEAD');
    const revert = fx.git(fx.worktrees.alice as string, 'rev-parse', 'HEAD');
    assert.equal(reverse.get(fx.scenarios.squashed.sha), (await patchIds(h, [revert])).get(revert));
    assert.deepEqual(spy.calls().sort(), ['diff-tree', 'diff-tree', 'diff-tree', 'log', 'patch-id', 'patch-id', 'patch-id']);
  });

  test('only what main gained since a commit: the log of <old>..<new>, in the order of the whole log', async () => {
    const h = openGit(fx.clone, settings());
    const main = rev('refs/remotes/origin/main');
    const whole = await logOf(h, main);
    for (const old of whole.slice(1).map((c) => c.sha)) {
      const gained = new Set(fx.git(fx.clone, 'rev-list', `${old}..${main}`).split('\n'));
      assert.deepEqual(
        (await logOf(h, main, old)).map((c) => c.sha),
        whole.map((c) => c.sha).filter((sha) => gained.has(sha)),
        old,
      );
    }
    assert.deepEqual(await logOf(h, main, main), []);
  });

  test('a message far longer than a pipe\'s chunk, in a multi-byte script, arrives whole', async () => {
    const wt = fx.worktrees.alice as string;
    const body = 'é'.repeat(150_000);
    fx.git(wt, 'checkout', '-q', '--detach', 'refs/remotes/origin/main');
    const message = join(fx.root, 'long-message');
    writeFileSync(message, `long\n\n${body}\n`);
    fx.git(wt, 'commit', '-q', '--allow-empty', '-F', message);
    const [top] = await logOf(openGit(fx.clone, settings()), fx.git(wt, 'rev-parse', 'HEAD'), rev('refs/remotes/origin/main'));
    assert.equal(top?.subject, 'long');
    assert.equal(top?.body, `${body}\n`);
  });

  test('parents of chosen commits in one spawn; a commit missing here has none', async () => {
    const h = openGit(fx.clone, settings());
    const merge = (await logOf(h, 'refs/remotes/origin/main')).find((c) => c.parents.length === 2) as CommitInfo;
    const missing = 'e'.repeat(40);
    const parents = await commitParents(h, [merge.sha, fx.scenarios.clean.sha, missing]);
    assert.deepEqual(parents.get(merge.sha), merge.parents);
    assert.deepEqual(parents.get(fx.scenarios.clean.sha), [rev(`${fx.scenarios.clean.sha}^`)]);
    assert.equal(parents.has(missing), false);
  });

  test('git 2.39 honours --end-of-options where this module relies on it', () => {
    const out = join(fx.root, 'eoo-output');
    const main = rev('refs/remotes/origin/main');
    for (const args of [
      ['merge-base', '--end-of-options', main, `--output=${out}`],
      ['merge-base', '--is-ancestor', '--end-of-options', main, `--output=${out}`],
      ['log', '--end-of-options', `--output=${out}`],
      ['diff-tree', '-p', '--end-of-options', `--output=${out}`],
      ['rev-parse', '--verify', '--end-of-options', `--output=${out}`],
      ['fetch', '--no-write-fetch-head', '--end-of-options', 'origin', `--output=${out}`],
    ]) {
      const r = spawnSync('git', args, { cwd: fx.clone, encoding: 'utf8', env: testEnv() });
      assert.notEqual(r.status, 0, args.join(' '));
      assert.equal(existsSync(out), false, args.join(' '));
    }
  });
});
