/**
 * The producer side under contention: 8 processes × 200 `emit` calls, started at once, into one
 * readiness.jsonl leave exactly 1,600 whole, valid lines, each producer's in its own order; and emit refuses invalid events.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { after, test } from 'node:test';
import type { ShadowError } from '../../src/contract/errors.js';
import { validators } from '../../src/contract/validate.js';
import { completeEvent, emit } from '../../src/producer/emit.js';
import { shaOf, tempRepo, testContext, waitFor } from '../support/index.js';

const CHILD = fileURLToPath(new URL('./emit-child.js', import.meta.url));
const PROCESSES = 8;
const EACH = 200;

const repo = tempRepo();
after(() => repo.remove());

test(`${PROCESSES} processes × ${EACH} emits: exactly ${PROCESSES * EACH} whole, valid lines`, async () => {
  const children = Array.from({ length: PROCESSES }, (_, p) => {
    const child = spawn(process.execPath, [CHILD, repo.dir, String(EACH), `p${p}`], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const exit = new Promise<void>((resolve, reject) => child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`child p${p} exited ${code}: ${stderr}`)))));
    return { child, exit, ready: () => stdout.includes('ready') };
  });
  // All loaded, then all started at once: the producers' appends overlap.
  await Promise.race([waitFor(() => children.every((c) => c.ready()), 'every producer to load'), ...children.map((c) => c.exit)]);
  for (const c of children) c.child.stdin.end();
  await Promise.all(children.map((c) => c.exit));

  const text = readFileSync(repo.paths.readiness, 'utf8');
  assert.ok(text.endsWith('\n'));
  const lines = text.slice(0, -1).split('\n');
  assert.equal(lines.length, PROCESSES * EACH);
  const next = new Map<string, number>();
  for (const [n, line] of lines.entries()) {
    const event: unknown = JSON.parse(line);
    assert.ok(validators.event(event), `line ${n + 1} is not a valid event: ${line.slice(0, 200)}`);
    const [tag, i] = (event.id ?? '').split('-');
    assert.equal(Number(i), next.get(tag ?? '') ?? 0, `line ${n + 1}: producer ${tag}'s events are out of order`);
    next.set(tag ?? '', Number(i) + 1);
  }
  assert.deepEqual([...next.entries()].sort(), Array.from({ length: PROCESSES }, (_, p) => [`p${p}`, EACH]).sort());
});

test('emit fills the timestamp and a fresh id, and refuses an invalid event without writing', () => {
  const r = tempRepo();
  try {
    const now = new Date('2026-03-04T05:06:07.000Z');
    const ctx = testContext({ cwd: r.dir, now: () => now });
    const { event, file } = emit(r.load(), ctx, 'branch_pushed', { branch: 'b1', sha: shaOf(1), remote: 'origin', pusher: 'me' });
    assert.equal(file, r.paths.readiness);
    assert.equal(event.type === 'branch_pushed' && event.pushed_at, now.toISOString());
    assert.match(event.id ?? '', /^[0-9a-f-]{36}$/);
    assert.deepEqual(JSON.parse(readFileSync(file, 'utf8')), event);

    const before = readFileSync(file, 'utf8');
    assert.throws(
      () => emit(r.load(), ctx, 'finalize_ready', { slug: 'Bad', branch: '-x', sha: 'abc', worker_session_id: 'w', orchestrator_session_id: 'o', bogus: 1 }),
      (e: ShadowError) =>
        e.code === 'E_EVENT_INVALID' && e.exitCode === 2 && ['slug: must match', "branch: must be a valid git branch name (starts with '-')", 'sha: must match', 'bogus: is not a known field'].every((m) => e.message.includes(m)),
    );
    assert.throws(() => completeEvent('review_approved', { type: 'finalize_ready', slug: 'a' }, now), (e: ShadowError) => /does not match the command's type review_approved/.test(e.message));
    assert.equal(readFileSync(file, 'utf8'), before);
  } finally {
    r.remove();
  }
});

test('emit into a state dir that does not exist yet creates it', () => {
  const r = tempRepo('mode: shadow\nstate_dir: .git/fresh/state\n');
  try {
    const { file } = emit(r.load(), testContext({ cwd: r.dir }), 'review_approved', { slug: 's', review_round: 2, reviewer_session_id: 'r' });
    assert.ok(existsSync(file));
    assert.ok(file.startsWith(`${r.dir}/.git/fresh/state/`));
  } finally {
    r.remove();
  }
});
