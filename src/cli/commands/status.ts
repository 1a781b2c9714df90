/** `status`: what is happening, at a glance, and what to fix first. */
import type { HookHealth, StatusReport, Warning } from '../../contract/types.generated.js';
import { hooksHealth } from '../../hooks/health.js';
import { ago, shortDuration, status as readStatus } from '../../report/status.js';
import { describeOwner } from '../../runtime/lease.js';
import type { Call, Output } from '../command.js';
import { describeOutcome, indent, short, table } from '../format.js';
import { cliVersion } from '../version.js';

export async function status(call: Call<{ json?: boolean }>): Promise<Output> {
  const loaded = await call.config();
  const state = readStatus(loaded, call.ctx);
  const hooks = hooksHealth(loaded.repo, call.ctx.env, cliVersion());
  const s: StatusReport = { ...state, warnings: [...state.warnings, ...hooks.filter((h) => h.problems.length > 0).map(hookWarning)], hooks };
  return { json: s, text: () => formatStatus(s) };
}

function hookWarning(h: HookHealth): Warning {
  return { code: 'hooks_broken', message: `the ${h.hook} hook does not run this shadow-integrator: ${h.problems.join('; ')}; run shadow-integrator hooks install again` };
}

function formatStatus(s: StatusReport): string {
  const i = s.ingestion;
  const lag =
    i.lag_bytes === 0 ? 'up to date'
    : `${i.lag_lines} line(s), ${i.lag_bytes} byte(s) of ${i.log} not ingested yet${i.restarted ? ` (the log was ${i.restarted}: it is read again from the start)` : ''}`;
  const c = s.counts;
  const lines = table([
    ['mode', s.mode],
    ['state dir', s.state_dir],
    ['lease', leaseText(s)],
    ['ingestion', `${lag}${i.checkpoint_at ? `; checkpoint ${ago(s, i.checkpoint_at)}` : '; no checkpoint yet'}`],
    ['waiting', `${s.waiting_total} candidate(s) waiting for readiness events`],
    ['rejected', `${s.rejected} line(s) in rejected.jsonl`],
    ['outcomes', `${c.would_integrate} would_integrate · ${c.would_block} would_block · ${c.superseded} superseded · ${c.total} total`],
    ['last', s.last_outcome ? `${describeOutcome(s.last_outcome)}, ${ago(s, s.last_outcome.decided_at)}` : 'no decision yet'],
    ['hooks', hooksText(s.hooks)],
  ]);
  const warnings = s.warnings.map((w) => `warning: ${w.message}`);
  const head = warnings.length > 0 ? `${warnings.join('\n')}\n\n${lines}` : lines;
  const parts = [head];
  if (s.queue.length === 0) parts.push('queue: empty');
  else {
    const rows = s.queue.map((q) => [String(q.position), q.slug, q.branch, short(q.sha), q.holder_alive === false ? 'in_progress (holder gone: the next holder puts it back)' : q.status, shortDuration(q.age_s * 1000), q.ready_at]);
    parts.push(`queue (${s.queue.length}):\n${indent(table([['#', 'SLUG', 'BRANCH', 'SHA', 'STATUS', 'AGE', 'READY_AT'], ...rows]))}`);
  }
  if (s.stack.length > 0) parts.push(stackText(s));
  if (s.waiting_total > 0) parts.push(waitingText(s));
  return parts.join('\n\n');
}

/** The stack: what later candidates are merged onto, each with its age and why it is still there. */
function stackText(s: StatusReport): string {
  const rows = s.stack.map((e) => [
    String(e.position),
    e.slug,
    e.branch,
    short(e.sha),
    shortDuration(e.age_s * 1000),
    e.checked ? `not in main ${short(e.checked.main_sha)} (checked ${ago(s, e.checked.at)})` : `not in main ${e.main_sha ? short(e.main_sha) : '?'} when decided`,
    `in ${shortDuration(Date.parse(e.expires_at) - Date.parse(s.generated_at))}`,
  ]);
  return `stack (${s.stack.length}): would_integrate decisions live main has not taken yet; each candidate is merged onto main plus these, in this order\n${indent(
    table([['#', 'SLUG', 'BRANCH', 'SHA', 'AGE', 'WHY STILL THERE', 'LEAVES AT THE LATEST'], ...rows]),
  )}`;
}

/** Waiting candidates shown by name in the text form; --json lists up to WAITING_LISTED. */
const WAITING_SHOWN = 20;

function waitingText(s: StatusReport): string {
  const rows = s.waiting.slice(0, WAITING_SHOWN).map((w) => [w.slug, w.branch, short(w.sha), lacksText(w), shortDuration(w.age_s * 1000)]);
  const more = s.waiting_total > rows.length ? `\n  … and ${s.waiting_total - rows.length} more (status --json lists ${s.waiting.length} of them)` : '';
  return `waiting for readiness events (${s.waiting_total}), oldest first:\n${indent(table([['SLUG', 'BRANCH', 'SHA', 'LACKS', 'WAITING'], ...rows]))}${more}`;
}

function lacksText(w: StatusReport['waiting'][number]): string {
  return w.lacks.map((l) => (l === 'missing_review_approved' && w.approved_other_sha ? `${l} (approved for another sha)` : l)).join(', ');
}

function hooksText(hooks: readonly HookHealth[]): string {
  if (hooks.length === 0) return 'none installed (shadow-integrator hooks install)';
  const broken = hooks.filter((h) => h.problems.length > 0);
  const names = hooks.map((h) => h.hook).join(', ');
  return broken.length === 0 ? `${names}: run ${hooks[0]?.cli ?? ''}` : `${broken.map((h) => h.hook).join(', ')} broken (see the warning above)`;
}

function leaseText(s: StatusReport): string {
  const l = s.lease;
  if (l.epoch === null) return 'free (never taken)';
  const who = l.owner ? describeOwner(l.owner) : '?';
  switch (l.state) {
    case 'held':
      return `held by ${who}, epoch ${l.epoch}, expires in ${shortDuration((l.expires_in_s ?? 0) * 1000)}`;
    case 'expired':
      return `expired ${shortDuration(-(l.expires_in_s ?? 0) * 1000)} ago (epoch ${l.epoch}, ${who}): the next drain takes it over`;
    case 'free':
      return `free (last held by ${who}, epoch ${l.epoch}${l.released_at ? `, released ${ago(s, l.released_at)}` : ''})`;
  }
}
