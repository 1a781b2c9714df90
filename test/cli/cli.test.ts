/**
 * The command line, run in process through `main(argv, io)`: --help on every command, exit codes, the
 * mode gate, init's refusal to clobber, config --json with sources, bad configs named by key and line,
 * and emit (flags, stdin, validation). bin.test.ts runs the real bin as a process.
 */
import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { main } from '../../src/cli/main.js';
import { systemTimers } from '../../src/context.js';
import { validators } from '../../src/contract/validate.js';
import { appendEvents, at, cli, clonedRepo, finalized, ledger, pushed, readyEvents, shaOf, tempDirsRemovedAfter, tempReposRemovedAfter, testEnv } from '../support/index.js';

const repo = tempReposRemovedAfter();
const outside = tempDirsRemovedAfter()().dir;

const COMMANDS = ['init', 'config', 'emit', 'drain', 'watch', 'status', 'explain', 'outcomes', 'parity', 'conflicts', 'retry', 'hooks'];
const HOOKS_SUBCOMMANDS = ['install', 'uninstall', 'receive'];

describe('--help', () => {
  test('the top level lists exactly the contract commands and exits 0', async () => {
    const r = await cli(outside, ['--help']);
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
    const results = await Promise.all(all.map((args) => cli(outside, [...args, '--help'])));
    results.forEach((r, i) => {
      const args = all[i] ?? [];
      assert.equal(r.code, 0, `${args.join(' ')} --help: ${r.stderr}`);
      assert.match(r.stdout, new RegExp(`^Usage: shadow-integrator ${args.join(' ')}`), args.join(' '));
      assert.equal(r.stderr, '');
    });
  });

  test('--json is offered where the output is data', async () => {
    const data = ['init', 'config', 'emit', 'drain', 'status', 'explain', 'outcomes', 'parity'];
    const results = await Promise.all(data.map((c) => cli(outside, [c, '--help'])));
    results.forEach((r, i) => assert.match(r.stdout, /--json/, data[i]));
  });
});

describe('exit codes', () => {
  test('usage errors exit 2: unknown command, unknown option, missing argument, bad flag value', async () => {
    const r = repo();
    const cases = [['frobnicate'], ['drain', '--bogus'], ['emit'], ['drain', '--grace', 'soon'], ['watch', '--poll', '0']];
    const results = await Promise.all(cases.map((args) => cli(r.dir, args)));
    results.forEach((res, i) => assert.equal(res.code, 2, `${(cases[i] ?? []).join(' ')}: exit ${res.code} ${res.stderr}`));
    assert.match(results[3]?.stderr ?? '', /--grace "soon" is not valid: must be a number of seconds ≥ 0/);
  });

  test('no command, or a command group without its subcommand: the help on stderr, exit 2', async () => {
    for (const args of [[], ['hooks']]) {
      const r = await cli(outside, args);
      assert.equal(r.code, 2, args.join(' '));
      assert.match(r.stderr, /^Usage: shadow-integrator /, args.join(' '));
      assert.equal(r.stdout, '');
    }
  });

  test('outside a repository: exit 2, saying so', async () => {
    const r = await cli(outside, ['drain']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /is not inside a git repository/);
  });
});

describe('the mode gate', () => {
  test('no config: drain and watch explain how to opt in and exit 0, writing nothing', async () => {
    const r = repo(null);
    const [drained, watched, json] = await Promise.all([cli(r.dir, ['drain']), cli(r.dir, ['watch']), cli(r.dir, ['drain', '--json'])]);
    for (const res of [drained, watched]) {
      assert.equal(res?.code, 0, res?.stderr);
      assert.match(res?.stdout ?? '', /shadow mode is off \(no \.shadow-integrator\.yml\)\. Opt in with `shadow-integrator init`/);
    }
    assert.match(json?.stdout ?? '', /"status": "mode_off"/);
    assert.deepEqual(readdirSync(r.paths.dir), [], 'nothing written');
  });

  test('mode: off explains the same, naming the file', async () => {
    const r = repo('mode: off\n');
    const res = await cli(r.dir, ['drain']);
    assert.equal(res.code, 0);
    assert.ok(res.stdout.includes(`mode: off in ${r.configFile}`));
  });

  test('mode: cutover is refused with exit 2 and an explanation, by every command that reads the config', async () => {
    const r = repo('mode: cutover\n');
    const cmds = ['drain', 'watch', 'config', 'status'];
    const results = await Promise.all(cmds.map((cmd) => cli(r.dir, [cmd])));
    for (const [i, res] of results.entries()) {
      const cmd = cmds[i];
      assert.equal(res.code, 2, `${cmd}: ${res.stdout}`);
      assert.match(res.stderr, /mode: cutover is refused\. Allowed values: off, shadow\. .*never takes merge or push authority over canonical main/, cmd);
      assert.ok(res.stderr.includes(`${r.configFile}:1`), cmd);
    }
  });
});

