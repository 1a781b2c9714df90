/**
 * The git engine end to end on real fixtures (bare origin, clone, agent worktrees): every scenario's
 * decision with both engines, the fresh re-check, checks in the scratch repository and its recovery
 * after a crash — and the proof that none of it writes the repository or the remote (a hostile check
 * included), nor ever holds a lock a live integration needs.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { createFixture, SCENARIO_KEYS, type Fixture, type ScenarioKey } from '../../fixtures/repo.js';
import type { ResolvedConfig } from '../../src/config/config.js';
import { silentLogger, systemTimers, type LogFields } from '../../src/context.js';
import { createEngine, type Engine, type Evaluation } from '../../src/engine/evaluate.js';
import { versionAtLeast } from '../../src/git/parse.js';
import { childrenRunning, gitSpy, gone, guardCanonical, parentOf, testEnv, waitFor, type CanonicalGuard } from '../support/index.js';

type EngineConfig = Pick<ResolvedConfig, 'remote' | 'main_branch' | 'fetch' | 'engine' | 'checks' | 'git_timeout_seconds'>;
const BASE: EngineConfig = { remote: 'origin', main_branch: 'main', fetch: false, engine: 'merge-tree', checks: [], git_timeout_seconds: 120 };

const stateDirOf = (fx: Fixture) => join(fx.clone, '.git', 'shadow-integrator');

/** Engines made by a test file, closed once its tests are done (their warm git processes stop). */
const engines: Engine[] = [];
after(() => Promise.all(engines.map((e) => e.close())));

interface EngineFor {
  stateDir?: string;
  env?: NodeJS.ProcessEnv;
  log?: (event: string, fields: LogFields) => void;
}

function engineFor(fx: Fixture, config: Partial<EngineConfig> = {}, opts: EngineFor = {}): Engine {
  const engine = createEngine({
    repoDir: fx.clone,
    commonDir: join(fx.clone, '.git'),
    stateDir: opts.stateDir ?? stateDirOf(fx),
    config: { ...BASE, ...config },
    env: opts.env ?? testEnv(),
    timers: systemTimers,
    now: () => new Date(),
    logger: opts.log ? { log: (_level, event, fields = {}) => opts.log?.(event, fields) } : silentLogger,
  });
  engines.push(engine);
  return engine;
}

const check = (run: string, timeout_seconds = 30) => ({ name: run.split(' ')[0] as string, run, timeout_seconds });

interface Expected {
  outcome: Evaluation['outcome'];
  reasons: string[];
  conflicts?: [string, string][];
}

/** The merge-tree engine's decision for every scenario; `(sha)` stands for the scenario's sha. */
const EXPECTED: Record<ScenarioKey, Expected> = {
  clean: { outcome: 'would_integrate', reasons: [] },
  clean2: { outcome: 'would_integrate', reasons: [] },
  superseded_old: { outcome: 'would_integrate', reasons: [] },
  superseded_new: { outcome: 'would_integrate', reasons: [] },
  conflict_content: { outcome: 'would_block', reasons: ['merge_conflict'], conflicts: [['src/app.txt', 'contents']] },
  conflict_modify_delete: { outcome: 'would_block', reasons: ['merge_conflict'], conflicts: [['src/legacy.txt', 'modify/delete']] },
  conflict_add_add: { outcome: 'would_block', reasons: ['merge_conflict'], conflicts: [['src/new.txt', 'add/add']] },
  conflict_rename: { outcome: 'would_block', reasons: ['merge_conflict'], conflicts: [['src/rename-me.txt', 'rename/rename'], ['src/renamed-by-branch.txt', 'rename/rename'], ['src/renamed-by-main.txt', 'rename/rename']] },
  conflict_binary: { outcome: 'would_block', reasons: ['merge_conflict'], conflicts: [['assets/logo.bin', 'binary']] },
  // git moves the branch's file aside, named after the side it came from: the sha, as the engine merges by sha.
  conflict_file_directory: { outcome: 'would_block', reasons: ['merge_conflict'], conflicts: [['src/thing~(sha)', 'file/directory']] },
  already_merged: { outcome: 'would_block', reasons: ['already_integrated'] },
  squashed: { outcome: 'would_block', reasons: ['already_integrated'] },
  not_on_remote: { outcome: 'would_block', reasons: ['sha_not_on_remote_branch'] },
};

const pairs = (e: Evaluation) => e.conflicts.map((c) => [c.path, c.kind]).sort();

