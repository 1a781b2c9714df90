/**
 * The only code in src/ that starts a process (a lint rule holds it to that): every git call and every
 * `checks` command, with one policy each for
 * - the environment: the caller's (the Context's, never process.env), through `processEnvironment`;
 * - time: a deadline per process (`git_timeout_seconds` for git, the check's own `timeout_seconds`),
 *   or per request for a long-lived process; past it the process and everything it started is killed;
 * - exit codes: the codes a call expects are answers, any other exit is E_GIT_FAILED with git's
 *   message, a deadline E_GIT_TIMEOUT, a cancelled evaluation E_CANCELLED.
 * Every git call passes `assertAllowed` first: refused before anything is spawned.
 *
 * Two ways to start git, by what the call may start in turn:
 * - simple-git runs the one-shot calls that start no other program (`startsNoOtherProgram`: version,
 *   merge-base, log, rev-list, cat-file, commit-graph), so that stopping git stops all of it; its abort
 *   signal carries the deadline. No `allowUnsafe*` flag is set: these calls need no `-c` setting, and
 *   the environment is already ours (every key of it is named in `allowEnvironment`).
 * - everything else — calls that may run merge drivers, filters, a fetch's transport or credential
 *   helpers, calls streamed on stdin, long-lived batch processes, and checks — is spawned here in a
 *   process group of its own, which a deadline kills whole (simple-git cannot start a process group:
 *   its spawn options pass only uid and gid). When the leader exits, the rest of its group is killed
 *   too: nothing a merge driver or a check left in the background outlives it.
 */
import { spawn, type ChildProcessByStdio } from 'node:child_process';
import { resolve } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { GitError, simpleGit } from 'simple-git';
import type { Timers } from '../context.js';
import { errors } from '../contract/errors.js';
import { alternatesList, processEnvironment, type Env } from './env.js';
import { assertAllowed, startsNoOtherProgram, type GuardedHandle } from './guard.js';

/** What every git handle of one owner (an engine, a report) shares. */
export interface GitSettings {
  /** The environment processes start from (the Context's). */
  env: NodeJS.ProcessEnv;
  /** `git_timeout_seconds`. */
  timeoutSeconds: number;
  timers: Timers;
  /** Aborted: every process of these settings is killed, and its call fails with E_CANCELLED. */
  signal?: AbortSignal | undefined;
}

export interface GitHandle extends GuardedHandle {
  readonly env: Env;
  readonly timeoutSeconds: number;
  readonly timers: Timers;
  readonly signal: AbortSignal | undefined;
}

export interface HandleOptions {
  /** The scratch repository's top level (see `GuardedHandle`). */
  scratch?: string | null;
  /** Where new objects go (GIT_OBJECT_DIRECTORY); the repository's store is then among `alternates`. */
  objectDir?: string | null;
  /** Object directories read besides the primary one: the repository's store, the commit-graph's directory… */
  alternates?: readonly string[];
  /**
   * The repository's git directory, when `cwd` is not in the repository but a directory of the tool's
   * own: git then reads the repository through GIT_DIR, with `cwd` as its work tree (GIT_WORK_TREE),
   * so that what git or a program it starts writes in its current directory — a merge driver's
   * temporary files — and the work tree's `.gitattributes` git reads are the tool's, never the
   * canonical worktree's.
   */
  gitDir?: string | null;
}

/**
 * A handle for git calls in `cwd`. In the scratch repository, GIT_DIR and GIT_WORK_TREE name it
 * explicitly: were its `.git` gone, git fails instead of finding an enclosing repository.
 */
export function openGit(cwd: string, settings: GitSettings, opts: HandleOptions = {}): GitHandle {
  const dir = resolve(cwd);
  const scratch = opts.scratch ? resolve(opts.scratch) : null;
  // The C locale: git's messages are parsed.
  const extra: Record<string, string> = { LC_ALL: 'C' };
  if (opts.objectDir) extra.GIT_OBJECT_DIRECTORY = opts.objectDir;
  if (opts.alternates?.length) extra.GIT_ALTERNATE_OBJECT_DIRECTORIES = alternatesList(opts.alternates);
  if (scratch !== null && scratch === dir) Object.assign(extra, { GIT_DIR: `${scratch}/.git`, GIT_WORK_TREE: scratch });
  else if (opts.gitDir) Object.assign(extra, { GIT_DIR: resolve(opts.gitDir), GIT_WORK_TREE: dir });
  return {
    cwd: dir,
    scratch,
    objectDir: opts.objectDir ?? null,
    env: processEnvironment(settings.env, extra),
    timeoutSeconds: settings.timeoutSeconds,
    timers: settings.timers,
    signal: settings.signal,
  };
}

/**
 * `-c` settings of every git this module spawns itself: no hooks, no automatic gc or maintenance, no
 * rerere (a merge in the scratch repository would otherwise record its conflicts), and no fsmonitor:
 * every command that reads an index (diff-tree and fetch do, in the canonical repository) would
 * otherwise run the `core.fsmonitor` program in the canonical worktree.
 */
