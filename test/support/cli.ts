/**
 * The CLI in tests. `cli` runs `main` in this process with in-memory I/O: the exit code, stdout and
 * stderr exactly as a process would give them, at the cost of a function call. `startCli`/`runCli`
 * start the real bin as a child process: for tests where the process boundary is what is proved
 * (kill -9, lease races between processes, hooks, the bin itself).
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { systemTimers, type Timers } from '../../src/context.js';
import { testEnv } from './env.js';

/** The compiled bin, found from this compiled file (dist/test/support/cli.js). */
export const CLI = fileURLToPath(new URL('../../src/cli/bin.js', import.meta.url));

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface CliOptions {
  /** Added to the test environment (testEnv). */
  env?: NodeJS.ProcessEnv;
  stdin?: string;
  now?: () => Date;
  timers?: Timers;
  isTTY?: boolean;
  /** Aborting it is SIGINT/SIGTERM for the command (watch, drain). */
  stop?: AbortSignal;
}

/** `shadow-integrator <args>` in `cwd`, in process. */
export async function cli(cwd: string, args: readonly string[], opts: CliOptions = {}): Promise<CliResult> {
  let stdout = '';
  let stderr = '';
  // Loaded on first use: a test file that never runs the CLI in process does not load every command.
  const { main } = await import('../../src/cli/main.js');
  const code = await main(args, {
    cwd,
    env: testEnv(opts.env),
    now: opts.now ?? (() => new Date()),
    timers: opts.timers ?? systemTimers,
    stdout: (text) => void (stdout += text),
    stderr: (text) => void (stderr += text),
    stdin: () => Promise.resolve(opts.stdin ?? ''),
    isTTY: opts.isTTY ?? false,
    execPath: process.execPath,
    onStop: (listener) => {
      const stop = opts.stop;
      if (!stop) return () => undefined;
      if (stop.aborted) queueMicrotask(listener);
      stop.addEventListener('abort', listener, { once: true });
      return () => stop.removeEventListener('abort', listener);
    },
  });
  return { code, stdout, stderr };
}

/** Runs the CLI in process, which must succeed, and parses its JSON output (`--json` is added). */
export async function cliJson<T>(cwd: string, args: readonly string[], opts: CliOptions = {}): Promise<T> {
  const r = await cli(cwd, [...args, '--json'], opts);
  assert.equal(r.code, 0, `shadow-integrator ${args.join(' ')} exited ${r.code}: ${r.stderr}`);
  return JSON.parse(r.stdout) as T;
}

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** The bin as a child process, in the test environment plus `env`. */
export function startCli(cwd: string, args: readonly string[], env: NodeJS.ProcessEnv = {}): ChildProcess {
  return spawn(process.execPath, [CLI, ...args], { cwd, env: testEnv(env), stdio: ['pipe', 'pipe', 'pipe'] });
}

/** Collects a child's output until it exits; `input` is written to its stdin (which is then closed). */
export function finished(child: ChildProcess, input?: string): Promise<RunResult> {
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  child.stdin?.end(input);
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

/** One drain of a drain loop: its exit code and its `--json` report. */
export interface LoopedDrain {
  code: number;
  report: { status: string; epoch?: number; decided?: number };
}

export interface DrainLoop {
  child: ChildProcess;
  /** Each drain so far, in order. */
  drains: LoopedDrain[];
  /** Resolves when the process exits (stopped, killed, or failed). */
  done: Promise<RunResult>;
  /** Asks it to stop after the drain under way (once it made its least number); resolves when it exited. */
  stop(): Promise<RunResult>;
}

const DRAIN_LOOP = fileURLToPath(new URL('./drain-loop.js', import.meta.url));

/**
 * A child process that runs `drain --json` again and again (drain-loop.ts), `pauseMs` apart, at
 * least `least` times: a contender for the lease that stays one process across its drains.
 */
export function startDrainLoop(cwd: string, opts: { pauseMs: number; least?: number; args?: readonly string[]; env?: NodeJS.ProcessEnv }): DrainLoop {
  const child = spawn(process.execPath, [DRAIN_LOOP, String(opts.pauseMs), String(opts.least ?? 0), ...(opts.args ?? [])], { cwd, env: testEnv(opts.env), stdio: ['pipe', 'pipe', 'pipe'] });
  const drains: LoopedDrain[] = [];
  let pending = '';
  child.stdout.on('data', (d: Buffer) => {
    const lines = (pending + d.toString()).split('\n');
    pending = lines.pop() ?? '';
    for (const l of lines) drains.push(JSON.parse(l) as LoopedDrain);
  });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const done = new Promise<RunResult>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stdout: drains.map((r) => JSON.stringify(r)).join('\n'), stderr }));
  });
  return {
    child,
    drains,
    done,
    stop: () => {
      child.stdin.end();
      return done;
    },
  };
}

export const runCli = (cwd: string, args: readonly string[], input?: string, env?: NodeJS.ProcessEnv): Promise<RunResult> => finished(startCli(cwd, args, env), input);

/**
 * Runs `drain --json` until it reports idle (a lease may first have to be released or expire): the
 * step that finishes a test's queue, in process — what is proved of processes comes before it;
 * `args` go before the command (`--state-dir`…), `env` is added to the test environment.
 */
export async function drainToEnd(cwd: string, opts: { maxRounds?: number; args?: readonly string[]; env?: NodeJS.ProcessEnv } = {}): Promise<void> {
  for (let i = 0; i < (opts.maxRounds ?? 60); i++) {
    const r = await cli(cwd, [...(opts.args ?? []), 'drain', '--json'], opts.env ? { env: opts.env } : {});
    assert.equal(r.code, 0, r.stderr);
    const status = (JSON.parse(r.stdout) as { status: string }).status;
    if (status === 'idle') return;
    if (status === 'lease_busy') await sleep(200);
  }
  throw new Error('the queue did not drain');
}

export const sleep = (ms: number) => new Promise<void>((res) => setTimeout(res, ms));

/** Polls until `cond` holds; the timeout only turns a hang into a failure with a name. */
export async function waitFor(cond: () => boolean, what: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}
