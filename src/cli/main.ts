#!/usr/bin/env node
/**
 * The command line: parse arguments, call one core function with its I/O, print, map errors to exit
 * codes (0 success, 1 runtime failure, 2 usage or configuration error, 3 parity gate). Nothing else.
 */
import { Command, CommanderError, Option } from 'commander';
import { readFileSync } from 'node:fs';
import { init } from '../config/init.js';
import type { Context } from '../context.js';
import { errors, isShadowError } from '../contract/errors.js';
import { emit, isEventType, EVENT_TIME_FIELD } from '../readiness/emit.js';
import { drain, watch } from '../runtime/drain.js';
import { engineEvaluator } from '../runtime/evaluator.js';
import { cliContext, loadFor, printJson, readStdin, table, type GlobalOptions } from './io.js';
import { registerOperatorCommands } from './report.js';
import { status, summaryLine } from '../report/status.js';

const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };

export function buildProgram(): Command {
  const program = new Command('shadow-integrator')
    .description('Shadow-mode singleton integrator: records what it would merge into main, and never writes main.')
    .version(pkg.version)
    .option('--config <path>', 'config file (default: .shadow-integrator.yml at the repository top level)')
    .option('--state-dir <path>', 'state directory (overrides state_dir)')
    .addOption(new Option('--log-format <format>', 'log line format on stderr').choices(['logfmt', 'json']).default('logfmt'))
    .addOption(new Option('--log-level <level>', 'lowest level logged').choices(['debug', 'info', 'warn', 'error']).default('info'))
    .showHelpAfterError()
    .exitOverride();

  const io = () => {
    const g = program.opts<GlobalOptions>();
    const ctx = cliContext(g);
    return { g, ctx, loaded: () => loadFor(ctx, g) };
  };

  program
    .command('init')
    .description('opt in: write .shadow-integrator.yml with mode: shadow and create the state directory')
    .option('--force', 'overwrite an existing config')
    .option('--json', 'print the result as JSON')
    .action((o: { force?: boolean; json?: boolean }) => {
      const { g, ctx } = io();
      const r = init(ctx, { force: o.force, configPath: g.config });
      if (o.json) return printJson(ctx, r);
      ctx.stdout(`${r.overwritten ? 'overwrote' : 'wrote'} ${r.file} (mode: shadow)\nstate directory: ${r.stateDir}\n\nnext steps:\n${r.nextSteps.map((s) => `  ${s}`).join('\n')}`);
    });

  program
    .command('config')
    .description('print the effective config and where each value came from')
    .option('--json', 'print as JSON')
    .action((o: { json?: boolean }) => {
      const { ctx, loaded } = io();
      const l = loaded();
      if (o.json) return printJson(ctx, { file: l.file, config: l.config, sources: l.sources });
      const rows = Object.entries(l.sources).map(([key, source]) => [key, JSON.stringify(valueAt(l.config, key)), source]);
      ctx.stdout(`config file: ${l.file ?? '(none: defaults)'}\n${table([['KEY', 'VALUE', 'FROM'], ...rows])}`);
    });

  const emitCmd = program
    .command('emit')
    .description('append one readiness event to readiness.jsonl (fields from flags, or one JSON object on stdin with --stdin)')
    .argument('<type>', `event type: ${Object.keys(EVENT_TIME_FIELD).join(', ')}`)
    .option('--stdin', 'read the event as one JSON object from standard input')
    .option('--json', 'print the stored event as JSON')
    .option('--id <id>', 'idempotency key (default: a fresh UUID)');
  for (const field of EMIT_FIELDS) emitCmd.option(`--${field.replace(/_/g, '-')} <value>`);
  emitCmd.action(async (type: string, o: Record<string, string | boolean | undefined>) => {
    const { ctx, loaded } = io();
    if (!isEventType(type)) throw errors.usage(`unknown event type "${type}": allowed values are ${Object.keys(EVENT_TIME_FIELD).join(', ')}`);
    const fields = o.stdin ? parseStdinEvent(await readStdin()) : fieldsFromFlags(o);
    const { event, file } = emit(loaded(), ctx, type, fields);
    if (o.json) printJson(ctx, event);
    else ctx.stdout(`appended ${event.type} ${event.id} to ${file}`);
  });

  program
    .command('drain')
    .description('one shot (for git hooks and cron): ingest what is new, and process it if the lease can be had')
    .option('--grace <seconds>', 'wait this long for late events once the queue is empty', parseSeconds, 0)
    .option('--json', 'print the report as JSON')
    .action(async (o: { grace: number; json?: boolean }) => {
      const { ctx, loaded } = io();
      const l = loaded();
      const evaluate = engineEvaluator(l, ctx);
      const r = await withSignals((signal) => drain(l, ctx, { evaluate, graceSeconds: o.grace, signal })).finally(() => evaluate.close());
      if (o.json) return printJson(ctx, r);
      ctx.stdout(describeDrain(r));
    });

  program
    .command('watch')
    .description('follow readiness.jsonl beside the agents; take the lease and drain whenever work arrives (Ctrl-C to stop)')
    .option('--poll <ms>', 'how often the log is stat-ed when no file event arrives', (v) => parsePositive(v, '--poll'), 1000)
    .action(async (o: { poll: number }) => {
      const { g, ctx, loaded } = io();
      const l = loaded();
      // On a terminal: a live one-line summary, and only warnings as log lines; elsewhere plain log lines.
      const tty = process.stdout.isTTY && g.logFormat !== 'json';
      const wctx = tty ? cliContext({ ...g, logLevel: 'warn' }) : ctx;
      const onTenure = tty ? () => process.stdout.write(`\r\x1b[2K${summaryLine(status(l, wctx))}`) : undefined;
      onTenure?.();
      const evaluate = engineEvaluator(l, wctx);
      const r = await withSignals((signal) => watch(l, wctx, { evaluate, signal, pollMs: o.poll, ...(onTenure ? { onTenure } : {}) })).finally(() => evaluate.close());
      if (tty) process.stdout.write('\n');
      if (r.status === 'mode_off') ctx.stdout(r.message ?? '');
    });

  registerOperatorCommands(program, io);
  return program;
}