describe('init', () => {
  test('writes the config it reports; refuses to clobber (exit 2); --force overwrites', async () => {
    const r = clonedRepo();
    const first = await cli(r.dir, ['init']);
    assert.equal(first.code, 0, first.stderr);
    assert.match(first.stdout, /^wrote .*\.shadow-integrator\.yml \(mode: shadow\)/);
    assert.match(first.stdout, /next steps:/);
    const written = readFileSync(r.configFile, 'utf8');
    writeFileSync(r.configFile, 'mode: off\n# hand-edited\n');
    const again = await cli(r.dir, ['init']);
    assert.equal(again.code, 2);
    assert.match(again.stderr, /already exists; pass --force to overwrite it/);
    assert.equal(readFileSync(r.configFile, 'utf8'), 'mode: off\n# hand-edited\n');

    const forced = await cli(r.dir, ['init', '--force', '--json']);
    assert.equal(forced.code, 0, forced.stderr);
    const out = JSON.parse(forced.stdout) as { file: string; overwritten: boolean; stateDir: string };
    assert.deepEqual([out.file, out.overwritten, out.stateDir], [r.configFile, true, r.paths.dir]);
    assert.equal(readFileSync(r.configFile, 'utf8'), written);
  });
});

describe('config', () => {
  test('--json shows the file, the effective values and where each came from', async () => {
    const r = repo('mode: shadow\nlease:\n  ttl_seconds: 90\n');
    const res = await cli(r.dir, ['config', '--json']);
    assert.equal(res.code, 0, res.stderr);
    const out = JSON.parse(res.stdout) as { file: string; config: Record<string, unknown>; sources: Record<string, string> };
    assert.equal(out.file, r.configFile);
    assert.deepEqual(out.config.lease, { ttl_seconds: 90, renew_every_seconds: 30 });
    assert.equal(out.sources.mode, `${r.configFile}:1`);
    assert.equal(out.sources['lease.ttl_seconds'], `${r.configFile}:3`);
    assert.equal(out.sources['lease.renew_every_seconds'], 'default');
    assert.match(out.sources.state_dir ?? '', /^default/);

    const flag = JSON.parse((await cli(r.dir, ['--state-dir', '.git/here', 'config', '--json'])).stdout) as typeof out;
    assert.equal(flag.sources.state_dir, '--state-dir');
    assert.equal(flag.config.state_dir, join(r.dir, '.git', 'here'));
  });

  test('without --json: a table of key, value and source', async () => {
    const r = repo('mode: shadow\n');
    const res = await cli(r.dir, ['config']);
    assert.equal(res.code, 0);
    assert.match(res.stdout, /^config file: .*\.shadow-integrator\.yml\nKEY +VALUE +FROM\n/);
    assert.match(res.stdout, /\nmode +"shadow" +.*\.shadow-integrator\.yml:1\n/);
    assert.match(res.stdout, /\nengine +"merge-tree" +default\n/);
  });

  test('a bad config exits 2 naming the key, its line and the allowed values', async () => {
    const r = repo('mode: shadow\nlease:\n  ttl_seconds: 10\n  renew_every: 2\nengine: rebase\n');
    const res = await cli(r.dir, ['config']);
    assert.equal(res.code, 2);
    assert.match(res.stderr, /2 config problems/);
    assert.match(res.stderr, /line 4: lease\.renew_every: is not a known field \(known fields: ttl_seconds, renew_every_seconds\)/);
    assert.match(res.stderr, /line 5: engine: must be one of "merge-tree", "worktree"/);
    assert.doesNotMatch(res.stderr, /at .*\.js:\d+/, 'no stack trace');
  });
});

