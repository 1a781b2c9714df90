/**
 * Names resolved through cat-file: in one spawn, or by one long-lived --batch-command process that sees
 * ref updates and new packs as they land, and is replaced when it dies.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { createFixture, type Fixture } from '../../fixtures/repo.js';
import { CatFileBatch, resolveRevisions } from '../../src/git/batch.js';
import { openGit } from '../../src/git/runner.js';
import { gitSpy, gone, testEnv, waitFor } from '../support/index.js';
import { settings } from './support.js';

describe('on a fixture repository', () => {
  let fx: Fixture;
  before(() => {
    fx = createFixture();
  });
  after(() => fx.remove());
  const rev = (r: string) => fx.git(fx.clone, 'rev-parse', r);

  test('resolves several names in one spawn, null for each missing one; a hostile name is only a name', async () => {
    const want = [rev('refs/remotes/origin/main'), rev('refs/remotes/origin/main^{tree}'), null, null, fx.scenarios.clean.sha, null, null];
    const spy = gitSpy();
    const got = await resolveRevisions(openGit(fx.clone, settings({ env: testEnv(spy.env) })), [
      'refs/remotes/origin/main',
      'refs/remotes/origin/main^{tree}',
      'refs/remotes/origin/nope',
      `${'f'.repeat(40)}^{commit}`,
      `${fx.scenarios.clean.sha}^{commit}`,
      `--output=${join(fx.root, 'pwned')}`,
      '-c',
    ]);
    assert.deepEqual(got, want);
    assert.deepEqual(spy.calls(), ['cat-file']);
    await assert.rejects(resolveRevisions(openGit(fx.clone, settings()), ['a\nb']), { code: 'E_GIT_REFUSED' });
  });

  test('one long-lived process sees ref updates and new packs as they land', async () => {
    const spy = gitSpy();
    const names = new CatFileBatch(openGit(fx.clone, settings({ env: testEnv(spy.env) })));
    try {
      const [main] = await names.resolve(['refs/remotes/origin/main']);
      assert.equal(main, rev('refs/remotes/origin/main'));
      const pid = names.pid;
      // main moves on the remote; the clone fetches (a loose ref update and loose objects).
      fx.git(fx.worktrees.alice as string, 'checkout', '-q', '--detach', 'refs/remotes/origin/main');
      const moved = fx.commit(fx.worktrees.alice as string, { 'moved.txt': 'main moved\n' }, 'main moves');
      fx.push(fx.worktrees.alice as string, `${moved}:refs/heads/main`);
      assert.deepEqual(await names.resolve(['refs/remotes/origin/main', `${moved}^{commit}`]), [moved, moved]);
      // Everything repacked into a new pack, loose objects and refs gone, then a commit that exists only in a pack.
      const packed = fx.commit(fx.worktrees.alice as string, { 'packed.txt': 'in a pack\n' }, 'packed');
      fx.push(fx.worktrees.alice as string, `${packed}:refs/heads/packed`);
      fx.git(fx.clone, 'repack', '-a', '-d', '-q');
      fx.git(fx.clone, 'pack-refs', '--all');
      assert.deepEqual(await names.resolve([`${packed}^{commit}`, 'refs/remotes/origin/packed', 'refs/remotes/origin/main']), [packed, packed, moved]);
      assert.equal(names.pid, pid, 'the same process answered throughout');
      assert.deepEqual(spy.calls(), ['cat-file']);
    } finally {
      await names.close();
    }
  });

  test('a long-lived process that died between requests is replaced by the next one; nothing is answered wrong', async () => {
    const names = new CatFileBatch(openGit(fx.clone, settings()));
    try {
      assert.deepEqual(await names.resolve(['refs/remotes/origin/main']), [rev('refs/remotes/origin/main')]);
      const pid = names.pid as number;
      process.kill(pid, 'SIGKILL');
      await waitFor(() => gone(pid), 'the killed cat-file to go');
      assert.deepEqual(await names.resolve(['refs/remotes/origin/main', 'refs/remotes/origin/nope']), [rev('refs/remotes/origin/main'), null]);
      assert.notEqual(names.pid, pid);
    } finally {
      await names.close();
    }
  });

  test('closed, or cancelled with its owner: E_CANCELLED for what was asked', async () => {
    const abort = new AbortController();
    const names = new CatFileBatch(openGit(fx.clone, settings({ signal: abort.signal })));
    assert.equal((await names.resolve(['refs/remotes/origin/main']))[0], rev('refs/remotes/origin/main'));
    abort.abort();
    await assert.rejects(names.resolve(['refs/remotes/origin/main']), { code: 'E_CANCELLED' });
    await names.close();
  });
});