/** The checks of a hostile user: every way a check could write a repository, run in the scratch repository. */
const HOSTILE = [
  'test "$(git rev-parse --absolute-git-dir)" = "$(pwd -P)/.git"',
  // HEAD is main and the index the merged tree, whose new objects exist only in the evaluation's temporary directory.
  'git -c user.name=h -c user.email=h@h commit -q -m "commit of the merged tree"',
  'git branch -f hostile && git tag -f hostile && git -c user.name=h -c user.email=h@h tag -f -a -m t hostile-annotated',
  'echo hostile >> README.md && git -c user.name=h -c user.email=h@h stash -q',
  'git gc -q',
].map((run) => check(run));

describe('git engine on a fixture repository, with the zero-write proof', () => {
  let fx: Fixture;
  let canonical: CanonicalGuard;
  let mainSha: string;

  before(() => {
    fx = createFixture();
    canonical = guardCanonical(fx.clone, { origin: fx.origin });
    mainSha = fx.git(fx.clone, 'rev-parse', 'refs/remotes/origin/main');
  });
  after(() => fx.remove());

  test('every scenario: decision, reasons, conflicts with their kinds and paths', async () => {
    const engine = engineFor(fx);
    for (const key of SCENARIO_KEYS) {
      const s = fx.scenarios[key];
      const want = EXPECTED[key];
      const got = await engine.evaluate(s);
      assert.equal(got.outcome, want.outcome, `${key}: ${got.message ?? ''}`);
      assert.deepEqual(got.reasons, want.reasons, key);
      assert.equal(got.main_sha, mainSha, key);
      assert.equal(got.engine, 'merge-tree');
      assert.match(got.git_version ?? '', /^\d+\.\d+/);
      assert.deepEqual(pairs(got), (want.conflicts ?? []).map(([p, k]) => [p.replace('(sha)', s.sha), k]).sort(), key);
      if (want.reasons.includes('merge_conflict')) assert.match(got.message ?? '', /^CONFLICT|^warning/m, key);
      if (want.outcome === 'would_integrate') {
        assert.equal(got.merge_base, fx.git(fx.clone, 'merge-base', mainSha, s.sha), key);
        assert.match(got.merged_tree ?? '', /^[0-9a-f]{40}$/, key);
        assert.equal(got.message, undefined, key);
      } else assert.equal(got.merged_tree, null, key);
    }
  });

  test('spawns per candidate, warm: merge-tree alone (merge base and ancestry walked in process over the commit-graph)', async () => {
    const spy = gitSpy();
    const engine = engineFor(fx, {}, { env: testEnv(spy.env) });
    const warmUp = await engine.evaluate(fx.scenarios.clean);
    assert.equal(warmUp.outcome, 'would_integrate');
    const first = spy.calls();
    assert.equal(first.filter((c) => c === 'cat-file').length, 1, 'one long-lived cat-file, started by the first candidate');
    // A commit-graph refresh (when main moved since the last one) runs in the background: wait for its record.
    await waitFor(() => existsSync(join(stateDirOf(fx), 'cache', 'commit-graph.json')), 'the commit-graph refresh');
    // From git 2.49 merge-tree --stdin answers line by line: one long-lived merge-tree serves every candidate.
    const mergeTree = versionAtLeast(warmUp.git_version ?? '', 2, 49) ? [] : ['merge-tree'];
    spy.reset();
    for (const key of ['clean2', 'conflict_content', 'already_merged', 'not_on_remote'] as const) {
      assert.deepEqual((await engine.evaluate(fx.scenarios[key])).reasons, EXPECTED[key].reasons, key);
      assert.deepEqual(spy.calls(), mergeTree, key);
      spy.reset();
    }
    // A new engine (a new tenure) starts its own cat-file, and reads git's version from the cache.
    const next = engineFor(fx, {}, { env: testEnv(spy.env) });
    assert.equal((await next.evaluate(fx.scenarios.clean)).outcome, 'would_integrate');
    assert.deepEqual(spy.calls().sort(), ['cat-file', 'merge-tree'], 'a new tenure starts its own processes');
  });

  test('the worktree engine (a real git merge --no-commit) agrees with merge-tree on every scenario', async () => {
    const viaTree = engineFor(fx);
    const viaWorktree = engineFor(fx, { engine: 'worktree' });
    for (const key of SCENARIO_KEYS) {
      const [a, b] = [await viaTree.evaluate(fx.scenarios[key]), await viaWorktree.evaluate(fx.scenarios[key])];
      assert.equal(b.outcome, a.outcome, `${key}: ${b.message ?? ''}`);
      assert.deepEqual(b.reasons, a.reasons, key);
      assert.equal(b.merged_tree, a.merged_tree, key);
      assert.deepEqual(pairs(b), pairs(a), key);
      assert.equal(b.engine, 'worktree');
    }
    const scratch = join(stateDirOf(fx), 'scratch');
    assert.equal(fx.git(scratch, 'rev-parse', 'HEAD'), mainSha, 'left detached on main');
    assert.equal(fx.git(scratch, 'status', '--porcelain'), '', 'left clean, no merge in progress');
    assert.equal(existsSync(join(scratch, '.git', 'MERGE_HEAD')), false);
    assert.equal(fx.git(scratch, 'rev-parse', '--absolute-git-dir'), join(scratch, '.git'), 'a repository of its own');
    assert.doesNotMatch(fx.git(fx.clone, 'worktree', 'list', '--porcelain'), /shadow-integrator/, 'not a worktree of the canonical repository');
  });

  test('checks run on the would-be merge: passing, failing with the tail of the output, timing out, background processes killed', async () => {
    // The merged files are there, and git in a check reads the merge's objects (HEAD is main, the index the merge).
    const pass = engineFor(fx, { checks: [check('test -f feature/clean.txt && test -f src/renamed-by-main.txt && touch junk'), check('test "$(git diff --cached --name-only HEAD)" = feature/clean.txt')] });
    assert.equal((await pass.evaluate(fx.scenarios.clean)).outcome, 'would_integrate');
    const next = await engineFor(fx, { checks: [check('test ! -e junk && test -f feature/other.txt')] }).evaluate(fx.scenarios.clean2);
    assert.equal(next.outcome, 'would_integrate', `nothing left from the previous candidate: ${next.message ?? ''}`);

    const fail = await engineFor(fx, { checks: [check('true'), check('seq 1 5000; echo boom >&2; exit 3')] }).evaluate(fx.scenarios.clean);
    assert.equal(fail.outcome, 'would_block');
    assert.deepEqual(fail.reasons, ['checks_failed']);
    assert.equal(fail.merged_tree, null);
    assert.match(fail.message ?? '', /^check "seq" exited 3:\n/);
    assert.match(fail.message ?? '', /4999\n5000\nboom\n$/);
    assert.ok((fail.message ?? '').length < 4200, 'only the tail is kept');

    const slow = await engineFor(fx, { checks: [check('sleep 30', 0.3)] }).evaluate(fx.scenarios.clean);
    assert.deepEqual(slow.reasons, ['checks_failed']);
    assert.match(slow.message ?? '', /timed out after 0.3 s/);
    const pids = join(fx.root, 'background.pid');
    const left = await engineFor(fx, { checks: [check(`sleep 30 & echo $! > ${pids}; echo started`)] }).evaluate(fx.scenarios.clean);
    assert.equal(left.outcome, 'would_integrate', left.message);
    await waitFor(() => gone(Number(readFileSync(pids, 'utf8'))), 'what the check left running was killed');
  });

  test('a hostile check (commit, branch, tag, stash, gc) writes only into the scratch repository, with either engine', async () => {
    for (const engine of ['merge-tree', 'worktree'] as const) {
      const got = await engineFor(fx, { engine, checks: HOSTILE }).evaluate(fx.scenarios.clean);
      assert.equal(got.outcome, 'would_integrate', `${engine}: ${got.message ?? ''}`);
      const scratch = join(stateDirOf(fx), 'scratch');
      assert.match(fx.git(scratch, 'for-each-ref', '--format=%(refname)'), /refs\/heads\/hostile\nrefs\/stash\nrefs\/tags\/hostile/, 'the hostile refs are in the scratch repository');
    }
  });

  test('a branch or sha that tries option injection is refused, never passed to git', async () => {
    const engine = engineFor(fx);
    for (const c of [
      { slug: 'x', branch: '--upload-pack=touch /tmp/si-pwned', sha: fx.scenarios.clean.sha },
      { slug: 'x', branch: '-c', sha: fx.scenarios.clean.sha },
      { slug: 'x', branch: fx.scenarios.clean.branch, sha: '--output=/tmp/si-pwned' },
      { slug: 'x', branch: fx.scenarios.clean.branch, sha: 'HEAD' },
    ]) {
      const got = await engine.evaluate(c);
      assert.equal(got.outcome, 'would_block');
      assert.deepEqual(got.reasons, ['git_error']);
      assert.match(got.message ?? '', /refused/);
    }
    assert.equal(existsSync('/tmp/si-pwned'), false);
  });

  test('missing refs and unknown objects: a deleted branch is not on its remote branch; a missing main or sha fails closed', async () => {
    const engine = engineFor(fx);
    const gone = await engine.evaluate({ slug: 'x', branch: 'agent/never-pushed', sha: fx.scenarios.clean.sha });
    assert.deepEqual(gone.reasons, ['sha_not_on_remote_branch']);
    assert.match(gone.message ?? '', /does not exist/);
    const noMain = await engineFor(fx, { main_branch: 'trunk' }).evaluate(fx.scenarios.clean);
    assert.deepEqual(noMain.reasons, ['git_error']);
    assert.equal(noMain.main_sha, null);
    const unknown = await engine.evaluate({ slug: 'x', branch: fx.scenarios.clean.branch, sha: 'f'.repeat(40) });
    assert.deepEqual(unknown.reasons, ['git_error']);
    assert.match(unknown.message ?? '', /not a commit in this repository/);
    const tree = await engine.evaluate({ slug: 'x', branch: fx.scenarios.clean.branch, sha: fx.git(fx.clone, 'rev-parse', `${fx.scenarios.clean.sha}^{tree}`) });
    assert.deepEqual(tree.reasons, ['git_error'], 'a tree id is not a commit');
  });

  test('zero writes: refs, reflogs, HEAD, index, worktree status and list, config and object stores of clone and origin untouched; no push; fsck clean', async () => {
    // Runs after every evaluation above (node:test runs a describe's tests in order), once the engines have stopped.
    await Promise.all(engines.map((e) => e.close()));
    canonical.assertUntouched();
  });
});

