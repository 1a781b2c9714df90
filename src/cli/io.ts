/** The CLI's side of the I/O: the context handed to core functions, and how results are printed. */
import { createLogger, systemTimers, type Context, type LogLevel } from '../context.js';
import { loadConfig, type LoadedConfig } from '../config/config.js';

export interface GlobalOptions {
  config?: string;
  stateDir?: string;
  logFormat?: 'logfmt' | 'json';
  logLevel?: LogLevel;
}

export function cliContext(opts: GlobalOptions): Context {
  const now = () => new Date();
  return {
    cwd: process.cwd(),
    env: process.env,
    now,
    logger: createLogger({ format: opts.logFormat ?? 'logfmt', minLevel: opts.logLevel ?? 'info', now, write: (line) => process.stderr.write(`${line}\n`) }),
    timers: systemTimers,
    stdout: (text) => void process.stdout.write(text.endsWith('\n') ? text : `${text}\n`),
    stderr: (text) => void process.stderr.write(text.endsWith('\n') ? text : `${text}\n`),
    stdin: readStdin,
    isTTY: Boolean(process.stdout.isTTY),
  };
}

export const loadFor = (ctx: Context, opts: GlobalOptions): LoadedConfig =>
  loadConfig({ cwd: ctx.cwd, configPath: opts.config, stateDir: opts.stateDir });

export function printJson(ctx: Context, data: unknown): void {
  ctx.stdout(JSON.stringify(data, null, 2));
}

/** A plain aligned table for people. */
export function table(rows: readonly (readonly string[])[]): string {
  const widths: number[] = [];
  for (const row of rows) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, cell.length)));
  return rows.map((row) => row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i] ?? 0))).join('  ')).join('\n');
}

export async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}
