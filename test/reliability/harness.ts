/**
 * What the reliability scenarios share: a throwaway repository in shadow mode, the CLI as a real
 * child process, readiness lines for generated candidates, and the checks every scenario ends with
 * (every state file whole, exactly one outcome per ready candidate, epochs never interleaved).
 */
import { execFileSync, type ChildProcess } from 'node:child_process';
import { appendFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Outcome } from '../../src/contract/types.generated.js';
import { readOutcomes } from '../../src/ledger/ledger.js';
import { statePaths, type StatePaths } from '../../src/store/paths.js';
import { forEachRejected, readCheckpoint, readLease, readState } from '../../src/store/readers.js';
import { finished, sleep, startCli as startCliIn, type RunResult } from '../runtime/support.js';

export interface Repo {
  dir: string;
  paths: StatePaths;
  remove(): void;
}

/** A git repository with one commit, opted in to shadow mode with a short lease and no grace. */
export function shadowRepo(config: Record<string, unknown> = {}): Repo {
  const dir = mkdtempSync(join(tmpdir(), 'si-rel-'));
  const env = { ...process.env, GIT_CONFIG_GLOBAL: '/dev/null', GIT_CONFIG_NOSYSTEM: '1' };
  execFileSync('git', ['init', '-q', '-b', 'main', dir], { env });
  execFileSync('git', ['-C', dir, '-c', 'user.name=t', '-c', 'user.email=t@t', 'commit', '-q', '--allow-empty', '-m', 'init'], { env });
  const cfg = { mode: 'shadow', grace_seconds: 0, lease: { ttl_seconds: 5, renew_every_seconds: 1 }, ...config };
  writeFileSync(join(dir, '.shadow-integrator.yml'), toYaml(cfg));
  const paths = statePaths(join(dir, '.git', 'shadow-integrator'));
  execFileSync('mkdir', ['-p', paths.dir]);
  return { dir, paths, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

function toYaml(obj: Record<string, unknown>, indent = ''): string {
  return Object.entries(obj)
    .map(([k, v]) => (v && typeof v === 'object' && !Array.isArray(v) ? `${indent}${k}:\n${toYaml(v as Record<string, unknown>, `${indent}  `)}` : `${indent}${k}: ${JSON.stringify(v)}\n`))
    .join('');
}

/** The CLI as a real child process, in the repository (the runtime tests' helpers, reused). */
export const startCli = (repo: Repo, args: string[]): ChildProcess => startCliIn(repo.dir, args);
export const runCli = (repo: Repo, args: string[]): Promise<RunResult> => finished(startCli(repo, args));
export { finished, sleep, type RunResult };

/** A candidate's three readiness events; `at` orders them (ready_at = base + at seconds). */
export function candidateEvents(slug: string, branch: string, sha: string, at: number, remote = 'origin'): string[] {
  const t = (k: number) => new Date(Date.UTC(2026, 0, 1) + at * 1000 + k).toISOString();
  return [
    JSON.stringify({ type: 'review_approved', id: `ra-${slug}`, slug, approved_at: t(0), review_round: 1, reviewer_session_id: 'rev' }),
    JSON.stringify({ type: 'finalize_ready', id: `fr-${slug}-${sha.slice(-12)}`, slug, branch, sha, worker_session_id: 'w', orchestrator_session_id: 'o', ready_at: t(1) }),
    JSON.stringify({ type: 'branch_pushed', id: `bp-${branch.replace(/[^A-Za-z0-9._:-]/g, ".")}-${sha.slice(-12)}`, branch, sha, remote, pushed_at: t(2), pusher: 'agent' }),
  ];
}

export const fakeSha = (n: number) => n.toString(16).padStart(40, '0');

export function appendLines(repo: Repo, lines: readonly (string | Buffer)[]): void {
  appendFileSync(repo.paths.readiness, Buffer.concat(lines.map((l) => (typeof l === 'string' ? Buffer.from(`${l}\n`) : Buffer.concat([l, Buffer.from('\n')])))));
}

export const candidateKey = (o: Pick<Outcome, 'slug' | 'branch' | 'sha'>) => `${o.slug} ${o.branch} ${o.sha}`;

/** Every state file parses and validates (through the readers the tool itself uses); every ledger and quarantine line is whole. */
export function assertStateWhole(paths: StatePaths): void {
  readLease(paths);
  readCheckpoint(paths);
  const journal = readState(paths);
  if (journal.problems.length > 0) throw new Error(`journal problems: ${journal.problems.join('; ')}`);
  const ledger = readOutcomes(paths);
  if (ledger.invalid > 0) throw new Error(`${ledger.invalid} invalid line(s) in ${paths.outcomes}`);
  const { invalid } = forEachRejected(paths, () => undefined);
  if (invalid > 0) throw new Error(`${invalid} invalid line(s) in ${paths.rejected}`);
}

export function readLines(file: string): string[] {
  try {
    return readFileSync(file, 'utf8').split('\n').filter(Boolean);
  } catch {
    return [];
  }
}

/** Outcomes per candidate, and whether the ledger's epochs ever go back (two holders interleaving). */
export function ledgerSummary(paths: StatePaths): { perCandidate: Map<string, number>; outcomes: Outcome[]; interleaved: string | null } {
  const { outcomes } = readOutcomes(paths);
  const perCandidate = new Map<string, number>();
  let interleaved: string | null = null;
  const closed = new Set<number>();
  let current = -1;
  for (const o of outcomes) {
    perCandidate.set(candidateKey(o), (perCandidate.get(candidateKey(o)) ?? 0) + 1);
    if (o.lease_epoch !== current) {
      if (closed.has(o.lease_epoch) || o.lease_epoch < current) interleaved ??= `epoch ${o.lease_epoch} wrote again after epoch ${current}`;
      closed.add(current);
      current = o.lease_epoch;
    }
  }
  return { perCandidate, outcomes, interleaved };
}

/** Exactly one outcome for each expected candidate, and none for anything else. */
export function assertExactlyOnce(paths: StatePaths, expected: Iterable<string>): void {
  const { perCandidate, interleaved } = ledgerSummary(paths);
  if (interleaved) throw new Error(`ledger epochs interleave: ${interleaved}`);
  const want = new Set(expected);
  const problems: string[] = [];
  for (const key of want) if (perCandidate.get(key) !== 1) problems.push(`${key}: ${perCandidate.get(key) ?? 0} outcomes`);
  for (const key of perCandidate.keys()) if (!want.has(key)) problems.push(`${key}: unexpected outcome`);
  if (problems.length > 0) throw new Error(`exactly-once violated:\n  ${problems.slice(0, 20).join('\n  ')}`);
}

/** Drains until the queue is empty and the checkpoint has caught up (a lease may first need to expire). */
export async function drainToEnd(repo: Repo, maxRounds = 40): Promise<void> {
  for (let i = 0; i < maxRounds; i++) {
    const r = await runCli(repo, ['drain', '--json']);
    if (r.code !== 0) throw new Error(`drain exited ${r.code}: ${r.stderr}`);
    const report = JSON.parse(r.stdout) as { status: string };
    if (report.status === 'idle') return;
    if (report.status === 'lease_busy') await new Promise((res) => setTimeout(res, 250));
  }
  throw new Error('the queue did not drain');
}

/** A tiny deterministic PRNG so a failing run can be replayed with its seed. */
export function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

