/**
 * Reliability scenarios: crashes, lease contention and bad input, each ending with the invariants
 * checked — every state file whole, exactly one outcome per candidate, and the zero-write proof of the
 * repository the CLI ran its engine on (`guardCanonical`). `soak` runs them long (npm run soak); the
 * fast form runs in npm test. The scenarios with the git engine on a fixture are in engine-scenarios.ts.
 */
import { execFileSync, spawnSync, type ChildProcess } from 'node:child_process';
import { appendFileSync, chmodSync, closeSync, cpSync, existsSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '../../src/config/config.js';
import { readOutcomes } from '../../src/ledger/ledger.js';
import { drain } from '../../src/runtime/drain.js';
import { statePaths } from '../../src/store/paths.js';
import { forEachRejected, readLeaseFile } from '../../src/store/readers.js';
import { assertExactlyOnce, cannotRunHere, guardCanonical, ledger, recordingEngine, startDrainLoop, testContext, type DrainLoop } from '../support/index.js';
import { engineScenarios } from './engine-scenarios.js';
import {
  appendLines,
  assertStackFollowsLedger,
  assertStateWhole,
  candidateEvents,
  cli,
  drainToEnd,
  fakeSha,
  finished,
  prng,
  readLines,
  runCli,
  shadowRepo,
  sleep,
  startCli,
  type Repo,
  type RunResult,
  type Scenario,
} from './harness.js';

/**
 * Candidates for round `r`: fresh slugs, plus a newer finalize_ready for an earlier slug (supersession).
 * Returns the lines and the candidate keys that must each end with exactly one outcome.
 */
function roundOfCandidates(r: number, perRound: number): { lines: string[]; keys: string[] } {
  const lines: string[] = [];
  const keys: string[] = [];
  for (let i = 0; i < perRound; i++) {
    const n = r * perRound + i;
    const slug = `task-${n}`;
    const branch = `agent/${n % 4}/task-${n}`;
    lines.push(...candidateEvents(slug, branch, fakeSha(2 * n + 1), n));
    keys.push(`${slug} ${branch} ${fakeSha(2 * n + 1)}`);
  }
  if (r > 0) {
    const n = (r - 1) * perRound; // supersede the first candidate of the previous round
    const slug = `task-${n}`;
    const branch = `agent/${n % 4}/task-${n}-v2`;
    lines.push(...candidateEvents(slug, branch, fakeSha(2 * n + 2), 100_000 + n).slice(1));
    keys.push(`${slug} ${branch} ${fakeSha(2 * n + 2)}`);
  }
  return { lines, keys };
}

const crashInjection: Scenario = {
  name: 'crash injection: kill -9 at random instants of drains',
  async run(soak) {
    const repo = shadowRepo();
    const canonical = guardCanonical(repo.dir);
    try {
      const rounds = soak ? 200 : 6;
      const random = prng(0x5eed);
      const expected: string[] = [];
      for (let r = 0; r < rounds; r++) {
        const round = roundOfCandidates(r, 3);
        appendLines(repo, round.lines);
        expected.push(...round.keys);
        const child = startCli(repo, ['drain']);
        const done = finished(child);
        await sleep(Math.floor(random() * 250));
        child.kill('SIGKILL');
        await done;
        assertStateWhole(repo.paths);
      }
      await drainToEnd(repo);
      assertStateWhole(repo.paths);
      assertExactlyOnce(ledger(repo.paths), expected);
      canonical.assertUntouched();
    } finally {
      repo.remove();
    }
  },
};

/** The pid holding the lease now, when lease.json shows a live holder. */
function holderPid(repo: Repo): number | null {
  const lease = readLeaseFile(repo.paths);
  return lease && lease.released_at === null && Date.parse(lease.expires_at) > Date.now() ? lease.owner.pid : null;
}

const leaseContention: Scenario = {
  name: 'lease contention: processes running watch and drain (4 in npm test, 8 in the soak) while events arrive, every holder killed to force takeovers',
  async run(soak) {
    const repo = shadowRepo({ grace_seconds: 0.2 });
    const canonical = guardCanonical(repo.dir);
    // Every process of ours by pid: watchers and drain loops, `each` of both (each replaced when killed).
    // Two of each already contend for every takeover; the soak runs four of each for 60 rounds.
    const each = soak ? [0, 1, 2, 3] : [0, 1];
    const procs = new Map<number, { child: ChildProcess; done: Promise<RunResult>; watcher: boolean }>();
    const loops = new Set<DrainLoop>();
    const startWatcher = async () => {
      const child = startCli(repo, ['watch', '--poll', '50']);
      let stderr = '';
      child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
      procs.set(child.pid as number, { child, done: finished(child), watcher: true });
      // Ready (its signal handlers installed) before anything is asked of it.
      await waitUntil(() => stderr.includes('event=watch_started'), 'watch to start');
    };
    let stop = false;
    // Watchers started in place of killed ones: each is awaited before the watchers are stopped (a
    // SIGTERM before its handlers are installed would kill it, not stop it).
    const replacements: Promise<void>[] = [];
    try {
      const rounds = soak ? 60 : 3;
      await Promise.all(each.map(() => startWatcher()));
      // A process draining again and again (200 ms apart: contention at a fraction of the CPU), and
      // another in its place when it is killed, until the end.
      const drainers = each.map(async () => {
        while (!stop) {
          const loop = startDrainLoop(repo.dir, { pauseMs: 200 });
          loops.add(loop);
          procs.set(loop.child.pid as number, { child: loop.child, done: loop.done, watcher: false });
          const r = await loop.done;
          procs.delete(loop.child.pid as number);
          loops.delete(loop);
          if (r.code !== 0 && r.signal !== 'SIGKILL') throw new Error(`drain loop exited ${r.code ?? r.signal}: ${r.stderr}`);
          const failed = loop.drains.find((d) => d.code !== 0);
          if (failed) throw new Error(`drain exited ${failed.code}: ${r.stderr}`);
        }
      });
      const expected: string[] = [];
      let kills = 0;
      for (let r = 0; r < rounds; r++) {
        const round = roundOfCandidates(r, 3);
        appendLines(repo, round.lines);
        expected.push(...round.keys);
        // Forced, not hoped for: whichever process takes the lease for this round's events is killed
        // (-9) in its tenure, so another one must take it over (a dead owner) to decide them.
        await waitUntil(() => {
          const pid = holderPid(repo);
          const p = pid === null ? undefined : procs.get(pid);
          if (!p) return false;
          p.child.kill('SIGKILL');
          procs.delete(pid as number);
          kills += 1;
          if (p.watcher) {
            const started = startWatcher();
            started.catch(() => undefined); // reported by the Promise.all below, not as unhandled
            replacements.push(started);
          }
          return true;
        }, 'a holder to kill');
        const want = new Set(expected);
        await waitUntil(() => [...want].every((k) => readOutcomes(repo.paths).outcomes.some((o) => `${o.slug} ${o.branch} ${o.sha}` === k)), 'the round decided by another holder');
      }
      stop = true;
      for (const loop of loops) void loop.stop();
      await Promise.all(drainers);
      await Promise.all(replacements);
      const watchers = [...procs.values()].filter((p) => p.watcher);
      for (const w of watchers) w.child.kill('SIGTERM');
      const exits = await Promise.all(watchers.map((w) => w.done));
      for (const e of exits) if (e.code !== 0 && e.signal !== 'SIGKILL') throw new Error(`watch exited ${e.code ?? e.signal}: ${e.stderr.slice(-2000)}`);
      await drainToEnd(repo);
      assertStateWhole(repo.paths);
      assertExactlyOnce(ledger(repo.paths), expected);
      const lease = readLeaseFile(repo.paths);
      // Each round's events were decided after its holder was killed: by a takeover, at a new epoch.
      if (kills !== rounds || !lease || lease.epoch < kills + 1) throw new Error(`${kills} holders killed in ${rounds} rounds, last epoch ${lease?.epoch}: each kill must have forced a takeover`);
      canonical.assertUntouched();
    } finally {
      stop = true;
      for (const p of procs.values()) p.child.kill('SIGKILL');
      repo.remove();
    }
  },
};

/**
 * A holder paused (SIGSTOP) in the middle of a drain, past its lease: another process takes over and
 * decides the rest; then the paused one resumes, with whatever write it was about to make. It must
 * land nowhere that counts: exactly one outcome per candidate.
 */
const pausedExHolder: Scenario = {
  name: 'a holder paused past its lease (SIGSTOP) while another takes over, then resumed: no second outcome',
  async run(soak) {
    const repo = shadowRepo({ lease: { ttl_seconds: 1, renew_every_seconds: 0.2 } });
    const canonical = guardCanonical(repo.dir);
    try {
      const expected: string[] = [];
      for (let r = 0; r < (soak ? 10 : 1); r++) {
        const batch = Array.from({ length: 150 }, (_, i) => r * 150 + i);
        appendLines(repo, batch.flatMap((n) => candidateEvents(`p-${n}`, `agent/p-${n}`, fakeSha(50_000 + n), n)));
        expected.push(...batch.map((n) => `p-${n} agent/p-${n} ${fakeSha(50_000 + n)}`));
        const ex = startCli(repo, ['drain']);
        const exDone = finished(ex);
        const already = readOutcomes(repo.paths).outcomes.length;
        await waitUntil(() => readOutcomes(repo.paths).outcomes.length >= already + 5 + r, 'the holder to start deciding');
        ex.kill('SIGSTOP');
        // Past its TTL (and past the mutex's stale time, should it be paused inside the mutex).
        await sleep(1500);
        let took = await runCli(repo, ['drain', '--json']);
        for (let i = 0; i < 20 && (JSON.parse(took.stdout) as { status: string }).status === 'lease_busy'; i++) {
          await sleep(600);
          took = await runCli(repo, ['drain', '--json']);
        }
        if (took.code !== 0 || !/lease_takeover/.test(took.stderr)) throw new Error(`no takeover of the paused holder: ${took.stderr.slice(-1500)}`);
        ex.kill('SIGCONT');
        const resumed = await exDone;
        if (resumed.code !== 0 || !/event=lease_lost/.test(resumed.stderr)) throw new Error(`the resumed ex-holder did not stop on its lost lease (exit ${resumed.code}): ${resumed.stderr.slice(-1500)}`);
      }
      await drainToEnd(repo);
      assertStateWhole(repo.paths);
      assertExactlyOnce(ledger(repo.paths), expected);
      canonical.assertUntouched();
    } finally {
      repo.remove();
    }
  },
};

/** A crash in the middle of a ledger append leaves a torn last line: the next holder finishes the file, nothing is glued or lost. */
const tornLedgerTail: Scenario = {
  name: 'torn ledger and quarantine tails (a crash mid-append): repaired, never glued to the next record',
  async run() {
    const repo = shadowRepo();
    const canonical = guardCanonical(repo.dir);
    try {
      appendLines(repo, [...candidateEvents('t-1', 'agent/t-1', fakeSha(1), 1), 'bad line']);
      await drainToEnd(repo);
      const whole = readFileSync(repo.paths.outcomes, 'utf8');
      // What a holder killed mid-append leaves: half a record, no newline, in both files.
      appendFileSync(repo.paths.outcomes, whole.slice(0, 60));
      appendFileSync(repo.paths.rejected, '{"offset":1,"li');
      appendLines(repo, [...candidateEvents('t-2', 'agent/t-2', fakeSha(2), 2), 'another bad line']);
      const r = await cli(repo, ['drain']);
      if (r.code !== 0 || (r.stderr.match(/event=torn_tail_repaired/g) ?? []).length !== 2) throw new Error(`torn tails not repaired: ${r.stderr}`);
      assertStateWhole(repo.paths);
      assertExactlyOnce(ledger(repo.paths), ['t-1 agent/t-1 ' + fakeSha(1), 't-2 agent/t-2 ' + fakeSha(2)]);
      if (readLines(repo.paths.rejected).length !== 2) throw new Error('a quarantined line was lost or doubled');
      canonical.assertUntouched();
    } finally {
      repo.remove();
    }
  },
};

/** Write kinds a drain makes, each killed at its first occurrence in the fast form; every write in the soak. */
const CHILD = fileURLToPath(new URL('./crash-child.js', import.meta.url));

const killAtEveryWrite: Scenario = {
  name: 'kill -9 before each write of a drain (and of the taker after it): every candidate ends with exactly one outcome, the stack as the ledger says',
  async run(soak) {
    const template = shadowRepo({ lease: { ttl_seconds: 3600, renew_every_seconds: 600 } });
    const canonical = guardCanonical(template.dir);
    const copies: string[] = [];
    try {
      appendLines(template, candidateEvents('k-1', 'agent/k-1', fakeSha(1), 1));
      await drainToEnd(template);
      appendLines(template, [
        ...[2, 3, 4].flatMap((n) => candidateEvents(`k-${n}`, `agent/k-${n}`, fakeSha(n), n)),
        'not json',
        // k-1 again, newer: its old candidate was decided, the new one is queued and decided.
        ...candidateEvents('k-1', 'agent/k-1-v2', fakeSha(11), 50).slice(1),
      ]);
      const expected = [1, 2, 3, 4].map((n) => `k-${n} agent/k-${n} ${fakeSha(n)}`).concat([`k-1 agent/k-1-v2 ${fakeSha(11)}`]);
      const copy = (name: string) => {
        const dir = join(template.dir, '..', `${template.dir.split('/').at(-1)}-${name}`);
        cpSync(template.dir, dir, { recursive: true });
        copies.push(dir);
        return { dir, paths: statePaths(join(dir, '.git', 'shadow-integrator')), remove: () => rmSync(dir, { recursive: true, force: true }) };
      };
      const run = (dir: string, killAt: number) => spawnSync(process.execPath, [CHILD, dir, String(killAt)], { encoding: 'utf8' });
      const counting = copy('count');
      const counted = run(counting.dir, 0);
      if (counted.status !== 0) throw new Error(counted.stderr);
      const kinds = (JSON.parse(counted.stdout.trim().split('\n').at(-1) as string) as { writes: string[] }).writes;
      if (!kinds.includes('stack')) throw new Error(`no stack write among ${kinds.join(', ')}: base: queue stacks every would_integrate`);
      assertExactlyOnce(ledger(counting.paths), expected);
      assertStackFollowsLedger(counting.paths);
      const points = soak ? kinds.map((_, i) => i + 1) : [...new Set(kinds)].map((k) => kinds.indexOf(k) + 1).concat(kinds.length);
      for (const n of points) {
        const c = copy(`kill-${n}`);
        const killed = run(c.dir, n);
        if (killed.signal !== 'SIGKILL') throw new Error(`write ${n} (${kinds[n - 1]}): not killed: ${killed.stdout}${killed.stderr}`);
        assertStateWhole(c.paths);
        // The taker is killed before each of its own first writes too (its seal, its new journal, its recovery).
        for (let m = 1; m <= (soak ? 8 : n === 1 ? 3 : 0); m++) {
          const again = run(c.dir, m);
          if (again.signal !== 'SIGKILL') break;
          assertStateWhole(c.paths);
        }
        // The next holder, in this process (what it does is what matters, not how it starts).
        for (let i = 0; i < 3 && (await drain(loadConfig({ cwd: c.dir }), testContext({ cwd: c.dir }), { engine: recordingEngine().engine })).status !== 'idle'; i++);
        assertStateWhole(c.paths);
        assertExactlyOnce(ledger(c.paths), expected);
        assertStackFollowsLedger(c.paths);
        if (readLines(c.paths.rejected).length !== 1) throw new Error(`write ${n}: the bad line was quarantined ${readLines(c.paths.rejected).length} times`);
        c.remove();
      }
      canonical.assertUntouched();
    } finally {
      for (const dir of copies) rmSync(dir, { recursive: true, force: true });
      template.remove();
    }
  },
};

async function waitUntil(cond: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

const badInput: Scenario = {
  name: 'bad input corpus: every bad line quarantined with its reason, no valid event lost',
  async run() {
    const repo = shadowRepo();
    const canonical = guardCanonical(repo.dir);
    try {
      const valid = [0, 1, 2].map((n) => candidateEvents(`ok-${n}`, `agent/ok-${n}`, fakeSha(1000 + n), n));
      const injection = candidateEvents('inject', 'feature/x;touch${IFS}pwned', fakeSha(2000), 10);
      const bad: { line: string | Buffer; reason: string }[] = [
        { line: '{"type":"finalize_ready","slug":"cut', reason: 'invalid_json' },
        { line: Buffer.from([0x00, 0xff, 0xfe, 0x7b, 0x00]), reason: 'invalid_utf8' },
        { line: Buffer.concat([Buffer.from('{"type":"review_approved","slug":"caf'), Buffer.from([0xc3]), Buffer.from('"}')]), reason: 'invalid_utf8' },
        { line: `{"type":"review_approved","slug":"${'x'.repeat(10 * 1024 * 1024)}"}`, reason: 'line_too_long' },
        { line: '{"type":"review_approved","slug":"a","approved_at":"2026-01-01T00:00:00Z","review_round":"1","reviewer_session_id":"r"}', reason: 'schema' },
        { line: '{"type":"branch_pushed","branch":"b","sha":12,"remote":"origin","pushed_at":"2026-01-01T00:00:00Z","pusher":"p"}', reason: 'schema' },
        { line: '{"type":"merge_now","slug":"a"}', reason: 'unknown_type' },
        { line: '[1,2,3]', reason: 'not_an_object' },
        { line: 'null', reason: 'not_an_object' },
        // Passes the date-time format, but Date cannot use it: quarantined before it can poison the state.
        { line: JSON.stringify({ type: 'finalize_ready', slug: 'leap', branch: 'agent/leap', sha: fakeSha(3), worker_session_id: 'w', orchestrator_session_id: 'o', ready_at: '2016-12-31T23:59:60Z' }), reason: 'schema' },
        { line: JSON.stringify({ type: 'finalize_ready', slug: 'a', branch: '--upload-pack=touch pwned', sha: fakeSha(1), worker_session_id: 'w', orchestrator_session_id: 'o', ready_at: '2026-01-01T00:00:00Z' }), reason: 'schema' },
        { line: JSON.stringify({ type: 'finalize_ready', slug: '-rf', branch: 'ok', sha: '--output=/tmp/pwned', worker_session_id: 'w', orchestrator_session_id: 'o', ready_at: '2026-01-01T00:00:00Z' }), reason: 'schema' },
        { line: JSON.stringify({ type: 'review_approved', slug: 'a', approved_at: 'yesterday', review_round: 1, reviewer_session_id: 'r' }), reason: 'schema' },
        { line: JSON.stringify({ type: 'review_approved', slug: 'a', approved_at: '2026-01-01T00:00:00Z', review_round: 1, reviewer_session_id: 'r', extra: true }), reason: 'schema' },
      ];
      // Valid events out of order (finalize and push before the approval) and duplicated, interleaved with the bad lines.
      const lines: (string | Buffer)[] = [];
      const okLines = [valid[0]?.[1], valid[0]?.[2], valid[0]?.[0], ...(valid[1] ?? []), ...(valid[1] ?? []), ...(valid[2] ?? []), ...injection] as string[];
      bad.forEach((b, i) => {
        lines.push(b.line);
        if (okLines[i]) lines.push(okLines[i]);
      });
      lines.push(...okLines.slice(bad.length));
      // Blank lines (an append that started a fresh line after a torn one leaves one) are no events and no errors.
      lines.push('', '  \r');
      appendLines(repo, lines);
      await drainToEnd(repo);
      assertStateWhole(repo.paths);
      const rejected = readLines(repo.paths.rejected).map((l) => JSON.parse(l) as { reason: string; line: number; truncated: boolean });
      const reasons = rejected.map((r) => r.reason);
      const want = bad.map((b) => b.reason);
      if (JSON.stringify(reasons) !== JSON.stringify(want)) throw new Error(`quarantine reasons ${JSON.stringify(reasons)}, expected ${JSON.stringify(want)}`);
      if (!rejected.find((r) => r.reason === 'line_too_long')?.truncated) throw new Error('the 10 MB line was not cut in rejected.jsonl');
      assertExactlyOnce(ledger(repo.paths), [
        ...[0, 1, 2].map((n) => `ok-${n} agent/ok-${n} ${fakeSha(1000 + n)}`),
        `inject feature/x;touch\${IFS}pwned ${fakeSha(2000)}`,
      ]);
      for (const dir of [repo.dir, process.cwd()]) {
        try {
          readFileSync(join(dir, 'pwned'));
          throw new Error(`an injected command ran: ${dir}/pwned exists`);
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
        }
      }
      canonical.assertUntouched();
    } finally {
      repo.remove();
    }
  },
};

const logReplacedWhileWatching: Scenario = {
  name: 'readiness log truncated and replaced while watch runs',
  async run() {
    const repo = shadowRepo({ grace_seconds: 0 });
    const canonical = guardCanonical(repo.dir);
    const watcher = startCli(repo, ['watch', '--poll', '50']);
    const done = finished(watcher);
    try {
      const batch = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => candidateEvents(`t-${from + i}`, `a/t-${from + i}`, fakeSha(from + i), from + i)).flat();
      const key = (n: number) => `t-${n} a/t-${n} ${fakeSha(n)}`;
      appendLines(repo, batch(0, 5));
      await waitForOutcomes(repo, 5);
      // Replaced: a new file (new inode) holding old events again and new ones.
      const tmp = `${repo.paths.readiness}.new`;
      writeFileSync(tmp, `${[...batch(0, 5), ...batch(5, 8)].join('\n')}\n`);
      renameSync(tmp, repo.paths.readiness);
      await waitForOutcomes(repo, 8);
      // Truncated in place: shorter than the consumed offset.
      writeFileSync(repo.paths.readiness, `${batch(8, 10).join('\n')}\n`);
      await waitForOutcomes(repo, 10);
      watcher.kill('SIGTERM');
      const exit = await done;
      if (exit.code !== 0) throw new Error(`watch exited ${exit.code}: ${exit.stderr.slice(-2000)}`);
      if (!/event=log_reset why=replaced/.test(exit.stderr) || !/event=log_reset why=truncated/.test(exit.stderr)) {
        throw new Error(`log_reset was not logged for both:\n${exit.stderr.split('\n').filter((l) => /log_reset|error/.test(l)).join('\n')}`);
      }
      assertStateWhole(repo.paths);
      assertExactlyOnce(ledger(repo.paths), Array.from({ length: 10 }, (_, n) => key(n)));
      canonical.assertUntouched();
    } finally {
      watcher.kill('SIGKILL');
      repo.remove();
    }
  },
};

/**
 * logrotate's way (rename, then a fresh file) applied to readiness.jsonl, outcomes.jsonl and
 * rejected.jsonl while `watch` runs, with a producer that opened the log before the rotation and
 * writes after it: nothing lost, nothing read twice, and the readers see the rotated ledger too.
 */
const rotatedUnderWatch: Scenario = {
  name: 'logs rotated (rename + a fresh file) while watch runs: nothing lost, nothing twice',
  async run(soak) {
    const repo = shadowRepo({ grace_seconds: 0 });
    const canonical = guardCanonical(repo.dir);
    const watcher = startCli(repo, ['watch', '--poll', '50']);
    const done = finished(watcher);
    try {
      const batch = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => candidateEvents(`r-${from + i}`, `a/r-${from + i}`, fakeSha(from + i), from + i)).flat();
      const rounds = soak ? 20 : 2;
      let n = 0;
      let bad = 0;
      for (let round = 0; round < rounds; round++) {
        appendLines(repo, [...batch(n, n + 3), `bad line ${bad++}`]);
        n += 3;
        await waitForOutcomes(repo, n);
        // A producer that opened the log before the rotation (its line lands in the rotated file).
        const early = openSync(repo.paths.readiness, 'a');
        for (const log of [repo.paths.readiness, repo.paths.outcomes, repo.paths.rejected]) {
          for (let k = 40; k >= 1; k--) if (existsSync(`${log}.${k}`)) renameSync(`${log}.${k}`, `${log}.${k + 1}`);
          renameSync(log, `${log}.1`);
          writeFileSync(log, '', { mode: 0o600 });
        }
        writeSync(early, `${batch(n, n + 2).join('\n')}\n`);
        closeSync(early);
        n += 2;
        appendLines(repo, [...batch(n, n + 3), `bad line ${bad++}`]);
        n += 3;
        await waitForOutcomes(repo, n);
      }
      watcher.kill('SIGTERM');
      const exit = await done;
      if (exit.code !== 0) throw new Error(`watch exited ${exit.code}: ${exit.stderr.slice(-2000)}`);
      await drainToEnd(repo);
      assertStateWhole(repo.paths);
      assertExactlyOnce(ledger(repo.paths), Array.from({ length: n }, (_, k) => `r-${k} a/r-${k} ${fakeSha(k)}`));
      const quarantined: string[] = [];
      forEachRejected(repo.paths, (r) => quarantined.push(r.raw));
      if (JSON.stringify(quarantined.sort()) !== JSON.stringify(Array.from({ length: bad }, (_, k) => `bad line ${k}`).sort())) throw new Error(`quarantine across rotations: ${JSON.stringify(quarantined)}`);
      // The reports read the rotated ledger too.
      const listed = await cli(repo, ['outcomes', '--json']);
      if (listed.stdout.trim().split('\n').length !== n) throw new Error(`outcomes --json listed ${listed.stdout.trim().split('\n').length} of ${n}`);
      canonical.assertUntouched();
    } finally {
      watcher.kill('SIGKILL');
      repo.remove();
    }
  },
};

