/** `hooks install | uninstall | receive`. */
import { fileURLToPath } from 'node:url';
import { installHooks, uninstallHooks, type HooksReport } from '../../hooks/install.js';
import { receivePushes } from '../../hooks/receive.js';
import type { Call, Output } from '../command.js';
import { table } from '../format.js';

/** What the hooks start: the bin, beside this file's directory once compiled. */
const BIN = fileURLToPath(new URL('../bin.js', import.meta.url));

export async function install(call: Call<{ origin?: string; json?: boolean }>): Promise<Output> {
  const { ctx, io, globals, opts } = call;
  const r = installHooks(await call.config(), ctx, { origin: opts.origin, configPath: globals.config, cli: { node: io.execPath, main: BIN } });
  return { json: r, text: () => formatHooks(r) };
}

export async function uninstall(call: Call<{ origin?: string; json?: boolean }>): Promise<Output> {
  const r = uninstallHooks(await call.config(), call.ctx, { origin: call.opts.origin });
  return { json: r, text: () => formatHooks(r) };
}

export async function receive(call: Call<{ remote?: string; pusher?: string; json?: boolean }>): Promise<Output> {
  const { ctx, opts } = call;
  const r = receivePushes(await call.config(), ctx, await ctx.stdin(), opts);
  return {
    json: r,
    text: () => [...r.recorded.map((e) => `recorded branch_pushed ${e.branch} ${e.sha} (${e.remote}, by ${e.pusher})`), ...r.skipped.map((s) => `skipped ${s.ref}: ${s.reason}`)].join('\n') || 'no branch updated',
  };
}

function formatHooks(r: HooksReport): string {
  const rows = r.hooks.map((h) => [h.repo, h.hook, h.action, h.path, h.chained ? `runs the previous hook ${h.chained}` : '']);
  return [table(rows), `background output: ${r.log}`, ...r.notes.map((n) => `note: ${n}`)].join('\n');
}
