/**
 * The scratch worktree `<state_dir>/scratch/`: a detached worktree of the repository, never on a
 * branch, that never commits or pushes. Used only to run `checks` on the would-be merged tree and
 * for `engine: worktree`. Objects it needs or makes go to the evaluation's temporary object
 * directory, so the repository's store gains nothing. Recreated from scratch by each new process,
 * which also cleans up after a crash.
 */
import { spawn } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { addScratchWorktree, inScratch, openGit, pruneWorktrees, type GitHandle } from '../git/index.js';
import type { Check } from '../config/config.js';

const OUTPUT_TAIL = 4096;

export class ScratchWorktree {
  private ready = false;

  constructor(
    private readonly repoDir: string,
    readonly dir: string,
  ) {}

  /** A handle for git inside the scratch worktree, with the evaluation's object directory. */
  async open(mainSha: string, objects: { dir: string; alternate: string }): Promise<GitHandle> {
    if (!this.ready) {
      const repo = openGit(this.repoDir, { scratch: this.dir, objects });
      if (existsSync(this.dir)) rmSync(this.dir, { recursive: true, force: true });
      await pruneWorktrees(repo);
      await addScratchWorktree(repo, mainSha);
      this.ready = true;
    }
    return openGit(this.dir, { scratch: this.dir, objects });
  }

  /** Puts `tree` in the scratch worktree's index and files. */
  async materialize(h: GitHandle, tree: string): Promise<void> {
    await inScratch(h, ['read-tree', '--reset', '-u', tree]);
    await inScratch(h, ['clean', '-fdxq']);
  }

  /** Runs the checks in order; the first failure is returned with the tail of its output. */
  async runChecks(checks: readonly Check[], env: NodeJS.ProcessEnv): Promise<{ ok: true } | { ok: false; check: string; message: string }> {
    for (const check of checks) {
      const r = await runCommand(check.run, this.dir, check.timeout_seconds * 1000, env);
      if (r.code !== 0) {
        const why = r.timedOut ? `timed out after ${check.timeout_seconds} s` : `exited ${r.code ?? r.signal}`;
        return { ok: false, check: check.name, message: `check "${check.name}" ${why}:\n${r.output}` };
      }
    }
    return { ok: true };
  }
}

/** `sh -c` in its own process group, so a timeout kills everything it started. */
function runCommand(command: string, cwd: string, timeoutMs: number, env: NodeJS.ProcessEnv): Promise<{ code: number | null; signal: string | null; timedOut: boolean; output: string }> {
  return new Promise((resolve) => {
    const child = spawn('sh', ['-c', command], { cwd, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    const keep = (d: Buffer) => {
      output = (output + d.toString()).slice(-OUTPUT_TAIL);
    };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      try {
        process.kill(-(child.pid as number), 'SIGKILL');
      } catch {
        // already gone
      }
    }, timeoutMs);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, timedOut, output });
    });
  });
}
