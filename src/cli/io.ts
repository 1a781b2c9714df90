/**
 * What the CLI is given instead of reaching for `process`: the bin hands over the real process's I/O,
 * tests an in-memory one, and `main` builds each command's Context from it.
 */
import { createLogger, type Context, type LogLevel, type Timers } from '../context.js';

export interface CliIO {
  cwd: string;
  /** The environment of every process the CLI starts (git, checks) and of the hooks' lookups. */
  env: NodeJS.ProcessEnv;
  now: () => Date;
  timers: Timers;
  /** Raw writes: nothing is added (a live terminal line is rewritten in place). */
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  /** Standard input, read whole. */
  stdin: () => Promise<string>;
  /** Whether stdout is a terminal. */
  isTTY: boolean;
  /** The node binary that git hooks start the CLI with. */
  execPath: string;
  /** Calls `listener` on a request to stop (SIGINT, SIGTERM); returns what unsubscribes it. */
  onStop: (listener: () => void) => () => void;
}

export interface GlobalOptions {
  config?: string;
  stateDir?: string;
  logFormat?: 'logfmt' | 'json';
  logLevel?: LogLevel;
}

const line = (text: string) => (text.endsWith('\n') ? text : `${text}\n`);

/** The context a command's core functions run with: log lines on stderr, in the chosen format and level. */
export function commandContext(io: CliIO, g: GlobalOptions): Context {
  return {
    cwd: io.cwd,
    env: io.env,
    now: io.now,
    timers: io.timers,
    logger: createLogger({ format: g.logFormat ?? 'logfmt', minLevel: g.logLevel ?? 'info', now: io.now, write: (l) => io.stderr(line(l)) }),
    stdout: (text) => io.stdout(line(text)),
    stderr: (text) => io.stderr(line(text)),
    stdin: io.stdin,
    isTTY: io.isTTY,
  };
}