const EMIT_FIELDS = [
  'slug',
  'branch',
  'sha',
  'remote',
  'pusher',
  'worker_session_id',
  'orchestrator_session_id',
  'reviewer_session_id',
  'review_round',
  'ready_at',
  'approved_at',
  'pushed_at',
  'requested_by',
  'requested_at',
] as const;

function fieldsFromFlags(o: Record<string, string | boolean | undefined>): Record<string, unknown> {
  const fields: Record<string, unknown> = {};
  for (const field of ['id', ...EMIT_FIELDS]) {
    const value = o[field.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase())];
    if (typeof value !== 'string') continue;
    fields[field] = field === 'review_round' && /^\d+$/.test(value) ? Number(value) : value;
  }
  return fields;
}

function parseStdinEvent(text: string): Record<string, unknown> {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (e) {
    throw errors.eventInvalid([`standard input is not JSON: ${(e as Error).message}`]);
  }
  if (data === null || typeof data !== 'object' || Array.isArray(data)) throw errors.eventInvalid(['standard input must hold one JSON object']);
  return data as Record<string, unknown>;
}

function parsePositive(v: string, flag: string): number {
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw errors.usage(`${flag} must be a positive number, got "${v}"`);
  return n;
}

function parseSeconds(v: string): number {
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0) throw errors.usage(`--grace must be a number of seconds ≥ 0, got "${v}"`);
  return n;
}

function valueAt(obj: unknown, dotted: string): unknown {
  return dotted.split('.').reduce<unknown>((o, k) => (o && typeof o === 'object' ? (o as Record<string, unknown>)[k] : undefined), obj);
}

function describeDrain(r: Awaited<ReturnType<typeof drain>>): string {
  switch (r.status) {
    case 'mode_off':
      return r.message;
    case 'idle':
      return 'nothing to do: no new readiness events and an empty queue';
    case 'lease_busy':
      return `lease integration/main is held by ${r.holder.owner.host}:${r.holder.owner.pid} (epoch ${r.holder.epoch}, expires ${r.holder.expires_at}); that holder will process the new events`;
    case 'lease_lost':
      return `lost the lease (epoch ${r.epoch}): ${r.why}; stopped after ${r.decided} decision(s)`;
    case 'done':
      return `epoch ${r.epoch}: ingested ${r.ingested} event(s), rejected ${r.rejected} line(s), decided ${r.decided} candidate(s), ${r.queued} still queued`;
  }
}

/** SIGINT/SIGTERM abort the signal: the runtime finishes the current item, checkpoints and releases. */
async function withSignals<T>(run: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const ac = new AbortController();
  const stop = () => ac.abort();
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  try {
    return await run(ac.signal);
  } finally {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
  }
}

export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
    return 0;
  } catch (e) {
    return exitCodeFor(e, cliContext(program.opts<GlobalOptions>()));
  }
}

function exitCodeFor(e: unknown, ctx: Context): number {
  if (e instanceof CommanderError) return e.exitCode === 0 ? 0 : 2; // commander printed the message
  if (isShadowError(e)) {
    process.stderr.write(`shadow-integrator: ${e.message}\n`);
    ctx.logger.log('debug', 'error', { code: e.code });
    return e.exitCode;
  }
  process.stderr.write(`shadow-integrator: unexpected failure: ${(e as Error).stack ?? String(e)}\n`);
  return 1;
}

process.exitCode = await main(process.argv);
