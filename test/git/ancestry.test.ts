/**
 * Merge bases found in this process, held against `git merge-base --all` on generated histories:
 * criss-cross merges, octopus merges, unrelated roots, commit dates that go backwards, a graph in
 * several layers, commits the graph does not hold yet, and SHA-256.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { git, gitResult } from '../../fixtures/git.js';
import { bestCommonAncestors, CommitGraphIndex } from '../../src/git/ancestry.js';
import { CatFileBatch } from '../../src/git/batch.js';
import { openGit } from '../../src/git/runner.js';
import { settings } from './support.js';

/** A small deterministic generator (mulberry32). */
function random(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface History {
  repo: string;
  graphDir: string;
  commits: string[];
  /** How many of the first commits the graph holds. */
  inGraph: number;
  names: CatFileBatch;
}

/**
 * `count` commits of the empty tree, written by one `git fast-import`: each with 1 to 3 parents
 * picked mostly among recent commits, two roots, dates that mostly go forward and sometimes jump back.
 * The graph is written in two layers over the first `inGraph` commits; the rest exist only as objects.
 */
function history(dir: string, seed: number, count: number, inGraph: number, format: 'sha1' | 'sha256'): History {
  const next = random(seed);
  const repo = join(dir, `repo-${seed}-${format}`);
  git(dir, ['init', '-q', '--bare', `--object-format=${format}`, repo]);
  const graphDir = join(dir, `graph-${seed}-${format}`);
  mkdirSync(join(graphDir, 'info'), { recursive: true });
  let date = 1_700_000_000;
  const stream: string[] = [];
  const pick = (i: number) => Math.max(0, i - 1 - Math.floor(next() * Math.min(i, 8)));
  for (let i = 0; i < count; i++) {
    date += next() < 0.1 ? -Math.floor(next() * 5000) : Math.floor(next() * 600);
    const roll = next();
    const parents = i === 0 || i === 5 ? [] : [...new Set(roll < 0.65 ? [pick(i)] : roll < 0.93 ? [pick(i), pick(i)] : [pick(i), pick(i), pick(i)])];
    const message = `c${i}`;
    stream.push(`commit refs/heads/c${i}`, `mark :${i + 1}`, `committer C <c@c> ${date} +0000`, `data ${message.length}`, message);
    parents.forEach((p, k) => stream.push(`${k === 0 ? 'from' : 'merge'} :${p + 1}`));
  }
  const marks = join(dir, `marks-${seed}-${format}`);
  git(repo, ['fast-import', '--quiet', `--export-marks=${marks}`], { input: `${stream.join('\n')}\n` });
  const byMark = new Map(readFileSync(marks, 'utf8').trim().split('\n').map((l) => l.split(' ') as [string, string]));
  const commits = Array.from({ length: count }, (_, i) => byMark.get(`:${i + 1}`) as string);
  for (const upTo of [Math.floor(inGraph / 2), inGraph]) {
    // One more layer of the graph: the commits so far and everything they reach.
    git(repo, ['commit-graph', 'write', '--stdin-commits', '--split', '--no-progress'], { input: `${commits.slice(0, upTo).join('\n')}\n`, env: { GIT_OBJECT_DIRECTORY: graphDir, GIT_ALTERNATE_OBJECT_DIRECTORIES: join(repo, 'objects') } });
  }
  return { repo, graphDir, commits, inGraph, names: new CatFileBatch(openGit(repo, settings())) };
}

const gitBases = (h: History, a: string, b: string) => {
  const r = gitResult(h.repo, ['merge-base', '--all', a, b]);
  return r.status === 0 ? r.stdout.trim().split('\n').sort() : [];
};

describe('best common ancestors, in this process', () => {
  const dir = mkdtempSync(join(tmpdir(), 'si-ancestry-'));
  const made: History[] = [];
  after(async () => {
    await Promise.all(made.map((h) => h.names.close()));
    rmSync(dir, { recursive: true, force: true });
  });

  for (const [seed, format] of [[1, 'sha1'], [2, 'sha1'], [3, 'sha1'], [4, 'sha256']] as const) {
    test(`agree with git merge-base --all on a generated history (seed ${seed}, ${format})`, async () => {
      const h = history(dir, seed, 90, 60, format);
      made.push(h);
      const index = CommitGraphIndex.load(h.graphDir);
      assert.ok(index, 'the graph reads');
      assert.equal(index.size, countReachable(h), 'both layers are read');
      const read = (oids: readonly string[]) => h.names.commits(oids);
      const next = random(seed * 7919);
      let several = 0;
      // 50 random pairs of each of four histories: enough to meet criss-crosses, roots and octopuses.
      for (let k = 0; k < 50; k++) {
        const a = h.commits[Math.floor(next() * h.commits.length)] as string;
        const b = h.commits[Math.floor(next() * h.commits.length)] as string;
        const got = await bestCommonAncestors(a, b, index, read, 10_000);
        assert.deepEqual(got?.slice().sort(), gitBases(h, a, b), `${a} ${b}`);
        if ((got?.length ?? 0) > 1) several++;
      }
      assert.ok(several > 0, 'the histories have criss-cross merges (several best common ancestors)');
    });
  }

  test('a graph commit: its parents (an octopus merge’s too) and date, as git wrote them, and as cat-file reads them', async () => {
    const h = made[0] as History;
    const index = CommitGraphIndex.load(h.graphDir) as CommitGraphIndex;
    let octopus = false;
    const inGraph = h.commits.slice(0, h.inGraph);
    // What git says of each commit, in one process: its parents and its committer date.
    const gitSays = new Map(git(h.repo, ['show', '-s', '--no-walk=unsorted', '--format=%H %ct %P', ...inGraph]).split('\n').map((l) => {
      const [oid, date, ...parents] = l.split(' ');
      return [oid as string, { date: Number(date), parents: parents.filter(Boolean) }] as const;
    }));
    assert.equal(gitSays.size, inGraph.length);
    for (const c of inGraph) {
      const position = index.position(c);
      assert.equal(index.oid(position), c);
      const parents: string[] = [];
      index.parents(position, (p) => parents.push(index.oid(p)));
      assert.deepEqual(parents, gitSays.get(c)?.parents, c);
      assert.equal(index.date(position), gitSays.get(c)?.date, c);
      for (const p of parents) assert.ok(index.generation(index.position(p)) < index.generation(position), 'generations decrease along parents');
      assert.deepEqual(await h.names.commits([c]), [{ parents, date: index.date(position) }], 'cat-file reads the same');
      octopus ||= parents.length > 2;
    }
    assert.ok(octopus, 'an octopus merge is among them');
    assert.equal(index.position(h.commits[h.commits.length - 1] as string), -1, 'a commit written after the graph is not in it');
    assert.equal(index.position('0'.repeat(40)), -1);
  });

  test('past its budget of commits read outside the graph, or with a commit that does not exist, the walk does not decide', async () => {
    const h = made[0] as History;
    const index = CommitGraphIndex.load(h.graphDir) as CommitGraphIndex;
    const read = (oids: readonly string[]) => h.names.commits(oids);
    const [last, first] = [h.commits[h.commits.length - 1] as string, h.commits[0] as string];
    assert.equal(await bestCommonAncestors(last, first, index, read, 0), null);
    assert.equal(await bestCommonAncestors('f'.repeat(40), first, index, read), null);
    assert.equal(CommitGraphIndex.load(join(dir, 'nothing')), null);
  });

  function countReachable(h: History): number {
    return Number(git(h.repo, ['rev-list', '--count', ...h.commits.slice(0, h.inGraph)]));
  }
});
