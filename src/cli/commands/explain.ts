/** `explain <slug>`: why each candidate of a slug is where it is. */
import type { RetryRef } from '../../contract/types.generated.js';
import { explain as explainSlug, type ConditionCheck, type ExplainedCandidate, type ExplainReport } from '../../report/explain.js';
import type { Call, Output } from '../command.js';
import { indent, outcomeDetail, short, table } from '../format.js';

export async function explain(call: Call<{ json?: boolean }>, slug: string): Promise<Output> {
  const r = explainSlug(await call.config(), call.ctx, slug);
  return { json: r, text: () => formatExplain(r) };
}

function formatExplain(r: ExplainReport): string {
  const out = [`slug ${r.slug} — ${r.log} (${r.log_lines} line(s)), remote ${r.remote}`];
  out.push(r.approvals.length > 0 ? `review_approved: ${r.approvals.map((a) => `${eventText(a)}${a.sha ? ` for sha ${a.sha} only` : ''}`).join('; ')}` : 'review_approved: none (missing_review_approved)');
  for (const c of r.candidates) out.push('', ...candidateText(c));
  if (r.supersession.length > 0) {
    out.push('', 'supersession (later ready_at wins; equal ready_at: the later line wins):');
    for (const s of r.supersession) {
      out.push(`  ${s.superseded.branch}@${short(s.superseded.sha)} (line ${s.superseded.line}, ready_at ${s.superseded.ready_at}) superseded by ${s.by.branch}@${short(s.by.sha)} (line ${s.by.line}, ready_at ${s.by.ready_at}): ${RULE_TEXT[s.rule]}`);
    }
  }
  if (r.retries.length > 0) out.push('', 'retries (a retry starts a new episode only of a candidate decided before it was requested):', ...r.retries.map(retryText));
  if (r.ignored.length > 0) out.push('', 'ignored lines:', ...r.ignored.map((x) => `  line ${x.line} ${x.type}${x.id ? ` id ${x.id}` : ''}: ${x.why === 'duplicate' ? 'duplicate (its id or content was seen before)' : 'candidate already finalized'}`));
  if (r.rejected.length > 0) out.push('', 'rejected lines naming this slug:', ...r.rejected.map((x) => `  line ${x.line} ${x.reason}: ${x.errors.join('; ')}`));
  return out.join('\n');
}

const RULE_TEXT = { later_ready_at: 'later ready_at', equal_ready_at_later_in_log: 'equal ready_at, later in the log', arrived_older: 'arrived with an older ready_at than the newest' } as const;

const STATE_TEXT: Record<ExplainedCandidate['state'], string> = {
  waiting: 'waiting for readiness events',
  ready: 'ready; a holder has not ingested it yet',
  queued: 'queued',
  in_progress: 'being evaluated',
  decided: 'decided',
  superseded: 'superseded before it was ready (never enqueued)',
};

function candidateText(c: ExplainedCandidate): string[] {
  const head = `candidate ${c.branch} @ ${c.sha}${c.ready_at ? `, ready_at ${c.ready_at}` : ''}`;
  const lines = [head, `  state: ${STATE_TEXT[c.state]}${c.ready_line ? ` (event conditions all met at line ${c.ready_line})` : ''}`];
  lines.push(...indent(table(c.conditions.map(conditionRow)), '  ').split('\n'));
  if (c.queue) lines.push(`  queue: #${c.queue.position}, ${c.queue.status}, enqueued ${c.queue.enqueued_at}`);
  if (c.episodes.length > 1) lines.push(`  episodes: ${c.episodes.map((e) => `${e.episode} ${e.outcome ?? 'not decided yet'}${e.retry_line ? ` (retry at line ${e.retry_line})` : ''}`).join(' · ')}`);
  for (const o of c.outcomes) {
    const detail = outcomeDetail(o);
    const onto = o.ahead && o.ahead.length > 0 ? `, merged onto main + ${o.ahead.map((a) => a.slug).join(' + ')} (the stack ahead of it)` : '';
    lines.push(`  outcome${c.episodes.length > 1 ? ` of episode ${o.episode ?? 1}` : ''}: ${o.outcome}${detail ? ` (${detail})` : ''}${onto}, decided ${o.decided_at} (epoch ${o.lease_epoch})${o.message ? ` — ${o.message}` : ''}`);
  }
  return lines;
}

function conditionRow(k: ConditionCheck): string[] {
  const mark = k.met === true ? '✓' : k.met === false ? '✗' : '?';
  const detail =
    k.event ? eventText(k.event)
    : k.why ? `${k.missing}: ${k.why}`
    : k.superseded_by ? `${k.missing}: by ${k.superseded_by.branch}@${short(k.superseded_by.sha)} (line ${k.superseded_by.line}, ${RULE_TEXT[k.superseded_by.rule]})`
    : k.missing ? k.missing
    : k.met === null ? (k.decided_at ? 'not reached by the engine' : 'checked with git at dequeue')
    : k.decided_at ? `checked with git, decision of ${k.decided_at}` : '';
  return [mark, k.condition, detail];
}

const eventText = (e: { line: number; id: string | null; at: string }) => `line ${e.line}${e.id ? ` id ${e.id}` : ''} at ${e.at}`;

const RETRY_TEXT: Record<RetryRef['result'], string> = {
  started_episode: 'started episode',
  no_candidate: 'changed nothing: the slug had no candidate',
  other_sha: "changed nothing: it names another sha than the current candidate's (a superseded candidate is never retried)",
  waiting: 'changed nothing: the candidate still waited for readiness events',
  undecided: 'changed nothing: the candidate was not decided in its current episode yet (queued or in progress)',
  decided_after_request: 'changed nothing: the current episode was decided only after the retry was requested (it was queued or in progress then, or this retry started it)',
  duplicate: 'changed nothing: its id was used before',
};

function retryText(r: RetryRef): string {
  const who = `  line ${r.line}${r.id ? ` id ${r.id}` : ''} by ${r.requested_by} at ${r.requested_at}${r.sha ? ` for sha ${short(r.sha)}` : ''}`;
  const of = r.branch && r.candidate_sha ? ` of ${r.branch}@${short(r.candidate_sha)}` : '';
  return r.result === 'started_episode' ? `${who}: started episode ${r.episode ?? '?'}${of}` : `${who}: ${RETRY_TEXT[r.result]}${of && r.result !== 'no_candidate' ? ` (current: ${of.slice(4)}${r.episode ? `, episode ${r.episode}` : ''})` : ''}`;
}
