/**
 * The runner's three policies on real processes: the environment comes from the caller and cannot
 * redirect git; every process is bounded and a deadline kills all it started; exit codes are answers
 * or errors, never confused with each other.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { createFixture, type Fixture } from '../../fixtures/repo.js';
import { systemTimers } from '../../src/context.js';
import { processEnvironment } from '../../src/git/env.js';
import { finished, openGit, runCommand, runGit, startGit } from '../../src/git/runner.js';
import { fakeTimers, gitSpy, gone, testEnv, waitFor } from '../support/index.js';
import { settings } from './support.js';

describe('on a fixture repository', () => {
  let fx: Fixture;
  before(() => {
    fx = createFixture({ agents: ['alice'], scenarios: false });
  });
  after(() => fx.remove());

  test('exit codes a call expects are answers; any other exit is E_GIT_FAILED with git’s message', async () => {
    const h = openGit(fx.clone, settings());
    const head = fx.git(fx.clone, 'rev-parse', 'HEAD');
    assert.deepEqual(await runGit(h, ['merge-base', '--is-ancestor', head, head], { ok: [0, 1] }), { code: 0, stdout: '', stderr: '' });
    assert.equal((await runGit(h, ['merge-base', '--is-ancestor', head, `${head}~1`], { ok: [0, 1] }).catch(() => ({ code: -1 }))).code, -1, 'HEAD~1 does not exist: 128 is not an answer');
    await assert.rejects(runGit(h, ['merge-base', '--is-ancestor', 'f'.repeat(40), head], { ok: [0, 1] }), (e: { code: string; details: { exitCode: number }; message: string }) => {
      assert.equal(e.code, 'E_GIT_FAILED');
      assert.equal(e.details.exitCode, 128);
      assert.match(e.message, /not a valid commit name|Not a valid/i);
      return true;
    });
    // The same policy for a call spawned in its own process group.
    const p = startGit(h, ['diff-tree', '-p', 'f'.repeat(40)], { bounded: true });
    p.stdin.end();
    await assert.rejects(finished(h, p, ['diff-tree']), { code: 'E_GIT_FAILED', message: /bad object/ });
  });

  test('the environment is the caller’s, without what would redirect git (GIT_DIR, GIT_WORK_TREE, GIT_INDEX_FILE, GIT_OBJECT_DIRECTORY…)', async () => {
    const other = mkdtempSync(join(tmpdir(), 'si-other-'));
    try {
      fx.git(other, 'init', '-q', '--bare', '.');
      const ambient = { GIT_DIR: other, GIT_WORK_TREE: other, GIT_INDEX_FILE: join(other, 'index'), GIT_OBJECT_DIRECTORY: join(other, 'objects'), GIT_NAMESPACE: 'x', GIT_COMMON_DIR: other, GIT_CONFIG_PARAMETERS: "'core.bare'='true'" };
      const h = openGit(fx.clone, settings({ env: { ...testEnv(), ...ambient } }));
      assert.equal((await runGit(h, ['rev-parse', 'HEAD'])).stdout.trim(), fx.git(fx.clone, 'rev-parse', 'HEAD'));
      const p = startGit(h, ['rev-parse', '--absolute-git-dir'], { bounded: true });
      p.stdin.end();
      const out: Buffer[] = [];
      p.stdout.on('data', (d: Buffer) => out.push(d));
      await finished(h, p, ['rev-parse']);
      assert.equal(Buffer.concat(out).toString().trim(), join(fx.clone, '.git'));
      const env = processEnvironment({ ...ambient, PATH: '/bin', EDITOR: 'vi', GIT_CONFIG_COUNT: '1', GIT_SSH_COMMAND: 'ssh -i key' });
      assert.deepEqual(env, { PATH: '/bin', GIT_SSH_COMMAND: 'ssh -i key', GIT_OPTIONAL_LOCKS: '0', GIT_TERMINAL_PROMPT: '0' }, 'the user’s own settings stay');
    } finally {
      rmSync(other, { recursive: true, force: true });
    }
  });

  test('a git that never finishes is killed at the deadline: E_GIT_TIMEOUT, through simple-git and in a process group', async () => {
    const h = openGit(fx.clone, settings({ timeoutSeconds: 0.3 }));
    // cat-file --batch-check waits for names on stdin that never come.
    await assert.rejects(runGit(h, ['cat-file', '--batch-check']), { code: 'E_GIT_TIMEOUT' });
    const p = startGit(h, ['diff-tree', '--stdin'], { bounded: true });
    await assert.rejects(finished(h, p, ['diff-tree', '--stdin']), { code: 'E_GIT_TIMEOUT' });
  });

  test('cancelling kills what runs and fails it with E_CANCELLED; nothing starts once cancelled', async () => {
    const abort = new AbortController();
    const h = openGit(fx.clone, settings({ signal: abort.signal }));
    const waiting = runGit(h, ['cat-file', '--batch-check']);
    const p = startGit(h, ['diff-tree', '--stdin'], { bounded: false });
    abort.abort();
    await assert.rejects(waiting, { code: 'E_CANCELLED' });
    await assert.rejects(finished(h, p, ['diff-tree']), { code: 'E_CANCELLED' });
    await assert.rejects(runGit(h, ['version']), { code: 'E_CANCELLED' });
  });

  test('refused calls never spawn', async () => {
    const spy = gitSpy();
    const h = openGit(fx.clone, settings({ env: testEnv(spy.env) }));
    await assert.rejects(runGit(h, ['commit', '-m', 'x']), { code: 'E_GIT_REFUSED' });
    assert.throws(() => startGit(h, ['push', 'origin'], { bounded: true }), { code: 'E_GIT_REFUSED' });
    await runGit(h, ['version']);
    assert.deepEqual(spy.calls(), ['version']);
  });
});

describe('commands (checks)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'si-command-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const run = (command: string, timeoutSeconds = 30) => runCommand(command, { cwd: dir, env: processEnvironment(testEnv()), timeoutSeconds, timers: systemTimers, outputTail: 100 });

  test('exit code and the end of the output, stdout and stderr as they came', async () => {
    const r = await run('seq 1 500; echo boom >&2; exit 3');
    assert.equal(r.code, 3);
    assert.equal(r.timedOut, false);
    assert.match(r.output, /499\n500\nboom\n$/);
    assert.ok(r.output.length <= 100);
  });

  test('at its deadline the whole process group dies, background children included', async () => {
    const pids = join(dir, 'pids');
    // The deadline falls when the test says, once the background child is running (by rename, the pid
    // file is whole when it exists): a slow machine cannot hit it before then.
    const timers = fakeTimers();
    const running = runCommand(`sleep 60 & echo $! > ${pids}.tmp && mv ${pids}.tmp ${pids}; sleep 60`, { cwd: dir, env: processEnvironment(testEnv()), timeoutSeconds: 0.3, timers, outputTail: 100 });
    await waitFor(() => existsSync(pids), 'the background child to start');
    timers.advance(300);
    const r = await running;
    assert.equal(r.timedOut, true);
    const background = Number(readFileSync(pids, 'utf8'));
    await waitFor(() => gone(background), 'the background sleep was killed with its group');
  });

  test('what a command leaves running when it exits is killed too', async () => {
    const pids = join(dir, 'left');
    const r = await run(`sleep 60 & echo $! > ${pids}; echo started`);
    assert.equal(r.code, 0);
    await waitFor(() => gone(Number(readFileSync(pids, 'utf8'))), 'what the command left running to be killed');
  });
});
