/** `watch`: follow the log beside the agents until stopped. */
import { status as readStatus, summaryLine } from '../../report/status.js';
import { watch as follow } from '../../runtime/drain.js';
import { engineEvaluator } from '../../runtime/evaluator.js';
import type { Call } from '../command.js';
import { commandContext } from '../io.js';

export async function watch(call: Call<{ poll: number }>): Promise<void> {
  const { ctx, io, globals, opts } = call;
  const l = await call.config();
  // On a terminal: a live one-line summary, and only warnings as log lines; elsewhere plain log lines.
  const tty = io.isTTY && globals.logFormat !== 'json';
  const wctx = tty ? commandContext(io, { ...globals, logLevel: 'warn' }) : ctx;
  const onTenure = tty ? () => io.stdout(`\r\x1b[2K${summaryLine(readStatus(l, wctx))}`) : undefined;
  onTenure?.();
  const evaluate = engineEvaluator(l, wctx);
  const r = await call.untilStopped((signal) => follow(l, wctx, { evaluate, signal, pollMs: opts.poll, ...(onTenure ? { onTenure } : {}) })).finally(() => evaluate.close());
  if (tty) io.stdout('\n');
  if (r.status === 'mode_off') ctx.stdout(r.message ?? '');
}