describe('emit', () => {
  const fr = ['finalize_ready', '--slug', 'feat-1', '--branch', 'agent/feat-1', '--sha', shaOf(1), '--worker-session-id', 'w', '--orchestrator-session-id', 'o'];

  test('from flags and from stdin, several at once: each a whole valid line', async () => {
    const r = repo();
    const results = await Promise.all([
      cli(r.dir, ['emit', ...fr, '--id', 'fr-1']),
      cli(r.dir, ['emit', 'review_approved', '--slug', 'feat-1', '--review-round', '2', '--reviewer-session-id', 'rev', '--json']),
      cli(r.dir, ['emit', 'branch_pushed', '--stdin'], { stdin: JSON.stringify({ branch: 'agent/feat-1', sha: shaOf(1), remote: 'origin', pusher: 'ci', pushed_at: '2026-01-01T00:00:00+01:00' }) }),
      ...Array.from({ length: 5 }, (_, i) => cli(r.dir, ['emit', 'review_approved', '--slug', `par-${i}`, '--review-round', '1', '--reviewer-session-id', 'r'])),
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
    const bad = await cli(r.dir, ['emit', 'finalize_ready', '--slug', 'Feat', '--branch', '-x', '--sha', 'abc', '--worker-session-id', 'w']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /invalid readiness event/);
    for (const m of ['slug: must match', "branch: must be a valid git branch name (starts with '-')", 'sha: must match', 'orchestrator_session_id: is required']) assert.ok(bad.stderr.includes(m), m);

    const stdin = await cli(r.dir, ['emit', 'review_approved', '--stdin'], { stdin: '{"slug": "a", "review_round": 1, "reviewer_session_id": "r", "color": "red"}' });
    assert.equal(stdin.code, 2);
    assert.match(stdin.stderr, /color: is not a known field/);
    const notJson = await cli(r.dir, ['emit', 'review_approved', '--stdin'], { stdin: 'slug=a' });
    assert.equal(notJson.code, 2);
    assert.match(notJson.stderr, /standard input is not JSON/);

    const type = await cli(r.dir, ['emit', 'merged', '--slug', 'a']);
    assert.equal(type.code, 2);
    assert.match(type.stderr, /event type "merged" is not valid: allowed values are review_approved, finalize_ready, branch_pushed/);
    assert.throws(() => readFileSync(r.paths.readiness), /ENOENT/);
  });
});

describe('failures under --json: {"error": {code, message, details}} on stdout, the usual exit code', () => {
  const jsonError = (stdout: string) => (JSON.parse(stdout) as { error: { code: string; message: string; details: Record<string, unknown> } }).error;

  test("commander's own: unknown option, missing argument, unknown command, a bad choice", async () => {
    const r = repo();
    const cases: [string[], string, RegExp][] = [
      [['drain', '--bogus', '--json'], 'E_UNKNOWN_OPTION', /unknown option '--bogus'/],
      [['explain', '--json'], 'E_MISSING_ARGUMENT', /missing required argument 'slug'/],
      [['frobnicate', '--json'], 'E_UNKNOWN_COMMAND', /unknown command 'frobnicate'/],
      [['--log-format', 'xml', 'status', '--json'], 'E_OPTION_INVALID', /--log-format "xml" is not valid: Allowed choices are logfmt, json/],
      [['drain', '--grace', 'soon', '--json'], 'E_OPTION_INVALID', /--grace "soon" is not valid/],
    ];
    for (const [args, code, says] of cases) {
      const res = await cli(r.dir, args);
      assert.equal(res.code, 2, args.join(' '));
      const e = jsonError(res.stdout);
      assert.equal(e.code, code, args.join(' '));
      assert.match(e.message, says, args.join(' '));
      assert.doesNotMatch(res.stdout + res.stderr, /add --help|Usage:/, 'no help text: scripts read stdout');
    }
  });

  test('a command that fails: explain of an unknown slug (1), an invalid slug (2), a refused config (2)', async () => {
    const r = repo();
    const unknown = await cli(r.dir, ['explain', 'no-such-slug', '--json']);
    assert.equal(unknown.code, 1);
    assert.deepEqual(jsonError(unknown.stdout), { code: 'E_SLUG_UNKNOWN', message: 'nothing is known about slug "no-such-slug": no readiness event, queue item or outcome names it', details: { slug: 'no-such-slug' } });
    assert.match(unknown.stderr, /^shadow-integrator: nothing is known about slug "no-such-slug"/);
    const invalid = await cli(r.dir, ['explain', 'Not A Slug', '--json']);
    assert.equal(invalid.code, 2);
    assert.equal(jsonError(invalid.stdout).code, 'E_ARGUMENT_INVALID');
    const refused = repo('mode: cutover\n');
    const mode = await cli(refused.dir, ['status', '--json']);
    assert.equal(mode.code, 2);
    assert.deepEqual(jsonError(mode.stdout).details, { file: refused.configFile, mode: 'cutover', line: 1, allowed: ['off', 'shadow'] });
  });

  test('without --json: the message on stderr only, stdout empty', async () => {
    const r = repo();
    const res = await cli(r.dir, ['explain', 'no-such-slug']);
    assert.equal(res.code, 1);
    assert.equal(res.stdout, '');
    assert.equal(res.stderr, 'shadow-integrator: nothing is known about slug "no-such-slug": no readiness event, queue item or outcome names it\n');
  });
});

describe('our own bugs', () => {
  test('an internal error says so and how to report it, never "unexpected failure" nor a stack; --log-level debug adds the stack', async () => {
    const r = repo();
    // stdin is the one input a test can make throw inside a command: a TypeError stands for any bug of ours.
    const run = (args: string[]) => {
      let stdout = '';
      let stderr = '';
      return main(args, {
        cwd: r.dir,
        env: testEnv(),
        now: () => new Date(),
        timers: systemTimers,
        stdout: (t) => void (stdout += t),
        stderr: (t) => void (stderr += t),
        stdin: () => Promise.reject(new TypeError("Cannot read properties of undefined (reading 'x')")),
        isTTY: false,
        execPath: process.execPath,
        onStop: () => () => undefined,
      }).then((code) => ({ code, stdout, stderr }));
    };
    const plain = await run(['emit', 'review_approved', '--stdin']);
    assert.equal(plain.code, 1);
    assert.match(plain.stderr, /^shadow-integrator: internal error while running shadow-integrator emit review_approved: TypeError: Cannot read properties of undefined \(reading 'x'\)\. This is a bug in shadow-integrator/);
    assert.match(plain.stderr, /Please report it/);
    assert.doesNotMatch(plain.stderr, /unexpected failure|\n\s+at /);
    const json = await run(['emit', 'review_approved', '--stdin', '--json']);
    assert.equal((JSON.parse(json.stdout) as { error: { code: string } }).error.code, 'E_INTERNAL');
    const debug = await run(['--log-level', 'debug', 'emit', 'review_approved', '--stdin']);
    assert.match(debug.stderr, /\n\s+at /, 'the stack, for the bug report');
  });

  test('a state file that cannot be read (a directory where the file belongs) is named, with what to do', async () => {
    for (const file of ['readiness', 'checkpoint'] as const) {
      const r = repo();
      mkdirSync(r.paths[file], { recursive: true });
      const res = await cli(r.dir, ['status', '--json']);
      assert.equal(res.code, 1, file);
      const e = (JSON.parse(res.stdout) as { error: { code: string; message: string; details: Record<string, unknown> } }).error;
      assert.deepEqual([e.code, e.details.file, e.details.errno], ['E_STATE_READ', r.paths[file], 'EISDIR'], file);
      assert.match(e.message, /it is a directory, where a file belongs; move the directory away/);
      assert.doesNotMatch(res.stderr, /internal error|\n\s+at /);
    }
  });

  test('a file-system failure that escapes is named with its path and what to do', async () => {
    const r = repo();
    // readiness.jsonl is a directory: emit's append fails with EISDIR.
    mkdirSync(r.paths.readiness, { recursive: true });
    const res = await cli(r.dir, ['emit', 'review_approved', '--slug', 'a', '--review-round', '1', '--reviewer-session-id', 'r', '--json']);
    assert.equal(res.code, 1);
    const e = (JSON.parse(res.stdout) as { error: { code: string; message: string; details: { file: string } } }).error;
    assert.equal(e.details.file, r.paths.readiness);
    assert.match(e.message, /EISDIR/);
    assert.doesNotMatch(res.stderr, /internal error|\n\s+at /);
  });
});

describe('drain', () => {
  test('"decided N" counts every ledger line the drain wrote, superseded ones included', async () => {
    const r = repo();
    const old = { slug: 'feat', branch: 'agent/feat-v1', sha: shaOf(1) };
    // The old candidate is ready, then superseded by a newer finalize_ready in the same read of the log.
    appendEvents(r.paths.readiness, [...readyEvents(old, at(1)), finalized('feat', 'agent/feat-v2', shaOf(2), at(2)), pushed('agent/feat-v2', shaOf(2))]);
    const res = await cli(r.dir, ['drain', '--json']);
    assert.equal(res.code, 0, res.stderr);
    const outcomes = ledger(r.paths);
    assert.deepEqual(outcomes.map((o) => [o.branch, o.outcome === 'superseded']), [['agent/feat-v1', true], ['agent/feat-v2', false]]);
    assert.equal((JSON.parse(res.stdout) as { decided: number }).decided, outcomes.length);

    appendEvents(r.paths.readiness, [...readyEvents({ slug: 'next', branch: 'agent/next', sha: shaOf(3) }, at(3)), finalized('next', 'agent/next-v2', shaOf(4), at(4)), pushed('agent/next-v2', shaOf(4))]);
    const human = await cli(r.dir, ['drain']);
    assert.match(human.stdout, /decided 2 candidate\(s\)/);
  });
});
