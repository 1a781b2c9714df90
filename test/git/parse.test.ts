/** Reading git's output: merge-tree --stdin's framing, conflict kinds, a real merge's messages, git's version. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { conflictKind, mergeOutputKind, parseMergeTreeStdin, supportedVersion, versionAtLeast } from '../../src/git/parse.js';

const TREE = 'a'.repeat(40);
const TREE2 = 'b'.repeat(40);
const record = (...fields: string[]) => fields.map((f) => `${f}\0`).join('');

const CLEAN = record('1', TREE, '');
const CONFLICTED = record(
  '0',
  TREE2,
  'assets/logo.bin',
  'src/new.txt',
  '',
  '1', 'assets/logo.bin', 'CONFLICT (binary)', 'warning: Cannot merge binary files: assets/logo.bin (a vs. b)\n',
  '1', 'assets/logo.bin', 'CONFLICT (contents)', 'CONFLICT (content): Merge conflict in assets/logo.bin\n',
  '1', 'src/new.txt', 'Auto-merging', 'Auto-merging src/new.txt\n',
  '1', 'src/new.txt', 'CONFLICT (contents)', 'CONFLICT (add/add): Merge conflict in src/new.txt\n',
  '',
);
const CONFLICTED_RESULT = {
  clean: false,
  tree: null,
  conflicts: [{ path: 'assets/logo.bin', kind: 'binary' }, { path: 'src/new.txt', kind: 'add/add' }],
  messages: ['warning: Cannot merge binary files: assets/logo.bin (a vs. b)', 'CONFLICT (content): Merge conflict in assets/logo.bin', 'CONFLICT (add/add): Merge conflict in src/new.txt'],
};
// A conflict git reports without a conflicted path (a directory rename collision): the paths its message names.
const COLLISION = record('0', TREE, '', '2', 'd/x', 'a/x', 'CONFLICT(directory rename collision)', 'CONFLICT (implicit dir rename): …\n', '');
// After the messages of a submodule conflict, git prints unframed advice that the record's terminator ends.
const SUBMODULE = record('0', TREE, 'sub', '', '1', 'sub', 'CONFLICT (submodule)', 'CONFLICT (submodule): Merge conflict in sub\n', 'Recursive merging with submodules currently only supports trivial cases.\nPlease manually handle the merging of each conflicted submodule.\n');

test('merge-tree --stdin records: clean, conflicted with the most specific kind per path, informational messages skipped', () => {
  const out = Buffer.from(CLEAN + CONFLICTED + COLLISION + SUBMODULE + CLEAN);
  const { results, consumed } = parseMergeTreeStdin(out);
  assert.equal(consumed, out.length);
  assert.deepEqual(results[0], { clean: true, tree: TREE, conflicts: [], messages: [] });
  assert.deepEqual(results[1], CONFLICTED_RESULT);
  assert.deepEqual(results[2]?.conflicts, [{ path: 'd/x', kind: 'directory rename collision' }, { path: 'a/x', kind: 'directory rename collision' }]);
  assert.deepEqual(results[3], { clean: false, tree: null, conflicts: [{ path: 'sub', kind: 'submodule' }], messages: ['CONFLICT (submodule): Merge conflict in sub'] });
  assert.deepEqual(results[4], results[0]);
  assert.equal(results.length, 5);
});

test('merge-tree --stdin records arriving in pieces: only complete records are taken, whatever the cut', () => {
  const out = Buffer.from(CLEAN + CONFLICTED + SUBMODULE + CLEAN);
  const whole = parseMergeTreeStdin(out).results;
  for (let cut = 0; cut <= out.length; cut++) {
    const first = parseMergeTreeStdin(out.subarray(0, cut));
    const rest = parseMergeTreeStdin(out.subarray(first.consumed));
    assert.deepEqual([...first.results, ...rest.results], whole, `cut at ${cut}`);
    assert.equal(first.consumed + rest.consumed, out.length, `cut at ${cut}`);
  }
});

test('output that is not a merge-tree record is an error, not a result', () => {
  for (const bad of [record('2', TREE, ''), record('1', 'not-a-tree', ''), record('1', TREE, 'extra'), 'fatal: not something we can merge\0']) {
    assert.throws(() => parseMergeTreeStdin(Buffer.from(bad)), { code: 'E_GIT_FAILED' }, JSON.stringify(bad));
  }
  assert.deepEqual(parseMergeTreeStdin(Buffer.from('')), { results: [], consumed: 0 });
});

test('git >= 2.38 is required (merge-tree --write-tree); 2.49 answers merge-tree --stdin line by line', () => {
  assert.equal(supportedVersion('git version 2.39.5\n'), '2.39.5');
  assert.equal(supportedVersion('git version 2.38.0.windows.1'), '2.38.0');
  assert.equal(supportedVersion('git version 3.0'), '3.0');
  for (const old of ['git version 2.37.7', 'git version 1.9.5', 'git version unknown']) assert.throws(() => supportedVersion(old), { code: 'E_GIT_TOO_OLD' }, old);
  assert.equal(versionAtLeast('2.39.5', 2, 49), false);
  assert.equal(versionAtLeast('2.49.0', 2, 49), true);
  assert.equal(versionAtLeast('2.50', 2, 49), true);
  assert.equal(versionAtLeast('3.0', 2, 49), true);
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
