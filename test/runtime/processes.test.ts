/**
 * The runtime through the CLI on a real repository: takeover of an expired lease and of a dead
 * owner, a live holder elsewhere, the grace window (in process: the other owner is a lease file); and
 * as real processes where signals are what is proved: SIGTERM to watch, and kill -9 in the middle of a
 * drain. (The git engine decides whatever it decides here: only counts and epochs are checked.)
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { hostname } from 'node:os';
import { after, describe, test } from 'node:test';
import type { LeaseFile } from '../../src/contract/types.generated.js';
import { validators } from '../../src/contract/validate.js';
import { readJson, writeJsonAtomic } from '../../src/store/atomic-json.js';
import { readCheckpointFile, readQueue } from '../../src/store/readers.js';
import {
  appendEvents,
  assertEpochsContiguous,
  assertExactlyOnce,
  candidateEvents,
  cli,
  drainToEnd,
  finished,
  keyOf,
  ledger,
  runCli,
  shaOf,
  startCli,
  tempRepo,
  waitFor,
  type TempRepo,
} from '../support/index.js';

const repos: TempRepo[] = [];
after(() => repos.forEach((r) => r.remove()));
function repo(config?: string): TempRepo {
  const r = tempRepo(config);
  repos.push(r);
  return r;
}

const key = (n: number) => keyOf({ slug: `s${n}`, branch: `b${n}`, sha: shaOf(n) });
const outcomeLines = (r: TempRepo) => (existsSync(r.paths.outcomes) ? readFileSync(r.paths.outcomes, 'utf8').split('\n').filter(Boolean).length : 0);

/** A lease.json as another process left it. */
function foreignLease(r: TempRepo, host: string, pid: number, epoch: number, expiresInMs: number): LeaseFile {
  const now = Date.now();
  const lease: LeaseFile = {
    schema_version: 1,
    key: 'integration/main',
    owner: { host, pid, run_id: 'foreign-run' },
    token: 'foreign-token',
    epoch,
    acquired_at: new Date(now - 60_000).toISOString(),
    renewed_at: new Date(now - 30_000).toISOString(),
    expires_at: new Date(now + expiresInMs).toISOString(),
    released_at: null,
  };
  writeJsonAtomic(r.paths.lease, lease, validators.lease);
  return lease;
}

