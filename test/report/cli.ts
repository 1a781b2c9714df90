/**
 * What the operator-command tests share: the CLI as a real child process (exit codes, stdout,
 * stderr), an environment free of the user's git config, readiness lines with fixed timestamps.
 */
import { spawnSync } from 'node:child_process';
import { appendFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const CLI = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));

export interface Run {
  status: number;
  stdout: string;
  stderr: string;
}

/** The test process's environment without GIT_* variables or the user's git config. */
export function cleanEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('GIT_')) env[k] = v;
  return { ...env, GIT_CONFIG_GLOBAL: '/dev/null', GIT_CONFIG_NOSYSTEM: '1', ...extra };
}

export function si(cwd: string, args: readonly string[], opts: { env?: NodeJS.ProcessEnv; input?: string } = {}): Run {
  const r = spawnSync(process.execPath, [CLI, ...args], { cwd, env: cleanEnv(opts.env), input: opts.input ?? '', encoding: 'utf8' });
  return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

/** Runs the CLI, which must succeed, and parses its JSON output. */
export function siJson<T>(cwd: string, args: readonly string[]): T {
  const r = si(cwd, [...args, '--json']);
  if (r.status !== 0) throw new Error(`shadow-integrator ${args.join(' ')} exited ${r.status}: ${r.stderr}`);
  return JSON.parse(r.stdout) as T;
}

/** Opts the repository in to shadow mode with no grace period. */
export function shadowConfig(repo: string, extra = ''): void {
  writeFileSync(join(repo, '.shadow-integrator.yml'), `mode: shadow\ngrace_seconds: 0\n${extra}`);
}

/** Appends readiness lines; returns their 1-based line numbers. */
export function appendEvents(file: string, events: readonly object[]): number[] {
  mkdirSync(dirname(file), { recursive: true });
  let before = 0;
  try {
    before = readFileSync(file, 'utf8').split('\n').length - 1;
  } catch {
    // a new log
  }
  appendFileSync(file, events.map((e) => `${JSON.stringify(e)}\n`).join(''));
  return events.map((_, i) => before + i + 1);
}

/** ISO timestamp `minutes` after a fixed origin: event times independent of the clock. */
export const at = (minutes: number) => new Date(Date.UTC(2026, 5, 1) + minutes * 60_000).toISOString();

export const approved = (slug: string, minute: number, id?: string) => ({
  type: 'review_approved',
  ...(id ? { id } : {}),
  slug,
  approved_at: at(minute),
  review_round: 1,
  reviewer_session_id: 'reviewer-1',
});

export const finalized = (slug: string, branch: string, sha: string, minute: number, id?: string) => ({
  type: 'finalize_ready',
  ...(id ? { id } : {}),
  slug,
  branch,
  sha,
  worker_session_id: `worker-${slug}`,
  orchestrator_session_id: 'orch-1',
  ready_at: at(minute),
});

export const pushed = (branch: string, sha: string, minute: number, remote = 'origin') => ({
  type: 'branch_pushed',
  branch,
  sha,
  remote,
  pushed_at: at(minute),
  pusher: 'agent',
});

/** All three events that make a candidate ready. */
export const ready = (c: { slug: string; branch: string; sha: string }, minute: number) => [approved(c.slug, minute), finalized(c.slug, c.branch, c.sha, minute), pushed(c.branch, c.sha, minute)];