const CONFIG = ['core.hooksPath=/dev/null', 'core.fsmonitor=false', 'gc.auto=0', 'maintenance.auto=false', 'rerere.enabled=false', 'advice.detachedHead=false'].flatMap((c) => ['-c', c]);

export interface GitOutput {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs one allowed git call to its end; exit codes other than `ok` throw (see the file comment). */
export async function runGit(h: GitHandle, args: readonly string[], opts: { ok?: readonly number[]; input?: string } = {}): Promise<GitOutput> {
  assertAllowed(h, args);
  const ok = opts.ok ?? [0];
  if (startsNoOtherProgram(args)) return viaSimpleGit(h, args, ok, opts.input);
  const p = startGit(h, args, { bounded: true });
  if (opts.input !== undefined) p.stdin.end(opts.input);
  else p.stdin.end();
  const [stdout] = await Promise.all([collect(p.stdout), p.exited]);
  return { ...(await finished(h, p, args, ok)), stdout: stdout.toString('utf8') };
}

/** A non-zero exit as simple-git reports it, kept whole: simple-git otherwise drops the exit code. */
class GitExit extends GitError {
  constructor(
    readonly exitCode: number,
    readonly stdout: string,
    readonly stderr: string,
  ) {
    super(undefined, stderr || `exit ${exitCode}`);
  }
}

async function viaSimpleGit(h: GitHandle, args: readonly string[], ok: readonly number[], input: string | undefined): Promise<GitOutput> {
  if (h.signal?.aborted) throw errors.cancelled(`git ${args[0] ?? ''}`);
  const controller = new AbortController();
  let timedOut = false;
  const timer = h.timers.setTimeout(() => {
    timedOut = true;
    controller.abort();
  }, h.timeoutSeconds * 1000);
  const cancel = () => controller.abort();
  h.signal?.addEventListener('abort', cancel);
  try {
    const git = simpleGit({
      baseDir: h.cwd,
      abort: controller.signal,
      allowEnvironment: Object.keys(h.env),
      // Done when the pipes close, never a fixed time after the exit: a large output is read whole.
      completion: { onClose: true, onExit: false },
      errors: (error, result) => (result.exitCode > 0 ? new GitExit(result.exitCode, Buffer.concat(result.stdOut).toString('utf8'), Buffer.concat(result.stdErr).toString('utf8')) : error),
      ...(input === undefined ? {} : { input: () => input }),
    }).env({ ...h.env });
    return { code: 0, stdout: await git.raw([...args]), stderr: '' };
  } catch (e) {
    if (timedOut) throw errors.gitTimedOut(args, h.timeoutSeconds);
    if (h.signal?.aborted) throw errors.cancelled(`git ${args[0] ?? ''}`);
    if (e instanceof GitExit && ok.includes(e.exitCode)) return { code: e.exitCode, stdout: e.stdout, stderr: e.stderr };
    if (e instanceof GitExit) throw errors.gitFailed(args, e.exitCode, e.stderr || e.stdout);
    throw errors.gitFailed(args, null, (e as Error).message);
  } finally {
    h.timers.clearTimeout(timer);
    h.signal?.removeEventListener('abort', cancel);
  }
}

export interface ProcessExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** Why this module killed it, if it did. */
  killed: 'timeout' | 'cancelled' | null;
  /** The spawn itself failed (no such program). */
  error: Error | null;
}

/** A process running in a process group of its own. */
export interface StartedProcess {
  readonly pid: number | undefined;
  readonly stdin: Writable;
  readonly stdout: Readable;
  readonly stderrStream: Readable;
  /** The end of what it wrote on stderr so far. */
  stderr(): string;
  /** Settles once it has exited and its pipes are closed; never rejects. */
  readonly exited: Promise<ProcessExit>;
  /** Kills it and everything it started (its process group). */
  kill(why: 'timeout' | 'cancelled'): void;
  /**
   * Whether it may keep this process alive: a long-lived process waiting for its next request does
   * not (one left unclosed must not hold the tool open); one answering a request does.
   */
  holdOpen(hold: boolean): void;
  /** Closes its stdin (a long-lived process's "no more requests") and waits for it to exit, held open meanwhile. */
  finish(): Promise<ProcessExit>;
}

/** How much of stderr is kept: git's message is at its end. */
const STDERR_TAIL = 64 * 1024;

