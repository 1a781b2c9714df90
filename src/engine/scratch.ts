/**
 * The engine's use of the scratch repository (`src/git/scratch.ts`): `checks` run on the would-be
 * merged tree there, and `engine: worktree` merges there. One evaluation at a time; each use starts
 * from main's tip with nothing else in it and ends back there, so its index never points at objects
 * of a temporary directory that is about to go.
 *
 * Created on first use and kept between candidates and between processes. Each use starts from a
 * pristine one: before the tool's own git runs there, its git directory is checked to hold only what
 * the tool leaves (`scratchResidue`); anything a check left there — refs, tags, a stash, config, hooks,
 * alternates, objects, an index it changed — and it is made again from nothing (`scratch_rebuilt`),
 * so no check's config ever reaches the tool's git or the next candidate's checks. Otherwise a use on
 * another main, or a process's first use, puts it back on main (reset and clean: stray files, a
 * merge in progress); when that fails — or it is gone, or it is the linked scratch worktree of an
 * earlier version — it is made again from nothing.
 */
import { dirname, join } from 'node:path';
import type { Check } from '../config/config.js';
import type { Logger, Timers } from '../context.js';
import type { CandidateRef } from '../contract/types.generated.js';
import { processEnvironment, type Env } from '../git/env.js';
import { runCommand } from '../git/runner.js';
import { createScratchRepository, handOverToChecks, isScratchRepository, removeScratch, resetScratch, scratchResidue } from '../git/scratch.js';
import type { GitHandle } from '../git/runner.js';

/** How much of a failing check's output the outcome keeps (its end, where errors are). */
const OUTPUT_TAIL = 4096;

export class ScratchRepository {
  /** The commit it is clean at, as far as this process knows; null when that has to be made so. */
  private at: string | null = null;
  /** Whether this process has had it (so a broken one in its place is ours to delete). */
  private ours = false;
  /** One evaluation at a time: the scratch repository has a single index and HEAD. */
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    readonly dir: string,
    private readonly commonDir: string,
    /** A handle for git calls in it, with `objectDir` as where new objects go. */
    private readonly git: (objectDir: string) => GitHandle,
    private readonly logger: Logger,
  ) {}

  /** Runs `fn` with a git handle in the scratch repository on `mainSha`, then puts it back on `mainSha`. */
  use<T>(mainSha: string, objectDir: string, fn: (h: GitHandle) => Promise<T>): Promise<T> {
    const result = this.queue.then(async () => {
      const h = await this.open(mainSha, objectDir);
      this.at = null;
      try {
        return await fn(h);
      } finally {
        // One that cannot be put back, or that a check left something in, is made again by the next use.
        if (this.residue(mainSha) === null && (await resetScratch(h, mainSha).then(() => true, () => false))) this.at = mainSha;
      }
    });
    this.queue = result.catch(() => undefined);
    return result;
  }

  private async open(mainSha: string, objectDir: string): Promise<GitHandle> {
    const h = this.git(objectDir);
    const present = isScratchRepository(this.dir);
    const residue = present ? this.residue(mainSha) : null;
    if (present && residue === null && this.at === mainSha) return h;
    if (present && residue === null && (await resetScratch(h, mainSha).then(() => true, () => false))) {
      this.ours = true;
      return h;
    }
    if (residue !== null) this.logger.log('info', 'scratch_rebuilt', { dir: this.dir, reason: residue });
    const { legacyWorktree } = removeScratch(this.dir, this.commonDir, { ours: this.ours });
    if (legacyWorktree) this.logger.log('info', 'legacy_scratch_worktree_removed', { dir: this.dir, registration: legacyWorktree });
    createScratchRepository(this.dir, this.commonDir, mainSha);
    this.ours = true;
    await resetScratch(h, mainSha);
    return h;
  }

  private residue(mainSha: string): string | null {
    return scratchResidue(this.dir, this.commonDir, mainSha.length === 64);
  }
}

export type ChecksResult = { ok: true } | { ok: false; check: string; message: string };

/** Who watches the checks: the candidate they are for, where to log, how often to say a long one still runs. */
export interface ChecksProgress {
  candidate: CandidateRef;
  logger: Logger;
  /** A `check_running` line this often while a check runs. */
  heartbeatMs: number;
}

export interface ChecksContext extends ChecksProgress {
  /** The scratch repository, where they run. */
  cwd: string;
  /** The evaluation's temporary object directory: git in a check reads the merge's objects from there. */
  objectDir: string;
  env: NodeJS.ProcessEnv;
  /** Also what a clock reading means here: heartbeat and elapsed time follow the injected timers. */
  timers: Timers;
  now: () => Date;
  signal: AbortSignal | undefined;
}

/**
 * Runs the checks in order; the first failure, with the tail of its output. git in a check finds the
 * scratch repository wherever the check runs it: GIT_DIR and GIT_WORK_TREE name it, as git does for
 * hooks, because discovery from a directory above it (`git -C ..`: the state directory, the canonical
 * git directory that holds it by default, the canonical worktree) would find the canonical
 * repository, and no ceiling can stop discovery in the directory git starts from. Were its `.git`
 * removed, git fails; for a check that unsets them, GIT_CEILING_DIRECTORIES still keeps git from
 * climbing out of the scratch worktree.
 * Logs `check_started` for each, `check_running` every `heartbeatMs` while it runs and
 * `check_finished`: the only way to see, during a long check, that the integrator is not stuck.
 */
export async function runChecks(checks: readonly Check[], c: ChecksContext): Promise<ChecksResult> {
  const env = processEnvironment(c.env, { GIT_ALTERNATE_OBJECT_DIRECTORIES: c.objectDir, GIT_CEILING_DIRECTORIES: dirname(c.cwd), GIT_DIR: join(c.cwd, '.git'), GIT_WORK_TREE: c.cwd });
  const handedOver = handOverToChecks(c.cwd);
  try {
    return await runEach(checks, c, env);
  } finally {
    handedOver.done();
  }
}

async function runEach(checks: readonly Check[], c: ChecksContext, env: Env): Promise<ChecksResult> {
  const { slug, branch, sha } = c.candidate;
  for (const check of checks) {
    const started = c.now().getTime();
    const fields = () => ({ slug, branch, sha, check: check.name, elapsed_s: Math.round((c.now().getTime() - started) / 1000) });
    c.logger.log('info', 'check_started', { slug, branch, sha, check: check.name, timeout_s: check.timeout_seconds });
    const heartbeat = c.timers.setInterval(() => c.logger.log('info', 'check_running', fields()), c.heartbeatMs);
    let r: Awaited<ReturnType<typeof runCommand>>;
    try {
      r = await runCommand(check.run, { cwd: c.cwd, env, timeoutSeconds: check.timeout_seconds, timers: c.timers, signal: c.signal, outputTail: OUTPUT_TAIL });
    } finally {
      c.timers.clearInterval(heartbeat);
    }
    const ok = r.code === 0 && !r.timedOut;
    c.logger.log(ok ? 'info' : 'warn', 'check_finished', { ...fields(), ok, exit: r.code ?? r.signal ?? undefined, timed_out: r.timedOut || undefined });
    if (!ok) {
      const why = r.timedOut ? `timed out after ${check.timeout_seconds} s` : r.code !== null ? `exited ${r.code}` : `was killed by ${r.signal ?? 'a signal'}`;
      return { ok: false, check: check.name, message: `check "${check.name}" ${why}:\n${r.output}` };
    }
  }
  return { ok: true };
}