describe('fresh re-check at dequeue, and the scratch repository after a crash', () => {
  let fx: Fixture;
  before(() => {
    fx = createFixture();
  });
  after(() => fx.remove());

  test('a branch force-pushed between READY and dequeue is no longer on its remote branch, through the same warm engine', async () => {
    const engine = engineFor(fx);
    assert.equal((await engine.evaluate(fx.scenarios.clean2)).outcome, 'would_integrate');
    fx.forcePush('clean2');
    const again = await engine.evaluate(fx.scenarios.clean2);
    assert.deepEqual(again.reasons, ['sha_not_on_remote_branch']);
    assert.match(again.message ?? '', /force-pushed/);
  });

  test('fetch: true refreshes remote-tracking refs only, with explicit refspecs; a branch deleted on the remote is not on its remote branch', async () => {
    const heads = fx.git(fx.clone, 'for-each-ref', '--format=%(refname) %(objectname)', 'refs/heads');
    const fetchHead = readFileSync(join(fx.clone, '.git', 'FETCH_HEAD'), 'utf8');
    // An agent in another clone pushes; the canonical clone has not fetched it yet.
    const other = join(fx.root, 'other-clone');
    fx.git(fx.root, 'clone', '-q', fx.origin, other);
    const sha = fx.commit(other, { 'late.txt': 'late\n' }, 'late change');
    fx.git(other, 'push', '-q', 'origin', 'HEAD:refs/heads/agent/late');
    const stale = await engineFor(fx).evaluate({ slug: 'late', branch: 'agent/late', sha });
    assert.deepEqual(stale.reasons, ['git_error'], 'without fetch the sha is not known yet');
    const fetching = engineFor(fx, { fetch: true });
    const fresh = await fetching.evaluate({ slug: 'late', branch: 'agent/late', sha });
    assert.equal(fresh.outcome, 'would_integrate', fresh.message);
    assert.equal(fx.git(fx.clone, 'rev-parse', 'refs/remotes/origin/agent/late'), sha);
    assert.equal(readFileSync(join(fx.clone, '.git', 'FETCH_HEAD'), 'utf8'), fetchHead, 'FETCH_HEAD not written');

    fx.git(other, 'push', '-q', 'origin', ':refs/heads/agent/late');
    const deleted = await fetching.evaluate({ slug: 'late', branch: 'agent/late', sha });
    assert.deepEqual(deleted.reasons, ['sha_not_on_remote_branch']);
    assert.match(deleted.message ?? '', /no longer exists on origin/);
    assert.equal(fx.git(fx.clone, 'for-each-ref', '--format=%(refname) %(objectname)', 'refs/heads'), heads, 'no local branch written');
  });

  test('a scratch repository left broken by a crash is put back; one deleted under a running engine is made again', async () => {
    const withChecks = { checks: [check('test ! -e junk && test -f feature/clean.txt')] };
    assert.equal((await engineFor(fx, withChecks).evaluate(fx.scenarios.clean)).outcome, 'would_integrate');
    const scratch = join(stateDirOf(fx), 'scratch');
    // What a process killed mid-merge leaves: an index lock, a merge in progress, stray files.
    writeFileSync(join(scratch, '.git', 'index.lock'), '');
    writeFileSync(join(scratch, '.git', 'MERGE_HEAD'), `${fx.scenarios.conflict_content.sha}\n`);
    writeFileSync(join(scratch, 'junk'), 'left by a check\n');
    for (const engine of ['merge-tree', 'worktree'] as const) {
      const got = await engineFor(fx, { ...withChecks, engine }).evaluate(fx.scenarios.clean);
      assert.equal(got.outcome, 'would_integrate', `${engine}: ${got.message ?? ''}`);
    }
    const engine = engineFor(fx, withChecks);
    await engine.evaluate(fx.scenarios.clean);
    rmSync(scratch, { recursive: true, force: true });
    assert.equal((await engine.evaluate(fx.scenarios.clean)).outcome, 'would_integrate');
    // Its .git removed by a check: git in the next check must not find the canonical repository above it.
    rmSync(join(scratch, '.git'), { recursive: true, force: true });
    assert.equal((await engine.evaluate(fx.scenarios.clean)).outcome, 'would_integrate');
    assert.doesNotMatch(fx.git(fx.clone, 'worktree', 'list', '--porcelain'), /shadow-integrator/);
  });

  test('the linked scratch worktree of an earlier version is removed with its registration', async () => {
    const stateDir = join(fx.root, 'legacy-state');
    const scratch = join(stateDir, 'scratch');
    mkdirSync(stateDir);
    fx.git(fx.clone, 'worktree', 'add', '-q', '--detach', scratch, 'refs/remotes/origin/main');
    const logged: string[] = [];
    const got = await engineFor(fx, { checks: [check('true')] }, { stateDir, log: (event) => logged.push(event) }).evaluate(fx.scenarios.clean);
    assert.equal(got.outcome, 'would_integrate', got.message);
    assert.doesNotMatch(fx.git(fx.clone, 'worktree', 'list', '--porcelain'), /legacy-state/);
    assert.equal(existsSync(join(fx.clone, '.git', 'worktrees', 'scratch')), false);
    assert.ok(logged.includes('legacy_scratch_worktree_removed'));
  });

  test('a foreign directory where the scratch repository goes is never deleted, and is not a verdict about the candidate', async () => {
    const stateDir = join(fx.root, 'foreign-state');
    mkdirSync(join(stateDir, 'scratch'), { recursive: true });
    writeFileSync(join(stateDir, 'scratch', 'precious.txt'), 'mine\n');
    await assert.rejects(engineFor(fx, { checks: [check('true')] }, { stateDir }).evaluate(fx.scenarios.clean), { code: 'E_STATE_DIR', message: /not deleting it/ });
    assert.equal(readFileSync(join(stateDir, 'scratch', 'precious.txt'), 'utf8'), 'mine\n');
  });
});