function deadPid(): number {
  return Number(spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' }).stdout);
}

describe('taking the lease over', () => {
  test('an expired lease from another host: drain takes over at epoch+1 and logs event=lease_takeover', async () => {
    const r = repo();
    foreignLease(r, 'other-host', 4242, 7, -1000);
    appendEvents(r.paths.readiness, candidateEvents(1));
    const res = await cli(r.dir, ['drain']);
    assert.equal(res.code, 0, res.stderr);
    assert.match(res.stdout, /^epoch 8: ingested 3 event\(s\), rejected 0 line\(s\), decided 1 candidate\(s\), 0 still queued/);
    assert.match(res.stderr, /level=warn event=lease_takeover epoch=8 takeover=expired previous_owner="other-host:4242 \(run foreign-run\)"/);
    assert.deepEqual(ledger(r.paths).map((o) => o.lease_epoch), [8]);
    const lease = readJson(r.paths.lease, validators.lease);
    assert.equal(lease?.epoch, 8);
    assert.equal(lease.owner.host, hostname());
    assert.notEqual(lease.released_at, null);
  });

  test('a dead pid on this host is taken over at once, long before its lease expires', async () => {
    const r = repo();
    foreignLease(r, hostname(), deadPid(), 3, 3600_000);
    appendEvents(r.paths.readiness, candidateEvents(1));
    const res = await cli(r.dir, ['drain', '--json']);
    assert.equal(res.code, 0, res.stderr);
    assert.equal((JSON.parse(res.stdout) as { status: string; epoch: number }).epoch, 4);
    assert.match(res.stderr, /event=lease_takeover epoch=4 takeover=dead_owner/);
    assertExactlyOnce(ledger(r.paths), [key(1)]);
  });

  test('a live holder elsewhere: exit 0, nothing written, the lease untouched', async () => {
    const r = repo();
    foreignLease(r, 'other-host', 4242, 5, 3600_000);
    const leaseBefore = readFileSync(r.paths.lease, 'utf8');
    appendEvents(r.paths.readiness, candidateEvents(1));
    const res = await cli(r.dir, ['drain']);
    assert.equal(res.code, 0, res.stderr);
    assert.match(res.stdout, /lease integration\/main is held by other-host:4242 \(epoch 5, .*\); that holder will process the new events/);
    assert.match(res.stderr, /event=lease_busy holder="other-host:4242 \(run foreign-run\)" epoch=5/);
    assert.equal(readFileSync(r.paths.lease, 'utf8'), leaseBefore);
    assert.equal(existsSync(r.paths.outcomes), false);
    assert.deepEqual(readdirSync(r.paths.dir).filter((f) => f.startsWith('journal.')), [], 'no journal: nothing was queued');
  });
});

describe('one tenure', () => {
  test('the grace window catches a late event without releasing the lease: one epoch decides both', async () => {
    const r = repo();
    appendEvents(r.paths.readiness, candidateEvents(1));
    // The holder's clock stands still until the late event is appended: however slow this machine,
    // the 2 s grace window cannot run out before it (then time moves on from where it stood).
    const start = Date.now();
    let appendedAt: number | null = null;
    const now = () => new Date(appendedAt === null ? start : start + (Date.now() - appendedAt));
    const done = cli(r.dir, ['drain', '--grace', '2', '--json'], { now });
    await waitFor(() => outcomeLines(r) === 1, "s1's outcome");
    appendEvents(r.paths.readiness, candidateEvents(2));
    appendedAt = Date.now();
    const res = await done;
    assert.equal(res.code, 0, res.stderr);
    const report = JSON.parse(res.stdout) as { status: string; epoch: number; decided: number; ingested: number };
    assert.deepEqual([report.status, report.epoch, report.decided, report.ingested], ['done', 1, 2, 6]);
    assert.deepEqual(ledger(r.paths).map((o) => [o.slug, o.lease_epoch]), [['s1', 1], ['s2', 1]]);
    assert.equal((res.stderr.match(/event=lease_acquired/g) ?? []).length, 1);
    assert.equal((res.stderr.match(/event=lease_released/g) ?? []).length, 1);
  });

  test('SIGTERM to watch releases the lease, leaves a checkpoint and exits 0', async () => {
    const r = repo('mode: shadow\ngrace_seconds: 30\nlease:\n  ttl_seconds: 60\n  renew_every_seconds: 1\n');
    appendEvents(r.paths.readiness, candidateEvents(1));
    const child = startCli(r.dir, ['watch', '--poll', '50']);
    const done = finished(child);
    await waitFor(() => outcomeLines(r) === 1, "s1's outcome");
    // The holder now waits out its 30 s grace with the lease held.
    assert.equal(readJson(r.paths.lease, validators.lease)?.released_at, null);
    child.kill('SIGTERM');
    const res = await done;
    assert.equal(res.signal, null, res.stderr);
    assert.equal(res.code, 0, res.stderr);
    const lease = readJson(r.paths.lease, validators.lease);
    assert.notEqual(lease?.released_at, null);
    const cp = readCheckpointFile(r.paths);
    assert.equal(cp?.round.log.offset, statSync(r.paths.readiness).size);
    assert.equal(cp.round.epoch, lease?.epoch);
    assert.match(res.stderr, /event=lease_released/);
    assert.match(res.stderr, /event=shutdown tenures=1 decided=1/);
  });

  test('SIGTERM to an idle watch: exit 0 at once, no lease taken', async () => {
    const r = repo('mode: shadow\ngrace_seconds: 30\n');
    const child = startCli(r.dir, ['watch', '--poll', '50']);
    let stderr = '';
    child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    const done = finished(child);
    await waitFor(() => stderr.includes('event=watch_started'), 'watch to start');
    child.kill('SIGTERM');
    const res = await done;
    assert.deepEqual([res.code, res.signal], [0, null]);
    assert.match(stderr, /event=shutdown tenures=0 decided=0/);
    assert.equal(existsSync(r.paths.lease), false);
  });

  test('kill -9 in the middle of a drain, then drain again: every candidate ends with exactly one outcome', async () => {
    // Killed after the first decision, between two writes (outside the state mutex, if the timing
    // allows). Should a drain finish before the kill lands, try again with more candidates.
    let r: TempRepo | null = null;
    let n = 0;
    for (let attempt = 0; attempt < 4 && !r; attempt++) {
      n = 40 << attempt;
      const candidate = repo();
      appendEvents(candidate.paths.readiness, Array.from({ length: n }, (_, i) => candidateEvents(i + 1)).flat());
      const child = startCli(candidate.dir, ['drain']);
      const done = finished(child);
      await waitFor(() => outcomeLines(candidate) >= 1 && !existsSync(candidate.paths.mutex), 'the first outcome');
      child.kill('SIGKILL');
      const killed = await done;
      if (killed.signal === 'SIGKILL' && outcomeLines(candidate) < n) r = candidate;
    }
    assert.ok(r, 'never managed to kill a drain in its middle');
    const N = n;
    assert.ok(readQueue(r.paths).length > 0, 'the queue still had work');

    const res = await runCli(r.dir, ['drain']);
    assert.equal(res.code, 0, res.stderr);
    assert.match(res.stderr, /event=lease_takeover epoch=2 takeover=dead_owner/);
    await drainToEnd(r.dir);
    const outcomes = ledger(r.paths);
    assertExactlyOnce(outcomes, Array.from({ length: N }, (_, i) => key(i + 1)));
    assertEpochsContiguous(outcomes);
    assert.deepEqual(readQueue(r.paths), []);
    assert.equal(readCheckpointFile(r.paths)?.round.log.offset, statSync(r.paths.readiness).size);
  });
});
