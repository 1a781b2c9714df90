/**
 * The I/O a core function receives instead of reaching for globals (as semantic-release's
 * `index(options, context)` does): tests inject a clock, capture logs and output.
 */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
export type LogFields = Record<string, string | number | boolean | null | undefined | readonly string[]>;

export interface Logger {
  log(level: LogLevel, event: string, fields?: LogFields): void;
}

export interface Context {
  cwd: string;
  env: NodeJS.ProcessEnv;
  now: () => Date;
  logger: Logger;
  stdout: (text: string) => void;
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