describe('what is not a verdict, and what an engine leaves behind', () => {
  let fx: Fixture;
  before(() => {
    fx = createFixture();
  });
  after(() => fx.remove());

  test('a bug of ours (a TypeError) propagates as E_INTERNAL instead of becoming a would_block git_error', async () => {
    const engine = engineFor(fx);
    const broken = {
      slug: 'x',
      branch: fx.scenarios.clean.branch,
      get sha(): string {
        throw new TypeError('a bug in our own code');
      },
    };
    await assert.rejects(engine.evaluate(broken), (e: { code: string; message: string }) => {
      assert.equal(e.code, 'E_INTERNAL');
      assert.match(e.message, /a bug in our own code.*This is a bug in shadow-integrator/s);
      return true;
    });
    assert.equal((await engine.evaluate(fx.scenarios.clean)).outcome, 'would_integrate', 'the engine goes on');
  });

  test('a closed engine cancels what it runs (E_CANCELLED, not a verdict), and the next call starts afresh', async () => {
    const pid = join(fx.root, 'check.pid');
    const engine = engineFor(fx, { checks: [check(`sleep 30 & echo $! > ${pid}; wait`)] });
    const evaluation = engine.evaluate(fx.scenarios.clean);
    await waitFor(() => existsSync(pid) && readFileSync(pid, 'utf8').endsWith('\n'), 'the check runs');
    const cancelled = assert.rejects(evaluation, { code: 'E_CANCELLED' });
    await engine.close();
    await cancelled;
    await waitFor(() => gone(Number(readFileSync(pid, 'utf8'))), 'the check was killed');
    const again = engineFor(fx);
    assert.equal((await again.evaluate(fx.scenarios.clean)).outcome, 'would_integrate');
  });

  test('an engine nobody closed does not hold its process open: warm processes wait unreferenced', () => {
    const options = { repoDir: fx.clone, commonDir: join(fx.clone, '.git'), stateDir: join(fx.root, 'unclosed-state'), config: BASE };
    const script = [
      `const { createEngine } = await import(${JSON.stringify(new URL('../../src/engine/evaluate.js', import.meta.url).href)});`,
      `const { systemTimers, silentLogger } = await import(${JSON.stringify(new URL('../../src/context.js', import.meta.url).href)});`,
      `const engine = createEngine({ ...${JSON.stringify(options)}, env: process.env, timers: systemTimers, logger: silentLogger });`,
      `process.stdout.write((await engine.evaluate(${JSON.stringify(fx.scenarios.clean)})).outcome);`,
    ].join('\n');
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { env: testEnv(), encoding: 'utf8', timeout: 60_000 });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, 'would_integrate', 'evaluated, then exited without close()');
  });

  test('temporary objects live under the state directory, named after their owner, gone at close; a dead owner’s are swept at the next start', async () => {
    const root = join(stateDirOf(fx), 'tmp-objects');
    const dead = join(root, `${hostname()}-999999999-0badc0de`);
    mkdirSync(join(dead, 'ab'), { recursive: true });
    const logged: string[] = [];
    const engine = engineFor(fx, {}, { log: (event) => logged.push(event) });
    assert.equal((await engine.evaluate(fx.scenarios.clean)).outcome, 'would_integrate');
    assert.equal(existsSync(dead), false);
    assert.ok(logged.includes('temporary_objects_swept'));
    const mine = readdirSync(root).filter((n) => n.startsWith(`${hostname()}-${process.pid}-`));
    assert.ok(mine.length >= 1);
    const before = new Set(mine);
    await engine.close();
    const after = readdirSync(root).filter((n) => before.has(n));
    assert.ok(after.length < before.size, 'the closed engine removed its own');
  });
});

