/**
 * The scratch worktree `<state_dir>/scratch/`: a detached linked worktree of the repository, never on
 * a branch, that never commits or pushes. Used only to run `checks` on the would-be merged tree and
 * for `engine: worktree`. The objects it needs or makes live in the evaluation's temporary object
 * directory, so the repository's store gains nothing; before that directory goes away the worktree is
 * put back on main's tip, so its index never points at objects that no longer exist.
 *
 * Created lazily, then reused between candidates. The first use in a process recreates it from
 * nothing, whatever a crash left behind (a half-done merge, an index.lock, a stale registration);
 * later uses recreate it only when it or its registration is gone.
 */
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Check } from '../config/config.js';
import type { Logger } from '../context.js';
import type { CandidateRef } from '../contract/types.generated.js';
import { errors } from '../contract/errors.js';
import { addScratchWorktree, linkedWorktreeAdmin, openGit, resetScratch, scratchCommandEnv, type GitHandle, type ObjectDirectories } from '../git/index.js';

/** How much of a failing check's output the outcome keeps (its end, where errors are). */
const OUTPUT_TAIL = 4096;

export class ScratchWorktree {
  private recreated = false;
  /** One evaluation at a time: the scratch worktree has a single index and HEAD. */
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly repoDir: string,
    private readonly commonDir: string,
    readonly dir: string,
  ) {}

  /**
   * Runs `fn` with a git handle inside the scratch worktree, which is on `mainSha` with nothing else
   * in it, and with `objects` as where new objects go; puts it back on `mainSha` afterwards.
   */
  use<T>(mainSha: string, objects: ObjectDirectories, fn: (h: GitHandle) => Promise<T>): Promise<T> {
    const result = this.queue.then(async () => {
      const h = await this.open(mainSha, objects);
      try {
        return await fn(h);
      } finally {
        // A worktree that could not be put back is rebuilt by the next use.
        await resetScratch(h, mainSha).catch(() => (this.recreated = false));
      }
    });
    this.queue = result.catch(() => undefined);
    return result;
  }

  /** The scratch worktree on `mainSha` and clean: reused when it can be, rebuilt when it cannot. */
  private async open(mainSha: string, objects: ObjectDirectories): Promise<GitHandle> {
    const admin = linkedWorktreeAdmin(this.dir, this.commonDir);
    if (this.recreated && admin !== null && existsSync(join(admin, 'HEAD'))) {
      const h = openGit(this.dir, { scratch: this.dir, objects });
      if (await resetScratch(h, mainSha).then(() => true, () => false)) return h;
    }
    this.removeDir();
    await addScratchWorktree(openGit(this.repoDir, { scratch: this.dir }), mainSha);
    this.recreated = true;
    const h = openGit(this.dir, { scratch: this.dir, objects });
    await resetScratch(h, mainSha);
    return h;
  }

  /** Deletes the scratch directory, but only when it is empty or a worktree of this repository: never someone's files. */
  private removeDir(): void {
    if (!existsSync(this.dir)) return;
    if (readdirSync(this.dir).length > 0 && linkedWorktreeAdmin(this.dir, this.commonDir) === null) {
      throw errors.stateDirUnusable(this.dir, 'it is not empty and not a scratch worktree of this repository; not deleting it');
    }
    rmSync(this.dir, { recursive: true, force: true });
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

/**
 * Runs the checks in order in `cwd`; the first failure, with the tail of its output. Logs
 * `check_started` for each, `check_running` every `heartbeatMs` while it runs and `check_finished`
 * (the only way to see, during a long check, that the integrator is not stuck).
 */
export async function runChecks(checks: readonly Check[], cwd: string, objects: ObjectDirectories, progress: ChecksProgress): Promise<ChecksResult> {
  const env = scratchCommandEnv(objects);
  const { slug, branch, sha } = progress.candidate;
  for (const check of checks) {
    const started = Date.now();
    const fields = () => ({ slug, branch, sha, check: check.name, elapsed_s: Math.round((Date.now() - started) / 1000) });
    progress.logger.log('info', 'check_started', { slug, branch, sha, check: check.name, timeout_s: check.timeout_seconds });
    const heartbeat = setInterval(() => progress.logger.log('info', 'check_running', fields()), progress.heartbeatMs);
    let r: CommandResult;
    try {
      r = await runCommand(check.run, cwd, check.timeout_seconds * 1000, env);
    } finally {
      clearInterval(heartbeat);
    }
    const ok = r.code === 0 && !r.timedOut;
    progress.logger.log(ok ? 'info' : 'warn', 'check_finished', { ...fields(), ok, exit: r.code ?? r.signal ?? undefined, timed_out: r.timedOut || undefined });
    if (!ok) {
      const why = r.timedOut ? `timed out after ${check.timeout_seconds} s` : r.code !== null ? `exited ${r.code}` : `was killed by ${r.signal ?? 'a signal'}`;
      return { ok: false, check: check.name, message: `check "${check.name}" ${why}:\n${r.output}` };
    }
  }
  return { ok: true };
}

interface CommandResult {
  code: number | null;
  signal: string | null;
  timedOut: boolean;
  output: string;
}

/**
 * `sh -c` in its own process group. On timeout the whole group is killed; when the shell exits,
 * whatever it left running in the background is killed too (it would hold the output pipes open
 * and outlive the candidate).
 */
function runCommand(command: string, cwd: string, timeoutMs: number, env: NodeJS.ProcessEnv): Promise<CommandResult> {
  return new Promise((resolvePromise) => {
    const child = spawn('sh', ['-c', command], { cwd, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    let tail = Buffer.alloc(0);
    const keep = (d: Buffer) => {
      tail = Buffer.concat([tail, d]);
      if (tail.length > 2 * OUTPUT_TAIL) tail = tail.subarray(-OUTPUT_TAIL);
    };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    const killGroup = () => {
      try {
        if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
      } catch {
        // the group is already gone
      }
    };
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      killGroup();
    }, timeoutMs);
    child.on('exit', killGroup);
    child.on('error', (e) => {
      clearTimeout(timer);
      resolvePromise({ code: null, signal: null, timedOut: false, output: e.message });
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolvePromise({ code, signal, timedOut, output: tail.subarray(-OUTPUT_TAIL).toString('utf8') });
    });
  });
}
