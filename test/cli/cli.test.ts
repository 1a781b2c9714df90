/**
 * The command line as a real child process: --help on every command, exit codes, the mode gate,
 * init's refusal to clobber, config --json with sources, bad configs named by key and line, and emit
 * (flags, stdin, validation, several CLI emitters at once).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { CONFIG_TEMPLATE } from '../../src/config/init.js';
import { validators } from '../../src/contract/validate.js';
import { runCli, shaOf, tempRepo, type TempRepo } from '../runtime/support.js';

const repos: TempRepo[] = [];
const outside = mkdtempSync(join(tmpdir(), 'si-norepo-'));
after(() => {
  repos.forEach((r) => r.remove());
  rmSync(outside, { recursive: true, force: true });
});
function repo(config?: string | null): TempRepo {
  const r = tempRepo(config);
  repos.push(r);
  return r;
}

const COMMANDS = ['init', 'config', 'emit', 'drain', 'watch', 'status', 'explain', 'outcomes', 'parity', 'hooks'];
const HOOKS_SUBCOMMANDS = ['install', 'uninstall', 'receive'];

describe('--help', () => {
  test('the top level lists exactly the contract commands and exits 0', async () => {
    const r = await runCli(outside, ['--help']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^Usage: shadow-integrator /);
    const listed = (r.stdout.split('Commands:')[1] ?? '')
      .split('\n')
      .map((l) => /^ {2}(\S+)/.exec(l)?.[1])
      .filter((c): c is string => Boolean(c) && c !== 'help');
    assert.deepEqual(listed.sort(), [...COMMANDS].sort());
  });

  test('every command and hooks subcommand: --help exits 0 with its usage, outside any repository', async () => {
    const all = [...COMMANDS.map((c) => [c]), ...HOOKS_SUBCOMMANDS.map((s) => ['hooks', s])];
    const results = await Promise.all(all.map((args) => runCli(outside, [...args, '--help'])));
    results.forEach((r, i) => {
      const args = all[i] ?? [];
      assert.equal(r.code, 0, `${args.join(' ')} --help: ${r.stderr}`);
      assert.match(r.stdout, new RegExp(`^Usage: shadow-integrator ${args.join(' ')}`), args.join(' '));
      assert.equal(r.stderr, '');
    });
  });

  test('--json is offered where the output is data', async () => {
    const data = ['init', 'config', 'emit', 'drain', 'status', 'explain', 'outcomes', 'parity'];
    const results = await Promise.all(data.map((c) => runCli(outside, [c, '--help'])));
    results.forEach((r, i) => assert.match(r.stdout, /--json/, data[i]));
  });
});

describe('exit codes', () => {
  test('usage errors exit 2: unknown command, unknown option, missing argument, bad flag value', async () => {
    const r = repo();
    const cases = [['frobnicate'], ['drain', '--bogus'], ['emit'], ['drain', '--grace', 'soon'], ['watch', '--poll', '0']];
    const results = await Promise.all(cases.map((args) => runCli(r.dir, args)));
    results.forEach((res, i) => assert.equal(res.code, 2, `${(cases[i] ?? []).join(' ')}: exit ${res.code} ${res.stderr}`));
    assert.match(results[3]?.stderr ?? '', /--grace must be a number of seconds ≥ 0, got "soon"/);
  });

  test('outside a repository: exit 2, saying so', async () => {
    const r = await runCli(outside, ['drain']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /is not inside a git repository/);
  });
});

describe('the mode gate', () => {
  test('no config: drain and watch explain how to opt in and exit 0, writing nothing', async () => {
    const r = repo(null);
    const [drained, watched, json] = await Promise.all([runCli(r.dir, ['drain']), runCli(r.dir, ['watch']), runCli(r.dir, ['drain', '--json'])]);
    for (const res of [drained, watched]) {
      assert.equal(res?.code, 0, res?.stderr);
      assert.match(res?.stdout ?? '', /shadow mode is off \(no \.shadow-integrator\.yml\)\. Opt in with `shadow-integrator init`/);
    }
    assert.match(json?.stdout ?? '', /"status": "mode_off"/);
    assert.deepEqual(readdirSync(r.paths.dir), [], 'nothing written');
  });

  test('mode: off explains the same, naming the file', async () => {
    const r = repo('mode: off\n');
    const res = await runCli(r.dir, ['drain']);
    assert.equal(res.code, 0);
    assert.ok(res.stdout.includes(`mode: off in ${r.configFile}`));
  });

  test('mode: cutover is refused with exit 2 and an explanation, by every command that reads the config', async () => {
    const r = repo('mode: cutover\n');
    const cmds = ['drain', 'watch', 'config', 'status'];
    const results = await Promise.all(cmds.map((cmd) => runCli(r.dir, [cmd])));
    for (const [i, res] of results.entries()) {
      const cmd = cmds[i];
      assert.equal(res.code, 2, `${cmd}: ${res.stdout}`);
      assert.match(res.stderr, /mode: cutover is refused\. Allowed values: off, shadow\. .*never takes merge or push authority over canonical main/, cmd);
      assert.ok(res.stderr.includes(`${r.configFile}:1`), cmd);
    }
  });
});

describe('init', () => {
  test('writes the config; refuses to clobber (exit 2, content unchanged); --force overwrites', async () => {
    const r = repo(null);
    const first = await runCli(r.dir, ['init']);
    assert.equal(first.code, 0, first.stderr);
    assert.match(first.stdout, /^wrote .*\.shadow-integrator\.yml \(mode: shadow\)/);
    assert.match(first.stdout, /next steps:/);
    assert.equal(readFileSync(r.configFile, 'utf8'), CONFIG_TEMPLATE);

    r.writeConfig('mode: off\n# hand-edited\n');
    const again = await runCli(r.dir, ['init']);
    assert.equal(again.code, 2);
    assert.match(again.stderr, /already exists; pass --force to overwrite it/);
    assert.equal(readFileSync(r.configFile, 'utf8'), 'mode: off\n# hand-edited\n');

    const forced = await runCli(r.dir, ['init', '--force', '--json']);
    assert.equal(forced.code, 0, forced.stderr);
    const out = JSON.parse(forced.stdout) as { file: string; overwritten: boolean; stateDir: string };
    assert.deepEqual([out.file, out.overwritten, out.stateDir], [r.configFile, true, r.paths.dir]);
    assert.equal(readFileSync(r.configFile, 'utf8'), CONFIG_TEMPLATE);
  });
});

describe('config', () => {
  test('--json shows the file, the effective values and where each came from', async () => {
    const r = repo('mode: shadow\nlease:\n  ttl_seconds: 90\n');
    const res = await runCli(r.dir, ['config', '--json']);
    assert.equal(res.code, 0, res.stderr);
    const out = JSON.parse(res.stdout) as { file: string; config: Record<string, unknown>; sources: Record<string, string> };
    assert.equal(out.file, r.configFile);
    assert.deepEqual(out.config.lease, { ttl_seconds: 90, renew_every_seconds: 30 });
    assert.equal(out.sources.mode, `${r.configFile}:1`);
    assert.equal(out.sources['lease.ttl_seconds'], `${r.configFile}:3`);
    assert.equal(out.sources['lease.renew_every_seconds'], 'default');
    assert.match(out.sources.state_dir ?? '', /^default/);

    const flag = JSON.parse((await runCli(r.dir, ['--state-dir', '.git/here', 'config', '--json'])).stdout) as typeof out;
    assert.equal(flag.sources.state_dir, '--state-dir');
    assert.equal(flag.config.state_dir, join(r.dir, '.git', 'here'));
  });

  test('without --json: a table of key, value and source', async () => {
    const r = repo('mode: shadow\n');
    const res = await runCli(r.dir, ['config']);
    assert.equal(res.code, 0);
    assert.match(res.stdout, /^config file: .*\.shadow-integrator\.yml\nKEY +VALUE +FROM\n/);
    assert.match(res.stdout, /\nmode +"shadow" +.*\.shadow-integrator\.yml:1\n/);
    assert.match(res.stdout, /\nengine +"merge-tree" +default\n/);
  });

  test('a bad config exits 2 naming the key, its line and the allowed values', async () => {
    const r = repo('mode: shadow\nlease:\n  ttl_seconds: 10\n  renew_every: 2\nengine: rebase\n');
    const res = await runCli(r.dir, ['config']);
    assert.equal(res.code, 2);
    assert.match(res.stderr, /2 config problems/);
    assert.match(res.stderr, /line 4: lease\.renew_every: is not a known field \(known fields: ttl_seconds, renew_every_seconds\)/);
    assert.match(res.stderr, /line 5: engine: must be one of "merge-tree", "worktree"/);
    assert.doesNotMatch(res.stderr, /at .*\.js:\d+/, 'no stack trace');
  });
});

describe('emit', () => {
  const fr = ['finalize_ready', '--slug', 'feat-1', '--branch', 'agent/feat-1', '--sha', shaOf(1), '--worker-session-id', 'w', '--orchestrator-session-id', 'o'];

  test('from flags, from stdin, several emitters at once: each a whole valid line', async () => {
    const r = repo();
    const results = await Promise.all([
      runCli(r.dir, ['emit', ...fr, '--id', 'fr-1']),
      runCli(r.dir, ['emit', 'review_approved', '--slug', 'feat-1', '--review-round', '2', '--reviewer-session-id', 'rev', '--json']),
      runCli(r.dir, ['emit', 'branch_pushed', '--stdin'], JSON.stringify({ branch: 'agent/feat-1', sha: shaOf(1), remote: 'origin', pusher: 'ci', pushed_at: '2026-01-01T00:00:00+01:00' })),
      ...Array.from({ length: 5 }, (_, i) => runCli(r.dir, ['emit', 'review_approved', '--slug', `par-${i}`, '--review-round', '1', '--reviewer-session-id', 'r'])),
    ]);
    for (const res of results) assert.equal(res.code, 0, res.stderr);
    assert.match(results[0]?.stdout ?? '', /^appended finalize_ready fr-1 to .*readiness\.jsonl\n$/);
    const printed = JSON.parse(results[1]?.stdout ?? '') as { review_round: number; approved_at: string };
    assert.equal(printed.review_round, 2, 'a numeric flag is a number');
    assert.ok(printed.approved_at, 'the timestamp is filled in');

    const lines = readFileSync(r.paths.readiness, 'utf8').split('\n');
    assert.equal(lines.pop(), '');
    assert.equal(lines.length, 8);
    for (const l of lines) assert.ok(validators.event(JSON.parse(l)), l);
    assert.ok(lines.some((l) => l.includes('"pushed_at":"2026-01-01T00:00:00+01:00"')));
  });

  test('an invalid event exits 2 naming each bad field, and appends nothing', async () => {
    const r = repo();
    const bad = await runCli(r.dir, ['emit', 'finalize_ready', '--slug', 'Feat', '--branch', '-x', '--sha', 'abc', '--worker-session-id', 'w']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /invalid readiness event/);
    for (const m of ['slug: must match', "branch: must be a valid git branch name (starts with '-')", 'sha: must match', 'orchestrator_session_id: is required']) assert.ok(bad.stderr.includes(m), m);

    const stdin = await runCli(r.dir, ['emit', 'review_approved', '--stdin'], '{"slug": "a", "review_round": 1, "reviewer_session_id": "r", "color": "red"}');
    assert.equal(stdin.code, 2);
    assert.match(stdin.stderr, /color: is not a known field/);
    const notJson = await runCli(r.dir, ['emit', 'review_approved', '--stdin'], 'slug=a');
    assert.equal(notJson.code, 2);
    assert.match(notJson.stderr, /standard input is not JSON/);

    const type = await runCli(r.dir, ['emit', 'merged', '--slug', 'a']);
    assert.equal(type.code, 2);
    assert.match(type.stderr, /unknown event type "merged": allowed values are review_approved, finalize_ready, branch_pushed/);
    assert.throws(() => readFileSync(r.paths.readiness), /ENOENT/);
  });
});