describe('every git process is bounded; a killed one fails its candidate only', () => {
  let fx: Fixture;
  let env: NodeJS.ProcessEnv;
  const pidsFile = () => join(fx.root, 'hung.pids');
  const hungPids = () => (existsSync(pidsFile()) ? readFileSync(pidsFile(), 'utf8').split('\n').filter(Boolean).map(Number) : []);

  before(() => {
    fx = createFixture();
    // A merge driver (for the file both sides of conflict_content change) and an upload-pack that
    // never return, each recording its pid: configured in a global config both engines read.
    const attributes = join(fx.root, 'attributes');
    writeFileSync(attributes, 'src/app.txt merge=hang\n');
    const global = join(fx.root, 'global.gitconfig');
    writeFileSync(global, `[core]\n\tattributesFile = ${attributes}\n[merge "hang"]\n\tdriver = "echo $$ >> ${pidsFile()}; exec sleep 600 # %O %A %B"\n`);
    env = { ...testEnv(), GIT_CONFIG_GLOBAL: global };
  });
  after(() => fx.remove());

  for (const engine of ['merge-tree', 'worktree'] as const) {
    test(`${engine}: a merge driver that never returns is killed at git_timeout_seconds; the candidate is would_block git_error and the next one is decided`, async () => {
      rmSync(pidsFile(), { force: true });
      const e = engineFor(fx, { engine, git_timeout_seconds: 1 }, { env });
      const hung = await e.evaluate(fx.scenarios.conflict_content);
      assert.equal(hung.outcome, 'would_block');
      assert.deepEqual(hung.reasons, ['git_error']);
      assert.match(hung.message ?? '', /did not finish within 1 s/);
      assert.equal(hungPids().length, 1, 'the driver ran');
      await waitFor(() => hungPids().every(gone), 'the driver died with its git');
      assert.equal((await e.evaluate(fx.scenarios.clean)).outcome, 'would_integrate');
    });
  }

  test('a fetch whose upload-pack never answers is killed at git_timeout_seconds, transport included', async () => {
    rmSync(pidsFile(), { force: true });
    fx.git(fx.clone, 'config', 'remote.origin.uploadpack', `echo $$ >> ${pidsFile()}; exec sleep 600 #`);
    try {
      const hung = await engineFor(fx, { fetch: true, git_timeout_seconds: 1 }, { env }).evaluate(fx.scenarios.clean);
      assert.deepEqual(hung.reasons, ['git_error']);
      assert.match(hung.message ?? '', /git fetch did not finish within 1 s/);
      assert.ok(hungPids().length >= 1, 'the upload-pack ran');
      await waitFor(() => hungPids().every(gone), 'the transport died with its git');
    } finally {
      fx.git(fx.clone, 'config', '--unset', 'remote.origin.uploadpack');
    }
  });

  test('kill -9 of the merge mid-merge: git_error for that candidate only; kill -9 of the warm cat-file between candidates: nothing lost', async () => {
    rmSync(pidsFile(), { force: true });
    const e = engineFor(fx, { git_timeout_seconds: 60 }, { env });
    const evaluation = e.evaluate(fx.scenarios.conflict_content);
    // The driver runs inside merge-tree: once it has recorded itself, merge-tree (its parent) is mid-merge.
    await waitFor(() => hungPids().length === 1, 'the merge driver to start');
    const driver = hungPids()[0] as number;
    const mergeTree = parentOf(driver);
    process.kill(mergeTree, 'SIGKILL');
    const killed = await evaluation;
    assert.deepEqual(killed.reasons, ['git_error']);
    assert.match(killed.message ?? '', /SIGKILL/);
    await waitFor(() => gone(driver), 'the driver went with the killed merge');
    assert.equal((await e.evaluate(fx.scenarios.clean)).outcome, 'would_integrate', 'the next candidate is evaluated normally');

    const warm = childrenRunning('cat-file --batch-command');
    assert.ok(warm.length > 0, 'the engines keep a cat-file running between candidates');
    for (const pid of warm) process.kill(pid, 'SIGKILL');
    await waitFor(() => warm.every(gone), 'the killed cat-files to go');
    assert.equal((await e.evaluate(fx.scenarios.clean2)).outcome, 'would_integrate', 'a new cat-file answers');
    assert.equal(childrenRunning('cat-file --batch-command').filter((pid) => !warm.includes(pid)).length, 1);
  });
});