async function waitForOutcomes(repo: Repo, n: number): Promise<void> {
  for (let i = 0; i < 400; i++) {
    if (readOutcomes(repo.paths).outcomes.length >= n) return;
    await sleep(25);
  }
  throw new Error(`timed out waiting for ${n} outcomes`);
}

/** A small tmpfs (full disk, read-only) as the state directory; false when this machine cannot mount one. */
function mountTmpfs(dir: string, options: string): boolean {
  mkdirSync(dir, { recursive: true });
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', options, 'tmpfs', dir], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

const unmount = (dir: string) => execFileSync('umount', [dir], { stdio: 'ignore' });

const unusableStateDir: Scenario = {
  name: 'missing, read-only and full state directory: clear errors, nothing half-written; space back, every candidate decided once',
  async run() {
    const repo = shadowRepo();
    const [missing, ro, full] = [join(repo.dir, '.git', 'does', 'not', 'exist'), join(repo.dir, '.git', 'ro-state'), join(repo.dir, '.git', 'full-state')];
    const canonical = guardCanonical(repo.dir, { stateDirs: [missing, ro, full] });
    try {
      // Missing: created on first use.
      const emitted = await runCli(repo, ['--state-dir', missing, 'emit', 'review_approved', '--slug', 'a', '--review-round', '1', '--reviewer-session-id', 'r']);
      if (emitted.code !== 0 || readLines(statePaths(missing).readiness).length !== 1) throw new Error(`emit into a missing state dir failed: ${emitted.stderr}`);

      // Read-only: a clear error naming the file, exit 1.
      if (!mountTmpfs(ro, 'size=1m,ro')) throw cannotRunHere('cannot mount tmpfs here (not root?)');
      try {
        const r = await runCli(repo, ['--state-dir', ro, 'emit', 'review_approved', '--slug', 'a', '--review-round', '1', '--reviewer-session-id', 'r']);
        if (r.code !== 1 || !/read-only/.test(r.stderr) || /at .*\.js:\d+/.test(r.stderr)) throw new Error(`read-only state dir: exit ${r.code}, ${r.stderr}`);
      } finally {
        unmount(ro);
      }

      // Full: fill a tiny tmpfs, then drain must fail cleanly and leave every state file whole.
      if (!mountTmpfs(full, 'size=64k')) throw cannotRunHere('cannot mount tmpfs here');
      try {
        const paths = statePaths(full);
        writeFileSync(paths.readiness, `${Array.from({ length: 40 }, (_, n) => candidateEvents(`f-${n}`, `a/f-${n}`, fakeSha(n), n)).flat().join('\n')}\n`);
        let lastCode: number | null = 0;
        for (let i = 0; i < 6 && lastCode === 0; i++) lastCode = (await runCli(repo, ['--state-dir', full, 'drain'])).code;
        chmodSync(full, 0o755);
        const filler = join(full, 'filler');
        try {
          writeFileSync(filler, Buffer.alloc(64 * 1024));
        } catch {
          // the disk is full now, as intended
        }
        appendLines({ ...repo, paths }, candidateEvents('late', 'a/late', fakeSha(999), 999));
        const r = await runCli(repo, ['--state-dir', full, 'drain']);
        if (r.code !== 1 || !/no space left/.test(r.stderr)) throw new Error(`full disk: exit ${r.code}, ${r.stderr.slice(-1000)}`);
        assertStateWhole(paths);
        // Space again (the disk grown): every candidate, the late one too, decided exactly once.
        execFileSync('mount', ['-o', 'remount,size=1m', full], { stdio: 'ignore' });
        await drainToEnd({ dir: repo.dir, paths, args: ['--state-dir', full] });
        assertStateWhole(paths);
        assertExactlyOnce(ledger(paths), [...Array.from({ length: 40 }, (_, n) => `f-${n} a/f-${n} ${fakeSha(n)}`), `late a/late ${fakeSha(999)}`]);
      } finally {
        unmount(full);
      }
      canonical.assertUntouched();
    } finally {
      repo.remove();
    }
  },
};

export { SkipScenario } from '../support/index.js';

export const scenarios: Scenario[] = [badInput, crashInjection, killAtEveryWrite, tornLedgerTail, logReplacedWhileWatching, rotatedUnderWatch, unusableStateDir, leaseContention, pausedExHolder, ...engineScenarios];
