/** The git module's guard rails: what it refuses before spawning, how it reads git's output, what cannot redirect it. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { createFixture, type Fixture } from '../../fixtures/repo.js';
import {
  assertAllowed,
  conflictKind,
  diffPatchIds,
  fetchRemoteTracking,
  gitVersion,
  isAncestor,
  isValidBranchName,
  listCommits,
  mergeBase,
  mergeOutputKind,
  mergeTree,
  openGit,
  parseMergeTree,
  patchIds,
  remoteRef,
  resolveRevisions,
  supportedVersion,
  temporaryObjects,
} from '../../src/git/index.js';
import { spyOnGit } from './spy.js';

const tempDir = () => mkdtempSync(join(tmpdir(), 'si-git-'));
const SHA = 'a'.repeat(40);

describe('the allowlist', () => {
  const dir = tempDir();
  const repo = openGit(dir, { scratch: join(dir, 'scratch') });
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('refuses every write to refs, the remote, the canonical index or worktree, config and the object store', () => {
    for (const args of [
      ['push', 'origin', 'main'],
      ['update-ref', 'refs/heads/main', SHA],
      ['commit', '-m', 'x'],
      ['commit-tree', SHA],
      ['branch', 'x'],
      ['tag', 'v1'],
      ['gc'],
      ['repack', '-a'],
      ['prune'],
      ['config', 'user.name', 'x'],
      ['config', '--get', 'user.name'],
      ['checkout', 'main'],
      ['switch', 'main'],
      ['reset', '--hard'],
      ['merge', 'x'],
      ['read-tree', SHA],
      ['clean', '-fdx'],
      ['write-tree'],
      ['symbolic-ref', 'HEAD', 'refs/heads/x'],
      ['stash'],
      ['am'],
      ['notes', 'add'],
      ['replace', SHA, SHA],
      ['-c', 'core.hooksPath=x', 'push'],
      ['log', '--output=/tmp/si-pwned', 'HEAD'],
      ['diff-tree', '--output', '/tmp/si-pwned', SHA],
      ['merge-tree', '--write-tree', SHA, SHA],
      ['fetch', 'origin'],
      ['fetch', '--no-write-fetch-head', '--end-of-options', 'origin', 'main:main'],
      ['fetch', '--no-write-fetch-head', '--end-of-options', 'origin', '+refs/heads/x:refs/heads/x'],
      ['fetch', '--no-write-fetch-head', '--end-of-options', 'origin', '+refs/heads/x:refs/remotes/other/x'],
      ['fetch', '--end-of-options', 'origin', '+refs/heads/x:refs/remotes/origin/x'],
      ['fetch', '--no-write-fetch-head', '--upload-pack=touch /tmp/si-pwned', '--end-of-options', 'origin', '+refs/heads/x:refs/remotes/origin/x'],
      ['fetch', '--no-write-fetch-head', '--end-of-options', 'ext::sh -c touch% /tmp/si-pwned', '+refs/heads/x:refs/remotes/origin/x'],
      ['worktree', 'add', '--detach', '--end-of-options', join(dir, 'elsewhere'), SHA],
      ['worktree', 'add', '--end-of-options', join(dir, 'scratch'), SHA],
      ['worktree', 'add', '--detach', '-b', 'x', '--end-of-options', join(dir, 'scratch'), SHA],
      ['worktree', 'add', '--detach', '--end-of-options', join(dir, 'scratch'), 'main'],
      ['worktree', 'remove', '--force', join(dir, 'agents', 'alice')],
      ['worktree', 'prune'],
    ]) {
      assert.throws(() => assertAllowed(repo, args), { code: 'E_GIT_REFUSED' }, args.join(' '));
    }
  });

  test('allows reads, remote-tracking fetches, the scratch worktree, and object writes into a temporary directory', () => {
    const objects = openGit(dir, { objects: { dir: join(dir, 'tmp-objects'), alternate: join(dir, '.git', 'objects') } });
    for (const [h, args] of [
      [repo, ['cat-file', '--batch-check=%(objectname)']],
      [repo, ['merge-base', '--is-ancestor', '--end-of-options', SHA, 'refs/remotes/origin/main']],
      [repo, ['fetch', '--no-write-fetch-head', '--quiet', '--end-of-options', 'origin', '+refs/heads/a/b:refs/remotes/origin/a/b']],
      [repo, ['worktree', 'add', '--detach', '--no-checkout', '--force', '--end-of-options', join(dir, 'scratch'), SHA]],
      [objects, ['merge-tree', '--write-tree', '--end-of-options', SHA, SHA]],
    ] as const) {
      assert.doesNotThrow(() => assertAllowed(h, args), args.join(' '));
    }
  });

  test('index and worktree writes only with cwd = the scratch worktree, and only when it is a linked worktree', () => {
    const scratchDir = join(dir, 'scratch');
    mkdirSync(scratchDir, { recursive: true });
    const objects = { dir: join(dir, 'tmp-objects'), alternate: join(dir, '.git', 'objects') };
    const scratch = openGit(scratchDir, { scratch: scratchDir, objects });
    assert.throws(() => assertAllowed(scratch, ['reset', '--hard', SHA]), { code: 'E_GIT_REFUSED' }, 'no .git file yet');
    writeFileSync(join(scratchDir, '.git'), `gitdir: ${join(dir, '.git', 'worktrees', 'scratch')}\n`);
    for (const args of [['reset', '--hard', SHA], ['read-tree', '--reset', '-u', SHA], ['merge', '--no-commit', SHA], ['clean', '-ffdxq'], ['write-tree']]) {
      assert.doesNotThrow(() => assertAllowed(scratch, args), args.join(' '));
      assert.throws(() => assertAllowed(openGit(dir, { scratch: scratchDir, objects }), args), { code: 'E_GIT_REFUSED' }, `${args.join(' ')} in the repository`);
    }
    assert.throws(() => assertAllowed(openGit(scratchDir, { scratch: scratchDir }), ['merge', '--no-commit', SHA]), { code: 'E_GIT_REFUSED' }, 'merge without a temporary object directory');
    // The main worktree (a .git directory) is never a scratch worktree, whatever the handle claims.
    const main = join(dir, 'main');
    mkdirSync(join(main, '.git'), { recursive: true });
    assert.throws(() => assertAllowed(openGit(main, { scratch: main, objects }), ['reset', '--hard', SHA]), { code: 'E_GIT_REFUSED' });
  });
});

describe('on a fixture repository', () => {
  let fx: Fixture;
  before(() => {
    fx = createFixture();
  });
  after(() => fx.remove());
  const rev = (r: string) => fx.git(fx.clone, 'rev-parse', r);

  test('refused operations and option-injection values never spawn git', async () => {
    const main = rev('refs/remotes/origin/main');
    const objects = temporaryObjects(join(fx.clone, '.git'));
    const spy = spyOnGit();
    const h = openGit(fx.clone);
    const pwned = join(fx.root, 'pwned');
    try {
      const clean = fx.scenarios.clean.sha;
      for (const attempt of [
        () => mergeBase(h, '--output=' + pwned, clean),
        () => mergeBase(h, clean, '-c'),
        () => isAncestor(h, '--upload-pack=touch ' + pwned, 'refs/remotes/origin/main'),
        () => isAncestor(h, clean, 'origin/main'),
        () => mergeTree(openGit(fx.clone, { objects }), clean, `--output=${pwned}`),
        () => mergeTree(h, clean, main),
        () => listCommits(h, `--output=${pwned}`),
        () => fetchRemoteTracking(h, 'origin', ['--upload-pack=touch ' + pwned]),
        () => fetchRemoteTracking(h, '--upload-pack=touch ' + pwned, ['main']),
        () => fetchRemoteTracking(h, 'ext::sh -c touch% ' + pwned, ['main']),
        () => diffPatchIds(h, [{ to: clean, from: '-c' }]),
        () => new Promise((resolve) => resolve(remoteRef('origin', '--upload-pack=evil'))),
      ]) {
        await assert.rejects(attempt, { code: 'E_GIT_REFUSED' });
      }
      assert.deepEqual(spy.calls(), []);
      // Through stdin a hostile name is only a name that does not resolve.
      assert.deepEqual(await resolveRevisions(h, [`--output=${pwned}`, '-c', '--upload-pack=x']), [null, null, null]);
      assert.deepEqual(spy.calls(), ['cat-file']);
      assert.equal(existsSync(pwned), false);
    } finally {
      spy.restore();
      objects.remove();
    }
  });

  test('git version is checked once per process', async () => {
    assert.match(await gitVersion(openGit(fx.clone)), /^\d+\.\d+/);
    const spy = spyOnGit();
    try {
      await gitVersion(openGit(fx.clone));
      assert.deepEqual(spy.calls(), []);
    } finally {
      spy.restore();
    }
  });

  test('resolves several names in one spawn, null for each missing one', async () => {
    const want = [rev('refs/remotes/origin/main'), rev('refs/remotes/origin/main^{tree}'), null, null, fx.scenarios.clean.sha];
    const spy = spyOnGit();
    try {
      const got = await resolveRevisions(openGit(fx.clone), ['refs/remotes/origin/main', 'refs/remotes/origin/main^{tree}', 'refs/remotes/origin/nope', `${'f'.repeat(40)}^{commit}`, `${fx.scenarios.clean.sha}^{commit}`]);
      assert.deepEqual(got, want);
      assert.deepEqual(spy.calls(), ['cat-file']);
    } finally {
      spy.restore();
    }
  });

  test('merge base and ancestry from exit codes', async () => {
    const h = openGit(fx.clone);
    const main = rev('refs/remotes/origin/main');
    assert.equal(await mergeBase(h, main, fx.scenarios.clean.sha), rev(`${fx.scenarios.clean.sha}^`));
    assert.equal(await isAncestor(h, fx.scenarios.already_merged.sha, 'refs/remotes/origin/main'), true);
    assert.equal(await isAncestor(h, fx.scenarios.clean.sha, main), false);
    await assert.rejects(isAncestor(h, 'f'.repeat(40), main), { code: 'E_GIT_FAILED' });
  });

  test('merge-tree writes its objects only into the temporary directory', async () => {
    const objects = temporaryObjects(join(fx.clone, '.git'));
    const has = (object: string, env: NodeJS.ProcessEnv = {}) => spawnSync('git', ['cat-file', '-e', object], { cwd: fx.clone, env: { ...process.env, ...env } }).status === 0;
    try {
      const merged = await mergeTree(openGit(fx.clone, { objects }), rev('refs/remotes/origin/main'), fx.scenarios.clean.sha);
      assert.equal(merged.clean, true);
      assert.equal(has(merged.tree as string, { GIT_OBJECT_DIRECTORY: objects.dir, GIT_ALTERNATE_OBJECT_DIRECTORIES: objects.alternate }), true, 'in the temporary directory');
      assert.equal(has(merged.tree as string), false, 'not in the repository');
      await assert.rejects(mergeTree(openGit(fx.clone, { objects }), rev('refs/remotes/origin/main'), 'f'.repeat(40)), { code: 'E_GIT_FAILED' }, 'an unknown object is an error, not a conflict');
    } finally {
      objects.remove();
    }
  });

  test('an ambient hook environment (GIT_DIR, GIT_WORK_TREE, GIT_INDEX_FILE, GIT_OBJECT_DIRECTORY…) does not redirect git', async () => {
    const other = tempDir();
    fx.git(other, 'init', '-q', '--bare', '.');
    const ambient = { GIT_DIR: other, GIT_WORK_TREE: other, GIT_INDEX_FILE: join(other, 'index'), GIT_OBJECT_DIRECTORY: join(other, 'objects'), GIT_NAMESPACE: 'x', GIT_COMMON_DIR: other };
    const saved = Object.fromEntries(Object.keys(ambient).map((k) => [k, process.env[k]]));
    Object.assign(process.env, ambient);
    try {
      const h = openGit(fx.clone);
      const [main] = await resolveRevisions(h, ['refs/remotes/origin/main']);
      assert.equal(main, rev('refs/remotes/origin/main'));
      assert.equal(await isAncestor(h, fx.scenarios.already_merged.sha, 'refs/remotes/origin/main'), true);
    } finally {
      for (const [k, v] of Object.entries(saved)) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
      rmSync(other, { recursive: true, force: true });
    }
  });

  test('history for parity: commits with parents and trees in one spawn, patch ids for many commits in two', async () => {
    const [main, tree] = [rev('refs/remotes/origin/main'), rev('refs/remotes/origin/main^{tree}')];
    const spy = spyOnGit();
    try {
      const h = openGit(fx.clone);
      const commits = await listCommits(h, 'refs/remotes/origin/main');
      assert.equal(commits[0]?.sha, main);
      assert.equal(commits[0]?.tree, tree);
      assert.ok(commits.some((c) => c.parents.length === 2), 'the merge of already_merged');
      const squash = commits.find((c) => c.subject === 'squash-merge squashed')?.sha as string;
      const ids = await patchIds(h, [fx.scenarios.squashed.sha, squash, fx.scenarios.clean.sha]);
      assert.equal(ids.get(fx.scenarios.squashed.sha), ids.get(squash), 'a squash merge has the same patch id');
      assert.notEqual(ids.get(fx.scenarios.clean.sha), ids.get(squash));
      assert.deepEqual(spy.calls().sort(), ['diff-tree', 'log', 'patch-id'], 'diff-tree and patch-id run side by side, streamed');
    } finally {
      spy.restore();
    }
  });

  test('git 2.39 honours --end-of-options where this module relies on it', () => {
    const out = join(fx.root, 'eoo-output');
    const main = rev('refs/remotes/origin/main');
    for (const args of [
      ['merge-base', '--end-of-options', main, `--output=${out}`],
      ['merge-base', '--is-ancestor', '--end-of-options', main, `--output=${out}`],
      ['merge-tree', '--write-tree', '--end-of-options', main, `--output=${out}`],
      ['log', '--end-of-options', `--output=${out}`],
      ['diff-tree', '-p', '--end-of-options', `--output=${out}`],
      ['rev-parse', '--verify', '--end-of-options', `--output=${out}`],
      ['fetch', '--no-write-fetch-head', '--end-of-options', 'origin', `--output=${out}`],
    ]) {
      const r = spawnSync('git', args, { cwd: fx.clone, encoding: 'utf8' });
      assert.notEqual(r.status, 0, args.join(' '));
      assert.equal(existsSync(out), false, args.join(' '));
    }
  });
});

test('merge-tree -z output: tree, conflicted paths, the most specific kind per path, informational messages skipped', () => {
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
  assert.deepEqual(parseMergeTree(out, 1), {
    clean: false,
    tree: null,
    conflicts: [{ path: 'assets/logo.bin', kind: 'binary' }, { path: 'src/new.txt', kind: 'add/add' }],
    messages: ['warning: Cannot merge binary files: assets/logo.bin (a vs. b)', 'CONFLICT (content): Merge conflict in assets/logo.bin', 'CONFLICT (add/add): Merge conflict in src/new.txt'],
  });
  assert.deepEqual(parseMergeTree(`${tree}\0`, 0), { clean: true, tree, conflicts: [], messages: [] });
  assert.deepEqual(parseMergeTree(`${tree}\0\x001\0f\0Auto-merging\0Auto-merging f\n\0`, 0), { clean: true, tree, conflicts: [], messages: [] });
  // A conflict git reports without a conflicted path (a directory rename collision): the paths its message names.
  const collision = parseMergeTree(`${tree}\0\x002\0d/x\0a/x\0CONFLICT(directory rename collision)\0CONFLICT (implicit dir rename): …\n\0`, 1);
  assert.deepEqual(collision.conflicts, [{ path: 'd/x', kind: 'directory rename collision' }, { path: 'a/x', kind: 'directory rename collision' }]);
  assert.throws(() => parseMergeTree('', 1), { code: 'E_GIT_FAILED' });
});

test('git >= 2.38 is required (merge-tree --write-tree)', () => {
  assert.equal(supportedVersion('git version 2.39.5\n'), '2.39.5');
  assert.equal(supportedVersion('git version 2.38.0.windows.1'), '2.38.0');
  assert.equal(supportedVersion('git version 3.0'), '3.0');
  for (const old of ['git version 2.37.7', 'git version 1.9.5', 'git version unknown']) assert.throws(() => supportedVersion(old), { code: 'E_GIT_TOO_OLD' }, old);
});

test('conflict kinds from merge-tree types and from a real merge’s messages', () => {
  for (const [type, text, kind] of [
    ['Auto-merging', 'Auto-merging f', null],
    ['Path updated due to directory rename', 'Path updated: …', null],
    ['CONFLICT (contents)', 'CONFLICT (content): Merge conflict in f', 'contents'],
    ['CONFLICT (contents)', 'CONFLICT (add/add): Merge conflict in f', 'add/add'],
    ['CONFLICT (modify/delete)', 'CONFLICT (modify/delete): f deleted in …', 'modify/delete'],
    ['CONFLICT (rename/delete)', '…', 'rename/delete'],
    ['CONFLICT (file/directory)', '…', 'file/directory'],
    ['CONFLICT (distinct modes)', '…', 'distinct modes'],
    ['CONFLICT (submodule)', '…', 'submodule'],
    ['CONFLICT(directory rename unclear split)', '…', 'directory rename unclear split'],
    ['ERROR (three-way content merge failed)', '…', 'three-way content merge failed'],
  ] as const) {
    assert.equal(conflictKind(type, text), kind, type);
  }
  const lines = [
    'warning: Cannot merge binary files: a b.bin (HEAD vs. x)',
    'CONFLICT (content): Merge conflict in a b.bin',
    'CONFLICT (content): Merge conflict in src/app.txt',
    'CONFLICT (modify/delete): src/app.txt.orig deleted in x and modified in HEAD.  Version HEAD of src/app.txt.orig left in tree.',
  ];
  assert.equal(mergeOutputKind(lines, 'a b.bin'), 'binary');
  assert.equal(mergeOutputKind(lines, 'src/app.txt'), 'contents');
  assert.equal(mergeOutputKind(lines, 'src/app.txt.orig'), 'modify/delete');
  assert.equal(mergeOutputKind(lines, 'unnamed'), 'contents');
});

test('branch names: git check-ref-format --branch rules, and never an option', () => {
  const valid = ['main', 'agent/alice/task-1', 'feature/x;rm', 'release/1.2.3', 'a@b', 'x/HEAD', 'a-', 'é'];
  const invalid = ['-x', '--upload-pack=evil', '-c', 'a..b', 'a/.b', '.a', 'a.lock', 'a/b.lock/c', 'a//b', '/a', 'a/', 'a.', 'a@{1}', '@{-1}', 'HEAD', 'a b', 'a\tb', 'a~1', 'a^', 'a:b', 'a?', 'a*', 'a[b', 'a\\b', 'a\x01b', 'a\x7fb', ''];
  for (const name of valid) assert.equal(isValidBranchName(name), true, name);
  for (const name of invalid) assert.equal(isValidBranchName(name), false, name);
  // git itself agrees on every one of them (outside a repository, so that @{-1} is not expanded).
  const cwd = tempDir();
  try {
    for (const name of [...valid, ...invalid]) {
      const r = spawnSync('git', ['check-ref-format', '--branch', name], { cwd, encoding: 'utf8' });
      assert.equal(r.status === 0 && r.stdout.trim() === name, isValidBranchName(name), JSON.stringify(name));
    }
  } finally {
    rmSync(cwd, { recursive: true, force: true });
  }
  // Stricter than git on one name: '@' alone is HEAD in revision syntax.
  assert.equal(isValidBranchName('@'), false);
});
