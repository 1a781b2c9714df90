/**
 * What the reliability scenarios share, on top of test/support: a throwaway repository or a fixture's
 * clone in shadow mode, the CLI as a real child process in it (or in process, for the steps that prove nothing of processes), readiness lines for generated candidates, and the
 * check that every state file is whole (exactly-once and single-holder come from test/support).
 */
import { type ChildProcess } from 'node:child_process';
import { appendFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Fixture } from '../../fixtures/repo.js';
import type { Outcome } from '../../src/contract/types.generated.js';
import { readOutcomes } from '../../src/ledger/ledger.js';
import { statePaths, type StatePaths } from '../../src/store/paths.js';
import { forEachRejected, readCheckpointFile, readLeaseFile, readState } from '../../src/store/readers.js';
import { at, cli as cliIn, configYaml, drainToEnd as drainToEndIn, finished, readyEvents, runCli as runCliIn, shaOf, SHADOW, sleep, startCli as startCliIn, tempRepo, type CliResult, type RunResult, type TempRepo } from '../support/index.js';

export interface Scenario {
  name: string;
  run(soak: boolean): Promise<void>;
}

export type Repo = TempRepo;

/** Where the CLI runs: a repository's top level, its state directory, and what each CLI process is given. */
export interface CliRepo {
  dir: string;
  paths: StatePaths;
  /** Options before every command (`--state-dir` for `paths`, when it is not the default). */
  args?: readonly string[];
  /** Added to the test environment of every CLI process (a global git config…); process.env is never written. */
  env?: NodeJS.ProcessEnv;
}

/** A git repository with one commit, opted in to shadow mode with a short lease and no grace. */
export const shadowRepo = (config: Record<string, unknown> = {}): Repo => tempRepo({ ...SHADOW, ...config }, { commit: true });

export interface ShadowFixture extends CliRepo {
  /** Rewrites the config (shadow mode, short lease, no grace, plus `config`); processes started later read it. */
  configure(config: Record<string, unknown>): void;
}

/**
 * A fixture's canonical clone opted in to shadow mode: the config at its top level (an untracked
 * file, there before any snapshot is taken), the default state directory under its git directory.
 */
export function shadowFixture(fx: Fixture, config: Record<string, unknown> = {}, env?: NodeJS.ProcessEnv): ShadowFixture {
  const paths = statePaths(join(fx.clone, '.git', 'shadow-integrator'));
  mkdirSync(paths.dir, { recursive: true });
  const configure = (c: Record<string, unknown>) => writeFileSync(join(fx.clone, '.shadow-integrator.yml'), configYaml({ ...SHADOW, ...c }));
  configure(config);
  return { dir: fx.clone, paths, ...(env ? { env } : {}), configure };
}

/** The CLI as a real child process, in the repository (the process boundary is what these scenarios prove). */
export const startCli = (repo: CliRepo, args: string[]): ChildProcess => startCliIn(repo.dir, [...(repo.args ?? []), ...args], repo.env);
export const runCli = (repo: CliRepo, args: string[]): Promise<RunResult> => runCliIn(repo.dir, [...(repo.args ?? []), ...args], undefined, repo.env);
/** The CLI in this process, in the repository: for the steps where no process boundary is proved. */
export const cli = (repo: CliRepo, args: string[]): Promise<CliResult> => cliIn(repo.dir, [...(repo.args ?? []), ...args], repo.env ? { env: repo.env } : {});
export const drainToEnd = (repo: CliRepo): Promise<void> => drainToEndIn(repo.dir, { ...(repo.args ? { args: repo.args } : {}), ...(repo.env ? { env: repo.env } : {}) });
export { finished, sleep, type RunResult };

/** A candidate's three readiness events as log lines, ready at `n` seconds after T0. */
export function candidateEvents(slug: string, branch: string, sha: string, n: number): string[] {
  return readyEvents({ slug, branch, sha }, at(n), `${slug}-${sha.slice(-12)}`).map((e) => JSON.stringify(e));
}

export const fakeSha = shaOf;

export function appendLines(repo: Pick<Repo, 'paths'>, lines: readonly (string | Buffer)[]): void {
  appendFileSync(repo.paths.readiness, Buffer.concat(lines.map((l) => (typeof l === 'string' ? Buffer.from(`${l}\n`) : Buffer.concat([l, Buffer.from('\n')])))));
}

/**
 * The stack is what the ledger says it is, when nothing left it for a git reason or the window (an
 * engine that decides without git): the latest decision of each slug, when it is a would_integrate
 * made with base: queue, in decision order.
 */
export function assertStackFollowsLedger(paths: StatePaths): void {
  const latest = new Map<string, Outcome>();
  for (const o of readOutcomes(paths).outcomes) {
    latest.delete(o.slug);
    latest.set(o.slug, o);
  }
  const want = [...latest.values()].filter((o) => o.outcome === 'would_integrate' && o.base === 'queue').map((o) => `${o.slug} ${o.sha}`);
  const got = readState(paths).stack.map((e) => `${e.slug} ${e.sha}`);
  if (JSON.stringify(got) !== JSON.stringify(want)) throw new Error(`the stack is not what the ledger says:\n  stack  ${got.join(', ')}\n  ledger ${want.join(', ')}`);
}

/** Every state file parses and validates (through the readers the tool itself uses); every ledger and quarantine line is whole. */
export function assertStateWhole(paths: StatePaths): void {
  readLeaseFile(paths);
  readCheckpointFile(paths);
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