test('a live integration committing and pushing in the same repository is never blocked by a lock of this tool', async () => {
  const fx = createFixture();
  try {
    // The live path, in its own process so that it truly runs alongside: commit in the canonical worktree, push main.
    const live = spawn('sh', ['-c', 'set -e; for i in $(seq 1 12); do echo $i > live-$i.txt; git add live-$i.txt; git commit -q -m "live $i"; git push -q origin HEAD:refs/heads/main; done'], {
      cwd: fx.clone,
      env: testEnv(),
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    live.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((resolvePromise) => live.on('close', resolvePromise));
    let running = true;
    void exited.then(() => (running = false));
    const tools = [engineFor(fx, { checks: [check('true')] }), engineFor(fx, { engine: 'worktree' })];
    let evaluations = 0;
    while (running) {
      for (const engine of tools) {
        for (const key of ['clean', 'conflict_content', 'squashed'] as const) {
          const got = await engine.evaluate(fx.scenarios[key]);
          assert.deepEqual(got.reasons, EXPECTED[key].reasons, `${key}: ${got.message ?? ''}`);
          evaluations++;
        }
      }
    }
    assert.equal(await exited, 0, stderr);
    assert.doesNotMatch(stderr, /lock/i);
    assert.ok(evaluations >= 6, `${evaluations} evaluations ran alongside`);
    assert.equal(fx.git(fx.clone, 'rev-list', '--count', 'refs/remotes/origin/main', '^HEAD~12'), '12');
  } finally {
    await Promise.all(engines.map((e) => e.close()));
    fx.remove();
  }
});
