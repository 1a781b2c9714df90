/**
 * The bin itself, as a real process: what only a process shows — the exit code set from `main`'s,
 * stdout and stderr as streams, standard input read whole, several emitters appending at once. Every
 * other CLI behaviour is tested in process (cli.test.ts).
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { validators } from '../../src/contract/validate.js';
import { runCli, shaOf, tempReposRemovedAfter } from '../support/index.js';

const repo = tempReposRemovedAfter();

test('--version prints the package version and exits 0', async () => {
  const r = repo();
  const res = await runCli(r.dir, ['--version']);
  assert.equal(res.code, 0, res.stderr);
  const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };
  assert.equal(res.stdout, `${pkg.version}\n`);
});

test('a usage error under --json: the JSON error on stdout, the message on stderr, exit 2', async () => {
  const r = repo();
  const res = await runCli(r.dir, ['drain', '--bogus', '--json']);
  assert.equal(res.code, 2);
  assert.equal((JSON.parse(res.stdout) as { error: { code: string } }).error.code, 'E_UNKNOWN_OPTION');
  assert.match(res.stderr, /^shadow-integrator: unknown option '--bogus'\n$/);
});

test('emit from standard input, three processes at once: three whole valid lines', async () => {
  const r = repo();
  const event = (n: number) => JSON.stringify({ branch: `agent/b${n}`, sha: shaOf(n), remote: 'origin', pusher: 'ci' });
  const results = await Promise.all([1, 2, 3].map((n) => runCli(r.dir, ['emit', 'branch_pushed', '--stdin'], event(n))));
  for (const res of results) assert.equal(res.code, 0, res.stderr);
  const lines = readFileSync(r.paths.readiness, 'utf8').split('\n');
  assert.equal(lines.pop(), '');
  assert.equal(lines.length, 3);
  for (const l of lines) assert.ok(validators.event(JSON.parse(l)), l);
  assert.deepEqual(lines.map((l) => (JSON.parse(l) as { branch: string }).branch).sort(), ['agent/b1', 'agent/b2', 'agent/b3']);
});
