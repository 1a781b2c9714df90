/**
 * The I/O a core function receives instead of reaching for globals (as semantic-release's
 * `index(options, context)` does): tests inject a clock, timers, environment and streams, and run
 * commands in process.
 */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
export type LogFields = Record<string, string | number | boolean | null | undefined | readonly string[]>;

export interface Logger {
  log(level: LogLevel, event: string, fields?: LogFields): void;
}

/** An opaque timer handle: whatever the Timers implementation hands out. */
export type TimerHandle = unknown;

/**
 * Scheduling, injected so that no test depends on machine speed: a test drives a fake implementation
 * (lease renewal, grace waits, polling) by hand instead of waiting for real time to pass.
 */
export interface Timers {
  setTimeout(fn: () => void, ms: number): TimerHandle;
  clearTimeout(handle: TimerHandle): void;
  setInterval(fn: () => void, ms: number): TimerHandle;
  clearInterval(handle: TimerHandle): void;
}

export const systemTimers: Timers = {
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout),
  setInterval: (fn, ms) => setInterval(fn, ms),
  clearInterval: (h) => clearInterval(h as NodeJS.Timeout),
};

export interface Context {
  cwd: string;
  /** The environment child processes (git, checks) start from; never read from process.env directly. */
  env: NodeJS.ProcessEnv;
  now: () => Date;
  timers: Timers;
  logger: Logger;
  /** Writes one piece of output (a newline is added when missing). */
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  /** Standard input, read whole (emit --stdin, hooks receive). */
  stdin: () => Promise<string>;
  /** Whether stdout is a terminal (live summary lines, colour). */
  isTTY: boolean;
}

/**
 * One line per happening on stderr: logfmt (`ts=… level=… event=… slug=…`) so that
 * `grep 'outcome=would_block'` works, or JSON for machines.
 */
export function createLogger(opts: { format: 'logfmt' | 'json'; write: (line: string) => void; now: () => Date; minLevel?: LogLevel }): Logger {
  const order: Record<LogLevel, number> = { debug: 0, info: 1, warn: 2, error: 3 };
  const min = order[opts.minLevel ?? 'info'];
  return {
    log(level, event, fields = {}) {
      if (order[level] < min) return;
      const record: LogFields = { ts: opts.now().toISOString(), level, event, ...fields };
      opts.write(opts.format === 'json' ? JSON.stringify(record) : logfmt(record));
    },
  };
}

function logfmt(record: LogFields): string {
  const parts: string[] = [];
  for (const [k, v] of Object.entries(record)) {
    if (v === undefined) continue;
    const s = Array.isArray(v) ? v.join(',') : String(v);
    parts.push(`${k}=${/^[^\s"=\\]+$/.test(s) ? s : JSON.stringify(s)}`);
  }
  return parts.join(' ');
}

export const silentLogger: Logger = { log() {} };

/** A context that prints nothing and reads no input: the base of test and benchmark contexts. */
export function quietContext(overrides: Partial<Context> & Pick<Context, 'cwd'>): Context {
  return {
    env: {},
    now: () => new Date(),
    timers: systemTimers,
    logger: silentLogger,
    stdout: () => undefined,
    stderr: () => undefined,
    stdin: () => Promise.resolve(''),
    isTTY: false,
    ...overrides,
  };
}