function spawnGroup(command: string, args: readonly string[], opts: { cwd: string; env: Env; signal: AbortSignal | undefined }): StartedProcess {
  const child: ChildProcessByStdio<Writable, Readable, Readable> = spawn(command, args, { cwd: opts.cwd, env: { ...opts.env }, detached: true, stdio: ['pipe', 'pipe', 'pipe'] });
  let killed: ProcessExit['killed'] = null;
  let err = Buffer.alloc(0);
  child.stderr.on('data', (d: Buffer) => {
    err = Buffer.concat([err, d]);
    if (err.length > 2 * STDERR_TAIL) err = err.subarray(-STDERR_TAIL);
  });
  // A process may exit before reading all its input: its exit says what happened, not EPIPE.
  child.stdin.on('error', () => undefined);
  const killGroup = () => {
    try {
      if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
    } catch {
      // the group is gone already
    }
  };
  const kill = (why: 'timeout' | 'cancelled') => {
    killed ??= why;
    killGroup();
  };
  const cancel = () => kill('cancelled');
  opts.signal?.addEventListener('abort', cancel);
  if (opts.signal?.aborted) cancel();
  child.on('exit', killGroup);
  const exited = new Promise<ProcessExit>((resolvePromise) => {
    child.on('error', (error) => {
      opts.signal?.removeEventListener('abort', cancel);
      resolvePromise({ code: null, signal: null, killed, error });
    });
    child.on('close', (code, signal) => {
      opts.signal?.removeEventListener('abort', cancel);
      resolvePromise({ code, signal, killed, error: null });
    });
  });
  const holdOpen = (hold: boolean) => {
    for (const handle of [child, child.stdin, child.stdout, child.stderr] as unknown as { ref(): void; unref(): void }[]) {
      if (hold) handle.ref();
      else handle.unref();
    }
  };
  const finish = () => {
    // Held while it ends: nothing else may be keeping this process alive for the wait.
    holdOpen(true);
    child.stdin.end();
    return exited;
  };
  return { pid: child.pid, stdin: child.stdin, stdout: child.stdout, stderrStream: child.stderr, stderr: () => err.subarray(-STDERR_TAIL).toString('utf8'), exited, kill, holdOpen, finish };
}

/**
 * Starts an allowed git call in a process group of its own. `bounded`: the whole process has the git
 * timeout; otherwise (a long-lived process) the caller bounds each request and kills it on expiry.
 */
export function startGit(h: GitHandle, args: readonly string[], opts: { bounded: boolean }): StartedProcess {
  assertAllowed(h, args);
  if (h.signal?.aborted) throw errors.cancelled(`git ${args[0] ?? ''}`);
  const p = spawnGroup('git', [...CONFIG, ...args], { cwd: h.cwd, env: h.env, signal: h.signal });
  if (opts.bounded) {
    const timer = h.timers.setTimeout(() => p.kill('timeout'), h.timeoutSeconds * 1000);
    void p.exited.then(() => h.timers.clearTimeout(timer));
  }
  // Ending a long-lived one is bounded too: one that does not exit once its stdin is closed is killed.
  const finish = async () => {
    const timer = h.timers.setTimeout(() => p.kill('timeout'), h.timeoutSeconds * 1000);
    const exit = await p.finish();
    h.timers.clearTimeout(timer);
    return exit;
  };
  return { ...p, finish };
}

/** Waits for a started git; its exit code when one of `ok`, else the error the exit-code policy gives. */
export async function finished(h: GitHandle, p: StartedProcess, args: readonly string[], ok: readonly number[] = [0]): Promise<{ code: number; stderr: string }> {
  const exit = await p.exited;
  const stderr = p.stderr();
  if (exit.killed === 'timeout') throw errors.gitTimedOut(args, h.timeoutSeconds);
  if (exit.killed === 'cancelled') throw errors.cancelled(`git ${args[0] ?? ''}`);
  if (exit.error) throw errors.gitFailed(args, null, exit.error.message);
  if (exit.code !== null && ok.includes(exit.code)) return { code: exit.code, stderr };
  throw errors.gitFailed(args, exit.code, stderr || (exit.signal ? `killed by ${exit.signal}` : ''));
}

/** Everything a stream carries, once it ends. */
export function collect(stream: Readable): Promise<Buffer> {
  return new Promise((resolvePromise) => {
    const chunks: Buffer[] = [];
    stream.on('data', (d: Buffer) => chunks.push(d));
    stream.on('close', () => resolvePromise(Buffer.concat(chunks)));
  });
}

export interface CommandResult {
  code: number | null;
  signal: string | null;
  timedOut: boolean;
  /** The end of its output (stdout and stderr interleaved). */
  output: string;
}

/**
 * Runs a user's command (`sh -c`, a check) in a process group of its own, with its own timeout; the
 * end of its output is kept. A cancelled evaluation kills it and throws E_CANCELLED.
 */
export async function runCommand(command: string, opts: { cwd: string; env: Env; timeoutSeconds: number; timers: Timers; signal?: AbortSignal | undefined; outputTail: number }): Promise<CommandResult> {
  const p = spawnGroup('sh', ['-c', command], { cwd: opts.cwd, env: opts.env, signal: opts.signal });
  p.stdin.end();
  let tail = Buffer.alloc(0);
  const keep = (d: Buffer) => {
    tail = Buffer.concat([tail, d]);
    if (tail.length > 2 * opts.outputTail) tail = tail.subarray(-opts.outputTail);
  };
  p.stdout.on('data', keep);
  p.stderrStream.on('data', keep);
  const timer = opts.timers.setTimeout(() => p.kill('timeout'), opts.timeoutSeconds * 1000);
  const exit = await p.exited;
  opts.timers.clearTimeout(timer);
  if (exit.killed === 'cancelled') throw errors.cancelled(`check ${JSON.stringify(command)}`);
  const output = exit.error ? exit.error.message : tail.subarray(-opts.outputTail).toString('utf8');
  return { code: exit.code, signal: exit.signal, timedOut: exit.killed === 'timeout', output };
}
