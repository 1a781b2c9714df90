/**
 * Would-be merges through `git merge-tree --stdin`: one process for many merges, each line
 * `<ours> <theirs>`, each answer a record (see `parseMergeTreeStdin`). The objects it writes go to the
 * handle's object directory (a temporary one: the guard refuses merge-tree without it).
 *
 * git 2.39 to 2.48 write nothing until stdin is closed (merge-tree flushes record by record only since
 * git 2.49), so there a call is one process: all its lines, stdin closed, every record. From 2.49 on
 * (`longLived`) one process serves call after call. Either way a bad pair (an unknown commit, unrelated
 * histories) makes git die in the middle: the records before it stand, it gets git's error, and the
 * pairs after it go to a new process — one bad pair fails only itself.
 */
import { errors, type ShadowError } from '../contract/errors.js';
import { assertSha } from './guard.js';
import { parseMergeTreeStdin, type MergeResult } from './parse.js';
import { finished, startGit, type GitHandle, type StartedProcess } from './runner.js';

export type MergePair = readonly [ours: string, theirs: string];
export type MergeOutcome = { ok: true; result: MergeResult } | { ok: false; error: ShadowError };

const ARGS = ['merge-tree', '--stdin', '--name-only'];

interface Running {
  process: StartedProcess;
  /** Output not yet parsed into records. */
  pending: Buffer;
  records: MergeResult[];
  /** Set when git wrote something that is not a record: it was stopped. */
  malformed: ShadowError | null;
  /** Wakes the call waiting on this process (new records, or its exit). */
  wake: () => void;
}

export class MergeTrees {
  private running: Running | null = null;
  /** One call at a time: records answer lines in order. */
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly h: GitHandle,
    private readonly longLived: boolean,
  ) {}

  /** The merge of each pair, in order. Rejects only when a pair is refused or the call was cancelled. */
  async merge(pairs: readonly MergePair[]): Promise<MergeOutcome[]> {
    for (const [ours, theirs] of pairs) {
      assertSha(ours);
      assertSha(theirs);
    }
    const result = this.queue.then(async () => {
      const out: MergeOutcome[] = [];
      while (out.length < pairs.length) out.push(...(await this.run(pairs.slice(out.length))));
      return out;
    });
    this.queue = result.catch(() => undefined);
    return result;
  }

  /** Ends a long-lived process once the calls in flight are answered; a later call starts a new one. */
  async close(): Promise<void> {
    await this.queue;
    const r = this.running;
    this.running = null;
    if (r) await r.process.finish();
  }

  /**
   * Results for a prefix of `pairs`: all of them, or those before the one that failed, then its error.
   * A long-lived process that died before answering anything of this call — it may have died while
   * idle, unnoticed yet — is replaced and asked once more.
   */
  private async run(pairs: readonly MergePair[], retry = true): Promise<MergeOutcome[]> {
    const reused = this.running !== null;
    const r = this.running ?? this.start();
    r.process.holdOpen(true);
    r.records = [];
    r.process.stdin.write(pairs.map(([ours, theirs]) => `${ours} ${theirs}\n`).join(''));
    if (!this.longLived) r.process.stdin.end();
    let exited = false;
    void r.process.exited.then(() => {
      exited = true;
      r.wake();
    });
    // A long-lived process has no deadline of its own: each call gets the git timeout.
    const timer = this.longLived ? this.h.timers.setTimeout(() => r.process.kill('timeout'), this.h.timeoutSeconds * 1000) : null;
    try {
      while (r.records.length < pairs.length && !exited) await new Promise<void>((wake) => (r.wake = wake));
    } finally {
      if (timer !== null) this.h.timers.clearTimeout(timer);
    }
    const done: MergeOutcome[] = r.records.splice(0, pairs.length).map((result) => ({ ok: true, result }));
    if (!exited && this.longLived) {
      r.process.holdOpen(false);
      return done;
    }
    this.running = null;
    const failure =
      r.malformed ??
      (await finished(this.h, r.process, ARGS).then(
        () => (done.length < pairs.length ? errors.gitFailed(ARGS, 0, `no answer for ${pairs[done.length]?.join(' ')}`) : null),
        (e: ShadowError) => e,
      ));
    if (failure?.code === 'E_CANCELLED') throw failure;
    if (retry && reused && done.length === 0 && failure?.code === 'E_GIT_FAILED') return this.run(pairs, false);
    return failure && done.length < pairs.length ? [...done, { ok: false, error: failure }] : done;
  }

  private start(): Running {
    const child = startGit(this.h, ARGS, { bounded: !this.longLived });
    const r: Running = { process: child, pending: Buffer.alloc(0), records: [], malformed: null, wake: () => undefined };
    child.stdout.on('data', (d: Buffer) => {
      r.pending = Buffer.concat([r.pending, d]);
      try {
        const { results, consumed } = parseMergeTreeStdin(r.pending);
        r.pending = r.pending.subarray(consumed);
        r.records.push(...results);
      } catch (e) {
        // Output that is not a record: git is not answering as this module reads it; stop it.
        r.malformed ??= e as ShadowError;
        child.kill('cancelled');
      }
      r.wake();
    });
    if (this.longLived) this.running = r;
    return r;
  }
}
