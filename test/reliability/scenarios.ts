/**
 * Reliability scenarios: crashes, lease contention and bad input, each ending with the invariants
 * checked. `soak` runs them long (npm run soak); the fast form runs in npm test.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { validators } from '../../src/contract/validate.js';
import { readOutcomes } from '../../src/ledger/ledger.js';
import { readJson } from '../../src/store/atomic-json.js';
import { statePaths } from '../../src/store/paths.js';
import { assertExactlyOnce, cannotRunHere, ledger } from '../support/index.js';
import {
  appendLines,
  assertStateWhole,
  candidateEvents,
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
} from './harness.js';

export interface Scenario {
  name: string;
  run(soak: boolean): Promise<void>;
}

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
    try {
      const rounds = soak ? 200 : 12;
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
    } finally {
      repo.remove();
    }
  },
};

const leaseContention: Scenario = {
  name: 'lease contention: 8 processes running watch and drain while events arrive',
  async run(soak) {
    const repo = shadowRepo({ grace_seconds: 0.2 });
    try {
      const seconds = soak ? 60 : 6;
      const watchers = [0, 1, 2, 3].map(() => startCli(repo, ['watch', '--poll', '50']));
      const watcherDone = watchers.map((w) => finished(w));
      let stop = false;
      const drainers = [0, 1, 2, 3].map(async () => {
        while (!stop) {
          const r = await runCli(repo, ['drain']);
          if (r.code !== 0) throw new Error(`drain exited ${r.code}: ${r.stderr}`);
        }
      });
      const expected: string[] = [];
      const deadline = Date.now() + seconds * 1000;
      const random = prng(0xc0ffee);
      for (let r = 0; Date.now() < deadline; r++) {
        const round = roundOfCandidates(r, 2);
        appendLines(repo, round.lines);
        expected.push(...round.keys);
        // Bursts, and every fourth round a pause well past the grace window, so the lease changes hands.
        await sleep(r % 4 === 3 ? 700 : Math.floor(random() * 40));
      }
      stop = true;
      await Promise.all(drainers);
      for (const w of watchers) w.kill('SIGTERM');
      const exits = await Promise.all(watcherDone);
      for (const e of exits) if (e.code !== 0) throw new Error(`watch exited ${e.code ?? e.signal}: ${e.stderr.slice(-2000)}`);
      await drainToEnd(repo);
      assertStateWhole(repo.paths);
      assertExactlyOnce(ledger(repo.paths), expected);
      // Every acquisition increments the epoch: a final epoch above 1 means the lease changed hands.
      const lease = readJson(repo.paths.lease, validators.lease);
      if (!lease || lease.epoch < 2) throw new Error('contention never changed holders: the scenario proved nothing');
    } finally {
      repo.remove();
    }
  },
};

const badInput: Scenario = {
  name: 'bad input corpus: every bad line quarantined with its reason, no valid event lost',
  async run() {
    const repo = shadowRepo();
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
        { line: '', reason: 'invalid_json' },
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
    } finally {
      repo.remove();
    }
  },
};

const logReplacedWhileWatching: Scenario = {
  name: 'readiness log truncated and replaced while watch runs',
  async run() {
    const repo = shadowRepo({ grace_seconds: 0 });
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
    } finally {
      watcher.kill('SIGKILL');
      repo.remove();
    }
  },
};

async function waitForOutcomes(repo: Repo, n: number): Promise<void> {
  for (let i = 0; i < 400; i++) {
    if (readOutcomes(repo.paths.outcomes).outcomes.length >= n) return;
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
  name: 'missing, read-only and full state directory: clear errors, nothing half-written',
  async run() {
    const repo = shadowRepo();
    try {
      // Missing: created on first use.
      const missing = join(repo.dir, '.git', 'does', 'not', 'exist');
      const emitted = await runCli(repo, ['--state-dir', missing, 'emit', 'review_approved', '--slug', 'a', '--review-round', '1', '--reviewer-session-id', 'r']);
      if (emitted.code !== 0 || readLines(statePaths(missing).readiness).length !== 1) throw new Error(`emit into a missing state dir failed: ${emitted.stderr}`);

      // Read-only: a clear error naming the file, exit 1.
      const ro = join(repo.dir, '.git', 'ro-state');
      if (!mountTmpfs(ro, 'size=1m,ro')) throw cannotRunHere('cannot mount tmpfs here (not root?)');
      try {
        const r = await runCli(repo, ['--state-dir', ro, 'emit', 'review_approved', '--slug', 'a', '--review-round', '1', '--reviewer-session-id', 'r']);
        if (r.code !== 1 || !/read-only/.test(r.stderr) || /at .*\.js:\d+/.test(r.stderr)) throw new Error(`read-only state dir: exit ${r.code}, ${r.stderr}`);
      } finally {
        unmount(ro);
      }

      // Full: fill a tiny tmpfs, then drain must fail cleanly and leave every state file whole.
      const full = join(repo.dir, '.git', 'full-state');
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
      } finally {
        unmount(full);
      }
    } finally {
      repo.remove();
    }
  },
};

export { SkipScenario } from '../support/index.js';

export const scenarios: Scenario[] = [badInput, crashInjection, logReplacedWhileWatching, unusableStateDir, leaseContention];
