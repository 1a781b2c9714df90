/** `status`: what is happening, at a glance. */
import { describeOwner } from '../../runtime/lease.js';
import { ago, shortDuration, status as readStatus, type StatusReport } from '../../report/status.js';
import type { Call, Output } from '../command.js';
import { describeOutcome, indent, short, table } from '../format.js';

export async function status(call: Call<{ json?: boolean }>): Promise<Output> {
  const s = readStatus(await call.config(), call.ctx);
  return { json: s, text: () => formatStatus(s) };
}

function formatStatus(s: StatusReport): string {
  const i = s.ingestion;
  const lag =
    i.lag_bytes === 0 ? 'up to date'
    : `${i.lag_lines} line(s), ${i.lag_bytes} byte(s) behind ${i.log}${i.restarted ? ` (the log was ${i.restarted}: it is read again from the start)` : ''}`;
  const c = s.counts;
  const lines = table([
    ['mode', s.mode],
    ['state dir', s.state_dir],
    ['lease', leaseText(s)],
    ['ingestion', `${lag}${i.checkpoint_at ? `; checkpoint ${ago(s, i.checkpoint_at)}` : '; no checkpoint yet'}`],
    ['waiting', `${s.waiting} candidate(s) waiting for readiness events (as of the checkpoint)`],
    ['rejected', `${s.rejected} line(s) in rejected.jsonl`],
    ['outcomes', `${c.would_integrate} would_integrate · ${c.would_block} would_block · ${c.superseded} superseded · ${c.total} total`],
    ['last', s.last_outcome ? `${describeOutcome(s.last_outcome)}, ${ago(s, s.last_outcome.decided_at)}` : 'no decision yet'],
  ]);
  if (s.queue.length === 0) return `${lines}\n\nqueue: empty`;
  const rows = s.queue.map((q) => [String(q.position), q.slug, q.branch, short(q.sha), q.status, shortDuration(q.age_s * 1000), q.ready_at]);
  return `${lines}\n\nqueue (${s.queue.length}):\n${indent(table([['#', 'SLUG', 'BRANCH', 'SHA', 'STATUS', 'AGE', 'READY_AT'], ...rows]))}`;
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
