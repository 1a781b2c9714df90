/**
 * Names (`refs/…`, `<sha>^{commit}`, `<ref>^{tree}`…) resolved to object ids by `git cat-file
 * --batch-check`: it answers "missing" per line instead of failing the whole call, and its input is
 * never parsed as options. One-shot (`resolveRevisions`), or through a long-lived process
 * (`CatFileBatch`) at a fraction of a spawn per request: git reads the ref files and rescans the packs
 * on each lookup that needs it, so the process sees ref updates and new packs as they land.
 */
import { errors, type ShadowError } from '../contract/errors.js';
import { SHA } from './guard.js';
import { finished, runGit, startGit, type GitHandle, type StartedProcess } from './runner.js';

const ARGS = ['cat-file', '--batch-check=%(objectname)'];

function requestLines(revs: readonly string[]): string {
  for (const r of revs) if (r === '' || /[\r\n]/.test(r)) throw errors.gitRefused(`revision ${JSON.stringify(r)}`);
  return revs.map((r) => `${r}\n`).join('');
}

/** An answer line: the object id, or `<name> missing` (or `ambiguous`), which is null. */
const answer = (line: string | undefined): string | null => (line !== undefined && SHA.test(line) ? line : null);

/** Resolves names in one spawn; null for each that does not exist. */
export async function resolveRevisions(h: GitHandle, revs: readonly string[]): Promise<(string | null)[]> {
  if (revs.length === 0) return [];
  const lines = (await runGit(h, ARGS, { input: requestLines(revs) })).stdout.split('\n');
  return revs.map((_, i) => answer(lines[i]));
}

interface Running {
  process: StartedProcess;
  /** Answer lines not taken by a request yet, and an unfinished line. */
  lines: string[];
  partial: string;
  exited: boolean;
  wake: () => void;
}

/**
 * A long-lived `cat-file --batch-check` for one owner (an engine's tenure). Each request has the git
 * timeout; a process that timed out, died or was killed is replaced by the next request, and only the
 * request it was answering fails.
 */
export class CatFileBatch {
  private running: Running | null = null;
  private queue: Promise<unknown> = Promise.resolve();

  constructor(private readonly h: GitHandle) {}

  /** The process answering now, if any (tests kill it). */
  get pid(): number | undefined {
    return this.running?.process.pid;
  }

  async resolve(revs: readonly string[]): Promise<(string | null)[]> {
    const request = requestLines(revs);
    const result = this.queue.then(() => this.ask(request, revs.length));
    this.queue = result.catch(() => undefined);
    return result;
  }

  async close(): Promise<void> {
    const r = this.running;
    this.running = null;
    if (r) {
      r.process.stdin.end();
      await r.process.exited;
    }
  }

  /**
   * Writes a request and reads its answers. A process that died before answering any of it — it may
   * have died while idle, unnoticed yet — is replaced and asked once more.
   */
  private async ask(request: string, count: number, retry = true): Promise<(string | null)[]> {
    if (count === 0) return [];
    const reused = this.running !== null && !this.running.exited;
    const r = reused && this.running ? this.running : this.start();
    r.process.stdin.write(request);
    const timer = this.h.timers.setTimeout(() => r.process.kill('timeout'), this.h.timeoutSeconds * 1000);
    try {
      while (r.lines.length < count && !r.exited) await new Promise<void>((wake) => (r.wake = wake));
    } finally {
      this.h.timers.clearTimeout(timer);
    }
    if (r.lines.length >= count) return r.lines.splice(0, count).map(answer);
    if (this.running === r) this.running = null;
    const failure = await finished(this.h, r.process, ARGS).then(
      () => errors.gitFailed(ARGS, 0, 'exited without answering'),
      (e: ShadowError) => e,
    );
    if (retry && reused && r.lines.length === 0 && failure.code === 'E_GIT_FAILED') return this.ask(request, count, false);
    throw failure;
  }

  private start(): Running {
    const child = startGit(this.h, ARGS, { bounded: false });
    const r: Running = { process: child, lines: [], partial: '', exited: false, wake: () => undefined };
    child.stdout.on('data', (d: Buffer) => {
      const text = r.partial + d.toString('utf8');
      const lines = text.split('\n');
      r.partial = lines.pop() ?? '';
      r.lines.push(...lines);
      r.wake();
    });
    void child.exited.then(() => {
      r.exited = true;
      r.wake();
    });
    this.running = r;
    return r;
  }
}
