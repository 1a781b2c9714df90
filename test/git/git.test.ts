/** The git module's guard rails: what it refuses before spawning, how it reads merge-tree, what redirects it. */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { createFixture } from '../../fixtures/repo.js';
import { branchNameProblem, isValidBranchName } from '../../src/contract/refname.js';
import { assertAllowed, conflictKind, listCommits, openGit, parseMergeTree, patchIds, resolveRevisions } from '../../src/git/index.js';

const emptyDir = () => mkdtempSync(join(tmpdir(), 'si-git-'));

test('write operations are refused before anything is spawned', (t) => {
  const dir = emptyDir();
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const h = openGit(dir);
  for (const args of [
    ['push', 'origin', 'main'],
    ['update-ref', 'refs/heads/main', 'HEAD'],
    ['commit', '-m', 'x'],
    ['branch', 'x'],
    ['tag', 'v1'],
    ['gc'],
    ['config', 'user.name', 'x'],
    ['checkout', 'main'],
    ['reset', '--hard'],
    ['merge', 'x'],
    ['read-tree', 'HEAD'],
    ['symbolic-ref', 'HEAD', 'refs/heads/x'],
    ['fetch', 'origin'],
    ['fetch', '--no-write-fetch-head', 'origin', 'main:main'],
    ['fetch', '--no-write-fetch-head', 'origin', 'refs/heads/x:refs/heads/x'],
    ['worktree', 'add', '/tmp/elsewhere'],
    ['am'],
    ['stash'],
  ]) {
    assert.throws(() => assertAllowed(h, args), { code: 'E_GIT_REFUSED' }, args.join(' '));
  }
  assert.doesNotThrow(() => assertAllowed(h, ['fetch', '--no-write-fetch-head', '--end-of-options', 'origin', '+refs/heads/a/b:refs/remotes/origin/a/b']));
  assert.doesNotThrow(() => assertAllowed(h, ['merge-tree', '--write-tree', 'a', 'b']));
});

test('index and worktree writes are allowed only inside the scratch worktree', () => {
  const dir = emptyDir();
  const scratchDir = join(dir, 'scratch');
  mkdirSync(scratchDir);
  const repo = openGit(dir, { scratch: scratchDir });
  const scratch = openGit(scratchDir, { scratch: scratchDir });
  assert.throws(() => assertAllowed(repo, ['reset', '--hard', 'HEAD']), { code: 'E_GIT_REFUSED' });
  assert.doesNotThrow(() => assertAllowed(scratch, ['reset', '--hard', 'HEAD']));
  assert.doesNotThrow(() => assertAllowed(repo, ['worktree', 'add', '--detach', scratchDir, 'abc']));
  assert.throws(() => assertAllowed(repo, ['worktree', 'add', '--detach', join(dir, 'elsewhere'), 'abc']), { code: 'E_GIT_REFUSED' });
  rmSync(dir, { recursive: true, force: true });
});

test('merge-tree -z output: tree, conflicted paths, and the most specific kind per path', () => {
  const tree = 'a'.repeat(40);
  const out = [
    tree,
    'assets/logo.bin',
    'src/new.txt',
    '',
    '1', 'assets/logo.bin', 'CONFLICT (binary)', 'warning: Cannot merge binary files: assets/logo.bin (a vs. b)\n',
    '1', 'assets/logo.bin', 'CONFLICT (contents)', 'CONFLICT (content): Merge conflict in assets/logo.bin\n',
    '1', 'src/new.txt', 'Auto-merging', 'Auto-merging src/new.txt\n',
    '1', 'src/new.txt', 'CONFLICT (contents)', 'CONFLICT (add/add): Merge conflict in src/new.txt\n',
    '',
  ].join('\0');
  assert.deepEqual(parseMergeTree(out), { tree, clean: false, conflicts: [{ path: 'assets/logo.bin', kind: 'binary' }, { path: 'src/new.txt', kind: 'add/add' }] });
  assert.deepEqual(parseMergeTree(`${tree}\0\0`), { tree, clean: true, conflicts: [] });
  assert.deepEqual(parseMergeTree(`${tree}\0\x001\0f\0Auto-merging\0Auto-merging f\n\0`), { tree, clean: true, conflicts: [] });
  assert.throws(() => parseMergeTree(''), { code: 'E_GIT_FAILED' });
  assert.equal(conflictKind('Auto-merging', 'Auto-merging f'), null);
  assert.equal(conflictKind('CONFLICT (contents)', 'CONFLICT (content): Merge conflict in f'), 'contents');
});

test('branch names follow git check-ref-format, and the fast check agrees with the explaining one', () => {
  const valid = ['main', 'agent/alice/task-1', 'feature/x;rm', 'release/1.2.3', 'a@b', 'x/HEAD'];
  const invalid = ['-x', '--upload-pack=evil', 'a..b', 'a/.b', '.a', 'a.lock', 'a/b.lock/c', 'a//b', '/a', 'a/', 'a.', 'a@{1}', 'HEAD', '@', 'a b', 'a~1', 'a^', 'a:b', 'a?', 'a*', 'a[b', 'a\\b', 'a\x01b', ''];
  for (const name of valid) assert.equal(isValidBranchName(name), true, name);
  for (const name of invalid) {
    assert.equal(isValidBranchName(name), false, name);
    assert.equal(typeof branchNameProblem(name), 'string', name);
  }
});

test('an ambient GIT_DIR (as in a hook) does not redirect git', async () => {
  const fx = createFixture({ scenarios: false, agents: [] });
  const other = mkdtempSync(join(tmpdir(), 'si-other-'));
  const saved = process.env.GIT_DIR;
  try {
    fx.git(other, 'init', '-q', '--bare', '.');
    process.env.GIT_DIR = other;
    const h = openGit(fx.clone);
    const [main] = await resolveRevisions(h, ['refs/remotes/origin/main']);
    assert.equal(main, fx.git(fx.clone, 'rev-parse', 'refs/remotes/origin/main'));
  } finally {
    if (saved === undefined) delete process.env.GIT_DIR;
    else process.env.GIT_DIR = saved;
    rmSync(other, { recursive: true, force: true });
    fx.remove();
  }
});

test('history for parity: commits with parents and trees in one call, patch ids for many commits at once', async () => {
  const fx = createFixture();
  try {
    const h = openGit(fx.clone);
    const commits = await listCommits(h, 'refs/remotes/origin/main');
    assert.equal(commits[0]?.sha, fx.git(fx.clone, 'rev-parse', 'refs/remotes/origin/main'));
    assert.equal(commits[0]?.tree, fx.git(fx.clone, 'rev-parse', 'refs/remotes/origin/main^{tree}'));
    assert.ok(commits.some((c) => c.parents.length === 2), 'the merge of already_merged');
    const squash = commits.find((c) => c.subject === 'squash-merge squashed');
    const ids = await patchIds(h, [fx.scenarios.squashed.sha, squash?.sha as string]);
    assert.equal(ids.get(fx.scenarios.squashed.sha), ids.get(squash?.sha as string), 'a squash merge has the same patch id');
    const [missing] = await resolveRevisions(h, ['refs/remotes/origin/nope']);
    assert.equal(missing, null);
  } finally {
    fx.remove();
  }
});
