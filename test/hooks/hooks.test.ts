/**
 * hooks on real repositories, run by real git commands: installed next to existing hooks (both run,
 * the previous hook's input and exit status are kept), idempotent, never delaying git, a push to the
 * bare origin recording branch_pushed in the working repository, and uninstall restoring the
 * previous hooks byte for byte. (push.test.ts: the pushing side's reference-transaction hook, the
 * hooks' health and hooks.log.)
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { createFixture, type Fixture } from '../../fixtures/repo.js';
import { loadConfig } from '../../src/config/config.js';
import { installHooks, type HooksReport } from '../../src/hooks/install.js';
import type { ReceiveReport } from '../../src/hooks/receive.js';
import { statePaths, type StatePaths } from '../../src/store/paths.js';
import { cli, cliJson, git, testContext, testEnv, waitFor as waitUntil, writeShadowConfig } from '../support/index.js';
import { drainReports, pushes, read, writeScript } from './support.js';

const ZERO = '0'.repeat(40);

const waitFor = (what: string, check: () => boolean) => waitUntil(check, what, 20_000);

describe('hooks', { timeout: 120_000 }, () => {
  let fx: Fixture;
  let paths: StatePaths;
  let log: string;
  const hook = {} as Record<'postCommit' | 'postMerge' | 'postReceive', string>;
  const previous = {} as Record<'postCommit' | 'postReceive', { text: string; mode: number }>;
  let marker: string;
  let received: string;

  before(() => {
    fx = createFixture({ scenarios: false, agents: ['alice'] });
    writeShadowConfig(fx.clone);
    paths = statePaths(join(fx.clone, '.git', 'shadow-integrator'));
    log = join(paths.dir, 'hooks.log');
    hook.postCommit = join(fx.clone, '.git', 'hooks', 'post-commit');
    hook.postMerge = join(fx.clone, '.git', 'hooks', 'post-merge');
    hook.postReceive = join(fx.origin, 'hooks', 'post-receive');
    marker = join(fx.root, 'previous-post-commit.log');
    received = join(fx.root, 'previous-post-receive.input');
    writeScript(hook.postCommit, `echo "previous post-commit ran" >> '${marker}'\nexit 7`);
    writeScript(hook.postReceive, `cat >> '${received}'`);
    for (const [key, path] of [['postCommit', hook.postCommit], ['postReceive', hook.postReceive]] as const) previous[key] = { text: read(path), mode: statSync(path).mode };
  });
  after(() => fx.remove());

  test('install: chained to the hooks already there, and a second install changes nothing', async () => {
    const r = await cliJson<HooksReport>(fx.clone, ['hooks', 'install', '--origin', fx.origin]);
    assert.deepEqual(
      r.hooks.map((h) => [h.repo, h.hook, h.action, h.chained]),
      [
        ['working', 'post-commit', 'installed', `${hook.postCommit}.pre-shadow-integrator`],
        ['working', 'post-merge', 'installed', null],
        ['working', 'reference-transaction', 'installed', null],
        ['origin', 'post-receive', 'installed', `${hook.postReceive}.pre-shadow-integrator`],
      ],
    );
    assert.equal(r.log, log);
    assert.equal(read(`${hook.postCommit}.pre-shadow-integrator`), previous.postCommit.text, 'the previous hook is kept as it was');
    const contents = Object.values(hook).map(read);
    const again = await cliJson<HooksReport>(fx.clone, ['hooks', 'install', '--origin', fx.origin]);
    assert.deepEqual(again.hooks.map((h) => h.action), ['unchanged', 'unchanged', 'unchanged', 'unchanged']);
    assert.deepEqual(Object.values(hook).map(read), contents);
    assert.match((await cli(fx.clone, ['hooks', 'install', '--origin', fx.origin])).stdout, /working +post-commit +unchanged .*runs the previous hook/);
  });

  test('a commit runs the previous post-commit and starts a drain in the background', async () => {
    git(fx.clone, ['commit', '-q', '--allow-empty', '-m', 'a commit with hooks'], { hooks: true });
    assert.equal(read(marker), 'previous post-commit ran\n');
    await waitFor('the background drain', () => drainReports(log) === 1);
    assert.match(read(log), /nothing to do/);
  });

  test("the hook's exit status is the previous hook's", async () => {
    const r = spawnSync('sh', [hook.postCommit], { cwd: fx.clone, env: testEnv() });
    assert.equal(r.status, 7);
    await waitFor('the background drain', () => drainReports(log) === 2);
  });

  test('a push to the origin records branch_pushed at both ends, one event by its id; the previous post-receive gets the same input', async () => {
    const wt = fx.worktrees.alice as string;
    const sha = fx.commit(wt, { 'feature/hooked.txt': 'pushed with hooks\n' }, 'hooked');
    git(wt, ['push', '-q', 'origin', 'HEAD:refs/heads/agent/hooked'], { hooks: true });
    // The origin's post-receive and the pushing repository's reference-transaction each record it.
    await waitFor('branch_pushed from both hooks', () => pushes(paths).filter((e) => e.branch === 'agent/hooked').length === 2);
    const [a, b] = pushes(paths);
    assert.deepEqual({ branch: a?.branch, sha: a?.sha, remote: a?.remote }, { branch: 'agent/hooked', sha, remote: 'origin' });
    assert.equal(a?.id, b?.id, 'the same push has the same id at both ends: the second line changes nothing');
    assert.equal(read(received), `${ZERO} ${sha} refs/heads/agent/hooked\n`);
    await waitFor('the drains after it', () => drainReports(log) === 4);
    assert.match(read(log), /ingested [12] event/);

    // Deleting the branch records nothing.
    git(wt, ['push', '-q', 'origin', ':refs/heads/agent/hooked'], { hooks: true });
    await waitFor('the drains after the deletion', () => drainReports(log) === 6);
    assert.match(read(log), /skipped refs\/heads\/agent\/hooked: deleted/);
    assert.match(read(log), /skipped refs\/remotes\/origin\/agent\/hooked: deleted/);
    assert.equal(read(received), `${ZERO} ${sha} refs/heads/agent/hooked\n${sha} ${ZERO} refs/heads/agent/hooked\n`);
    assert.equal(pushes(paths).length, 2);
  });

  test('uninstall puts the previous hooks back byte for byte; a second uninstall leaves them alone', async () => {
    const r = await cliJson<HooksReport>(fx.clone, ['hooks', 'uninstall', '--origin', fx.origin]);
    assert.deepEqual(r.hooks.map((h) => h.action), ['restored', 'removed', 'removed', 'restored']);
    for (const key of ['postCommit', 'postReceive'] as const) {
      assert.equal(read(hook[key]), previous[key].text, key);
      assert.equal(statSync(hook[key]).mode, previous[key].mode, key);
      assert.equal(existsSync(`${hook[key]}.pre-shadow-integrator`), false);
    }
    assert.equal(existsSync(hook.postMerge), false);
    const again = await cliJson<HooksReport>(fx.clone, ['hooks', 'uninstall', '--origin', fx.origin]);
    assert.deepEqual(again.hooks.map((h) => h.action), ['foreign', 'absent', 'absent', 'foreign']);
    assert.equal(read(hook.postCommit), previous.postCommit.text);
  });

  test('hooks receive: a branch_pushed per updated branch; deletions, tags and refused names record nothing', async () => {
    const before = pushes(paths).length;
    const input = [`${ZERO} ${'a'.repeat(40)} refs/heads/feature/one`, `${'a'.repeat(40)} ${ZERO} refs/heads/gone`, `${ZERO} ${'b'.repeat(40)} refs/tags/v1`, `${ZERO} ${'c'.repeat(40)} refs/heads/bad..name`, ''].join('\n');
    const r = await cli(fx.clone, ['hooks', 'receive', '--json'], { stdin: input, env: { GL_USERNAME: 'gitlab-user' } });
    assert.equal(r.code, 0, r.stderr);
    const report = JSON.parse(r.stdout) as ReceiveReport;
    assert.deepEqual(report.recorded.map((e) => [e.branch, e.sha, e.remote, e.pusher]), [['feature/one', 'a'.repeat(40), 'origin', 'gitlab-user']]);
    assert.deepEqual(report.skipped.map((s) => s.ref), ['refs/heads/gone', 'refs/heads/bad..name']);
    assert.match(report.skipped[1]?.reason ?? '', /branch: must be a valid git branch name/);
    assert.equal(pushes(paths).length, before + 1);
  });
});

describe('hooks: where they go and what they cost git', { timeout: 60_000 }, () => {
  let fx: Fixture;
  before(() => {
    fx = createFixture({ scenarios: false, agents: [] });
    writeShadowConfig(fx.clone);
  });
  after(() => fx.remove());

  test("a repository's core.hooksPath is respected; one set for every repository is refused (exit 2)", async () => {
    git(fx.clone, ['config', 'core.hooksPath', '.githooks']);
    const r = await cliJson<HooksReport>(fx.clone, ['hooks', 'install']);
    assert.deepEqual(
      r.hooks.map((h) => h.path),
      ['post-commit', 'post-merge', 'reference-transaction'].map((h) => join(fx.clone, '.githooks', h)),
    );
    assert.deepEqual((await cliJson<HooksReport>(fx.clone, ['hooks', 'uninstall'])).hooks.map((h) => h.action), ['removed', 'removed', 'removed']);
    git(fx.clone, ['config', '--unset', 'core.hooksPath']);

    const global = join(fx.root, 'global.gitconfig');
    writeFileSync(global, '[core]\n\thooksPath = /shared/hooks\n');
    const refused = await cli(fx.clone, ['hooks', 'install', '--json'], { env: { GIT_CONFIG_GLOBAL: global } });
    assert.equal(refused.code, 2);
    assert.match(refused.stderr, /core\.hooksPath is set to \/shared\/hooks in .*global\.gitconfig/);
    assert.equal((JSON.parse(refused.stdout) as { error: { code: string } }).error.code, 'E_HOOKS_PATH_SHARED');
  });

  test('core.hooksPath=/dev/null or a file (hooks turned off): a named error with the path and what to do, exit 2, no stack', async () => {
    const file = join(fx.root, 'not-a-directory');
    writeFileSync(file, 'hooks are off\n');
    for (const [value, what] of [['/dev/null', 'is /dev/null'], [file, 'is a file, not a directory']] as const) {
      git(fx.clone, ['config', 'core.hooksPath', value]);
      for (const sub of ['install', 'uninstall']) {
        const r = await cli(fx.clone, ['hooks', sub, '--json']);
        assert.equal(r.code, 2, `${value} ${sub}: ${r.stderr}`);
        const e = (JSON.parse(r.stdout) as { error: { code: string; message: string; details: Record<string, unknown> } }).error;
        assert.equal(e.code, 'E_HOOKS_PATH_UNUSABLE');
        assert.deepEqual(e.details, { path: value, set_in: join(fx.clone, '.git', 'config') });
        assert.ok(e.message.startsWith(`core.hooksPath is ${value} (set in ${join(fx.clone, '.git', 'config')}), which ${what}`), e.message);
        assert.match(e.message, /git config --unset core\.hooksPath/);
        assert.doesNotMatch(r.stderr, /internal error|\n\s+at /);
      }
    }
    git(fx.clone, ['config', '--unset', 'core.hooksPath']);
    assert.equal(readFileSync(file, 'utf8'), 'hooks are off\n', 'the file is left as it was');
  });

  test('git does not wait for the background run, nor fail when it fails', async () => {
    // A stand-in CLI that runs until the test releases it, then fails: git returning while it still
    // runs proves git does not wait for it (were git to wait, the commit would never return).
    // The arguments land by rename, so the file is whole the moment it exists.
    const slow = join(fx.root, 'slow-cli.sh');
    const release = join(fx.root, 'slow-cli.release');
    const done = join(fx.root, 'slow-cli.done');
    writeScript(slow, `while [ ! -e '${release}' ]; do sleep 0.05; done\necho "$@" > '${done}.tmp'\nmv '${done}.tmp' '${done}'\nexit 1`);
    const ctx = testContext({ cwd: fx.clone });
    installHooks(loadConfig({ cwd: fx.clone }), ctx, { cli: { node: '/bin/sh', main: slow, version: '0.0.0' } });
    git(fx.clone, ['commit', '-q', '--allow-empty', '-m', 'not delayed'], { hooks: true });
    assert.equal(existsSync(done), false, 'the commit returned while the background run was still running');
    writeFileSync(release, '');
    await waitFor('the background run', () => existsSync(done));
    assert.equal(read(done).trim(), `--state-dir ${join(fx.clone, '.git', 'shadow-integrator')} drain`);
  });
});
