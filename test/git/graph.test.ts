/**
 * The tool's own commit-graph: written under the state directory only, read by git as an alternate,
 * refreshed by a layer when main moved, rewritten whole when main's history was rewritten, and not
 * kept at all for a repository that has a graph of its own.
 */
import assert from 'node:assert/strict';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { git, gitResult } from '../../fixtures/git.js';
import { createFixture, type Fixture } from '../../fixtures/repo.js';
import { diffSnapshots, snapshotRepo } from '../../fixtures/snapshot.js';
import { silentLogger } from '../../src/context.js';
import { CommitGraph } from '../../src/git/graph.js';
import { settings } from './support.js';

describe('on a fixture repository', () => {
  let fx: Fixture;
  let graph: CommitGraph;
  const layers = () => readFileSync(join(graph.dir, 'info', 'commit-graphs', 'commit-graph-chain'), 'utf8').split('\n').filter(Boolean).length;
  const main = () => fx.git(fx.clone, 'rev-parse', 'refs/remotes/origin/main');
  const moveMain = (files: Record<string, string>, force = false) => {
    const wt = fx.worktrees.alice as string;
    const sha = fx.commit(wt, files, 'main moves');
    fx.push(wt, `${force ? '+' : ''}${sha}:refs/heads/main`);
    return sha;
  };
  before(() => {
    fx = createFixture({ agents: ['alice'], scenarios: false });
    graph = new CommitGraph(fx.clone, join(fx.clone, '.git'), join(fx.root, 'state'), settings(), silentLogger);
  });
  after(() => fx.remove());

  test('written under the state directory only, and read by git through the alternate', async () => {
    for (let i = 0; i < 3; i++) moveMain({ [`f${i}.txt`]: `${i}\n` });
    const before = snapshotRepo(fx.clone);
    assert.deepEqual(graph.alternates(), [], 'none yet');
    graph.refresh(main());
    await graph.settled();
    assert.deepEqual(graph.alternates(), [graph.dir]);
    assert.equal(layers(), 1);
    assert.deepEqual(diffSnapshots(before, snapshotRepo(fx.clone)), []);
    // git walks main through the graph alone: with a commit object gone, only a git that reads the graph still can.
    const middle = fx.git(fx.clone, 'rev-parse', 'refs/remotes/origin/main~1');
    const object = join(fx.clone, '.git', 'objects', middle.slice(0, 2), middle.slice(2));
    const saved = readFileSync(object);
    rmSync(object, { force: true });
    try {
      assert.notEqual(gitResult(fx.clone, ['rev-list', '--count', 'refs/remotes/origin/main']).status, 0);
      assert.equal(git(fx.clone, ['rev-list', '--count', 'refs/remotes/origin/main'], { env: { GIT_ALTERNATE_OBJECT_DIRECTORIES: graph.dir } }), '4');
    } finally {
      writeFileSync(object, saved);
    }
  });

  test('main moved: one more layer with the new commits; main unchanged: nothing to do', async () => {
    moveMain({ 'g.txt': 'g\n' });
    graph.refresh(main());
    await graph.settled();
    assert.equal(layers(), 2);
    graph.refresh(main());
    await graph.settled();
    assert.equal(layers(), 2);
  });

  test('a record off its schema (torn, or from before schema_version) counts as none: the refresh writes it again', async () => {
    const record = join(fx.root, 'state', 'cache', 'commit-graph.json');
    for (const text of ['{"main":', JSON.stringify({ main: main() })]) {
      writeFileSync(record, text);
      const before = layers();
      graph.refresh(main());
      await graph.settled();
      assert.deepEqual(JSON.parse(readFileSync(record, 'utf8')) as unknown, { schema_version: 1, main: main() });
      assert.equal(layers(), before, 'no commit was new: no layer added');
    }
  });

  test('main’s history rewritten: the graph is written again whole', async () => {
    fx.git(fx.worktrees.alice as string, 'reset', '-q', '--hard', 'refs/remotes/origin/main~2');
    moveMain({ 'rewritten.txt': 'r\n' }, true);
    graph.refresh(main());
    await graph.settled();
    assert.equal(layers(), 1);
    assert.deepEqual(JSON.parse(readFileSync(join(fx.root, 'state', 'cache', 'commit-graph.json'), 'utf8')) as unknown, { schema_version: 1, main: main() });
  });

  test('a repository with a commit-graph of its own: none of the tool’s', async () => {
    fx.git(fx.clone, 'commit-graph', 'write', '--reachable');
    const own = new CommitGraph(fx.clone, join(fx.clone, '.git'), join(fx.root, 'other-state'), settings(), silentLogger);
    assert.equal(own.wanted, false);
    own.refresh(main());
    await own.settled();
    assert.deepEqual(own.alternates(), []);
  });
});
