/**
 * The pushing side, with real git commands: `hooks install` alone records branch_pushed when a push
 * from an agent worktree succeeds (reference-transaction, committed); the hook never aborts or fails
 * a ref update, even with shadow-integrator gone; `status` says whether the installed hooks still
 * run; hooks.log lines carry the time and the run, whole, with runs side by side.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { createFixture, type Fixture } from '../../fixtures/repo.js';
import { loadConfig } from '../../src/config/config.js';
import * as outputs from '../../src/contract/output-validators.generated.js';
import type { StatusReport } from '../../src/contract/types.generated.js';
import { installHooks } from '../../src/hooks/install.js';
import { statePaths, type StatePaths } from '../../src/store/paths.js';
import { appendEvents, CLI, cli, cliJson, clonedRepo, git, gitResult, readyEvents, testContext, testEnv, waitFor, writeShadowConfig } from '../support/index.js';
import { drainReports, HOOK_LOG_LINE, pushes, read, wholeLines, writeScript } from './support.js';

const version = (JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string }).version;

describe('hooks install alone records pushes', { timeout: 120_000 }, () => {
  let fx: Fixture;
  let paths: StatePaths;
  before(async () => {
    fx = createFixture({ scenarios: false, agents: ['alice'] });
    writeShadowConfig(fx.clone);
    paths = statePaths(join(fx.clone, '.git', 'shadow-integrator'));
    const r = await cli(fx.clone, ['hooks', 'install']);
    assert.equal(r.code, 0, r.stderr);
  });
  after(() => fx.remove());

  test('a git push from an agent worktree: its branch_pushed is in readiness.jsonl within seconds, and a drain runs', async () => {
    const wt = fx.worktrees.alice as string;
    git(wt, ['switch', '-q', '-c', 'agent/alice/login']);
    const sha = fx.commit(wt, { 'login.txt': 'log in\n' }, 'login');
    git(wt, ['push', '-q', 'origin', 'agent/alice/login'], { hooks: true });
    await waitFor(() => pushes(paths).length > 0, 'branch_pushed from the reference-transaction hook', 20_000);
    const [event, ...more] = pushes(paths);
    assert.deepEqual({ branch: event?.branch, sha: event?.sha, remote: event?.remote }, { branch: 'agent/alice/login', sha, remote: 'origin' });
    assert.ok(event?.pusher, 'someone pushed');
    assert.deepEqual(more, [], 'one event for one push');
    await waitFor(() => drainReports(join(paths.dir, 'hooks.log')) > 0, 'the drain after the push', 20_000);

    // A commit moves no remote-tracking ref: nothing is recorded (its post-commit only drains).
    git(wt, ['commit', '-q', '--allow-empty', '-m', 'local only'], { hooks: true });
    await waitFor(() => drainReports(join(paths.dir, 'hooks.log')) > 1, 'the drain after the commit', 20_000);
    assert.equal(pushes(paths).length, 1);
  });

  test('status: every installed hook runs with this CLI; its --json matches the schema', async () => {
    const s = await cliJson<StatusReport>(fx.clone, ['status']);
    assert.deepEqual(
      s.hooks.map((h) => [h.hook, h.node, h.cli, h.version, h.problems]),
      ['post-commit', 'post-merge', 'reference-transaction'].map((h) => [h, process.execPath, CLI, version, []]),
    );
    assert.deepEqual(s.warnings, []);
    assert.ok(outputs.status(s), JSON.stringify(outputs.status.errors));
    assert.match((await cli(fx.clone, ['status'])).stdout, /^hooks +post-commit, post-merge, reference-transaction: run /m);
  });
});

describe('hooks that fail loudly', { timeout: 120_000 }, () => {
  test('node gone: git commits and pushes still succeed; status says which hook is broken and why; hooks.log says so, timestamped', async () => {
    const r = clonedRepo();
    writeShadowConfig(r.dir);
    const ctx = testContext({ cwd: r.dir });
    installHooks(loadConfig({ cwd: r.dir }), ctx, { cli: { node: join(r.root, 'gone', 'node'), main: CLI, version } });
    git(r.dir, ['switch', '-q', '-c', 'topic']);
    git(r.dir, ['commit', '-q', '--allow-empty', '-m', 'still commits'], { hooks: true });
    git(r.dir, ['push', '-q', 'origin', 'topic'], { hooks: true });
    const log = join(r.paths.dir, 'hooks.log');
    await waitFor(() => wholeLines(log).length >= 2, 'the two runs that could not start', 20_000);
    for (const line of wholeLines(log)) {
      const m = HOOK_LOG_LINE.exec(line);
      assert.ok(m, `a timestamped line: ${line}`);
      assert.match(m[4] as string, new RegExp(`^shadow-integrator hook: cannot run: node ${join(r.root, 'gone', 'node')} is missing or not executable; run shadow-integrator hooks install again$`));
    }
    assert.doesNotMatch(read(log), /Cannot find module/);

    const s = await cliJson<StatusReport>(r.dir, ['status']);
    assert.deepEqual(s.hooks.map((h) => [h.hook, h.problems.length]), [['post-commit', 1], ['post-merge', 1], ['reference-transaction', 1]]);
    assert.deepEqual([...new Set(s.warnings.map((w) => w.code))], ['hooks_broken']);
    assert.match(s.warnings[0]?.message ?? '', /the post-commit hook does not run this shadow-integrator: node .*gone\/node is missing or not executable; run shadow-integrator hooks install again/);
    assert.match((await cli(r.dir, ['status'])).stdout, /^warning: the reference-transaction hook does not run this shadow-integrator/m);

    // Another version installed them: status says so.
    installHooks(loadConfig({ cwd: r.dir }), ctx, { cli: { node: process.execPath, main: CLI, version: '0.0.1' } });
    const old = await cliJson<StatusReport>(r.dir, ['status']);
    assert.deepEqual(old.hooks[0]?.problems, [`${CLI} is version ${version} now, the hook was installed by 0.0.1`]);
  });

  test('reference-transaction never aborts an update: prepared exits 0 at once; a previous hook still decides for itself', () => {
    const r = clonedRepo();
    writeShadowConfig(r.dir);
    const hook = join(r.dir, '.git', 'hooks', 'reference-transaction');
    installHooks(loadConfig({ cwd: r.dir }), testContext({ cwd: r.dir }), { cli: { node: process.execPath, main: CLI, version } });
    const line = `${'0'.repeat(40)} ${'a'.repeat(40)} refs/remotes/origin/x\n`;
    for (const state of ['prepared', 'aborted']) {
      const res = spawnSync('sh', [hook, state], { cwd: r.dir, env: testEnv(), input: line });
      assert.equal(res.status, 0, `${state}: ${res.stderr.toString()}`);
    }
    assert.equal(pushes(r.paths).length, 0, 'only committed updates are recorded');
    assert.equal(gitResult(r.dir, ['branch', 'ours'], { hooks: true }).status, 0);

    // A hook that was there before and refuses in prepared: its refusal stands, as without ours.
    git(r.dir, ['branch', '-q', '-D', 'ours']);
    installHooks(loadConfig({ cwd: r.dir }), testContext({ cwd: r.dir }), { cli: { node: process.execPath, main: CLI, version } });
    writeScript(`${hook}.pre-shadow-integrator`, '[ "$1" = prepared ] && { cat >/dev/null; echo refused >&2; exit 1; }\nexit 0');
    const refused = gitResult(r.dir, ['branch', 'refused'], { hooks: true });
    assert.notEqual(refused.status, 0);
    assert.match(refused.stderr, /refused/);
  });
});

describe('hooks.log', { timeout: 120_000 }, () => {
  test('runs side by side: every line whole, with the time and its run', async () => {
    const r = clonedRepo();
    writeShadowConfig(r.dir);
    const ctx = testContext({ cwd: r.dir });
    installHooks(loadConfig({ cwd: r.dir }), ctx, { cli: { node: process.execPath, main: CLI, version } });
    // Work for the drains, so that they have several lines to say (one holds the lease, the others stand by).
    appendEvents(r.paths.readiness, [1, 2, 3].flatMap((n) => readyEvents({ slug: `s${n}`, branch: `b${n}`, sha: String(n).repeat(40) }, `2026-01-01T00:00:0${n}Z`, String(n))));
    const hook = join(r.dir, '.git', 'hooks', 'post-commit');
    const runs = 4;
    await Promise.all(
      Array.from({ length: runs }, () => new Promise<void>((resolve, reject) => spawn('sh', [hook], { cwd: r.dir, env: testEnv(), stdio: 'ignore' }).on('exit', () => resolve()).on('error', reject))),
    );
    const log = join(r.paths.dir, 'hooks.log');
    await waitFor(() => drainReports(log) === runs, `${runs} drain reports`, 30_000);
    const lines = read(log).split('\n');
    assert.equal(lines.pop(), '', 'the log ends with a whole line');
    const byRun = new Map<string, string[]>();
    for (const line of lines) {
      const m = HOOK_LOG_LINE.exec(line);
      assert.ok(m, `every line starts with the time and the run: ${JSON.stringify(line)}`);
      assert.equal(m[2], 'post-commit');
      // The rest is one whole thing: a log record (logfmt) or a drain's report.
      assert.match(m[4] as string, /^(ts=\S+ level=\w+ event=\w+( \w+=("[^"]*"|\S+))*|epoch \d+: .*|nothing to do: .*|lease integration\/main is held by .*)$/, line);
      byRun.set(m[3] as string, [...(byRun.get(m[3] as string) ?? []), m[4] as string]);
    }
    assert.equal(byRun.size, runs, 'each run has its own id');
    for (const [run, said] of byRun) assert.equal(said.filter((l) => /^(epoch \d+:|nothing to do|lease integration)/.test(l)).length, 1, `run ${run} reports once`);
  });
});
