/**
 * The operator commands: status, explain, outcomes, parity, hooks. Each calls one core function
 * (src/report, src/hooks) and only formats what it returns: JSON for machines, tables for people.
 */
import type { Command } from 'commander';
import { fileURLToPath } from 'node:url';
import type { LoadedConfig } from '../config/config.js';
import type { Context } from '../context.js';
import { errors } from '../contract/errors.js';
import type { Outcome } from '../contract/types.generated.js';
import { installHooks, uninstallHooks, type HooksReport } from '../hooks/install.js';
import { receivePushes } from '../hooks/receive.js';
import { explain, type ConditionCheck, type ExplainedCandidate, type ExplainReport } from '../report/explain.js';
import { OUTCOME_KINDS, parseOutcomeKind, parseSince, SINCE_FORMS } from '../report/filters.js';
import { listOutcomes } from '../report/outcomes.js';
import { LIVE_FATES, parity, parseMinAgreement, SHADOW_ROWS, type ParityCandidate, type ParityReport } from '../report/parity.js';
import { ago, shortDuration, status, type StatusReport } from '../report/status.js';
import { describeOwner } from '../runtime/lease.js';
import { printJson, readStdin, table, type GlobalOptions } from './io.js';

export type CommandIO = () => { g: GlobalOptions; ctx: Context; loaded: () => LoadedConfig };

export function registerOperatorCommands(program: Command, io: CommandIO): void {
  program
    .command('status')
    .description('mode, lease, queue, outcome counts, ingestion lag, rejected lines and the last decision')
    .option('--json', 'print as JSON')
    .action((o: { json?: boolean }) => {
      const { ctx, loaded } = io();
      const s = status(loaded(), ctx);
      if (o.json) return printJson(ctx, s);
      ctx.stdout(formatStatus(s));
    });

  program
    .command('explain')
    .description('why a slug\'s candidates are where they are: each readiness condition and the event that met it, supersession, queue, outcomes')
    .argument('<slug>', 'the slug to explain')
    .option('--json', 'print as JSON')
    .action((slug: string, o: { json?: boolean }) => {
      const { ctx, loaded } = io();
      const r = explain(loaded(), slug);
      if (o.json) return printJson(ctx, r);
      ctx.stdout(formatExplain(r));
    });

  program
    .command('outcomes')
    .description('the outcome ledger, filtered; --json prints JSON Lines (one outcome a line, for jq)')
    .option('--json', 'print JSON Lines')
    .option('--slug <slug>', 'only this slug')
    .option('--outcome <outcome>', `only this outcome: ${OUTCOME_KINDS.join(', ')}`)
    .option('--since <time>', `only decisions since then: ${SINCE_FORMS}`)
    .action((o: { json?: boolean; slug?: string; outcome?: string; since?: string }) => {
      const { ctx, loaded } = io();
      const r = listOutcomes(loaded(), {
        slug: o.slug,
        outcome: o.outcome === undefined ? undefined : parseOutcomeKind(o.outcome),
        since: o.since === undefined ? undefined : parseSince(o.since, ctx.now()),
      });
      if (o.json) {
        if (r.outcomes.length > 0) ctx.stdout(r.outcomes.map((x) => JSON.stringify(x)).join('\n'));
        return;
      }
      ctx.stdout(formatOutcomes(r.outcomes, r.invalid));
    });

  program
    .command('parity')
    .description('hold the shadow decisions against what landed on canonical main: confusion matrix, agreement, mismatches')
    .option('--json', 'print as JSON')
    .option('--since <time>', `only decisions since then: ${SINCE_FORMS}`)
    .option('--min-agreement <x>', 'gate: exit 3 when agreement is below x (0..1), or on any unsafe-permissive mismatch')
    .action(async (o: { json?: boolean; since?: string; minAgreement?: string }) => {
      const { ctx, loaded } = io();
      const r = await parity(loaded(), ctx, {
        since: o.since === undefined ? undefined : parseSince(o.since, ctx.now()),
        minAgreement: o.minAgreement === undefined ? undefined : parseMinAgreement(o.minAgreement),
      });
      if (o.json) printJson(ctx, r);
      else ctx.stdout(formatParity(r));
      if (r.gate && !r.gate.passed) throw errors.parityBelowThreshold(r.agreement ?? 0, r.gate.min_agreement, r.unsafe_permissive);
    });

  const hooks = program.command('hooks').description('git hooks so that readiness flows and drains run without anyone remembering');
  hooks
    .command('install')
    .description('post-commit and post-merge hooks that start a background drain; with --origin, a post-receive hook there that records branch_pushed')
    .option('--origin <path>', 'bare origin repository to give the post-receive hook')
    .option('--json', 'print as JSON')
    .action((o: { origin?: string; json?: boolean }) => {
      const { g, ctx, loaded } = io();
      const r = installHooks(loaded(), ctx, { origin: o.origin, configPath: g.config, cli: { node: process.execPath, main: fileURLToPath(new URL('main.js', import.meta.url)) } });
      if (o.json) return printJson(ctx, r);
      ctx.stdout(formatHooks(r));
    });
  hooks
    .command('uninstall')
    .description('remove the hooks and put back the ones that were there before')
    .option('--origin <path>', 'bare origin repository to remove the post-receive hook from')
    .option('--json', 'print as JSON')
    .action((o: { origin?: string; json?: boolean }) => {
      const { ctx, loaded } = io();
      const r = uninstallHooks(loaded(), ctx, { origin: o.origin });
      if (o.json) return printJson(ctx, r);
      ctx.stdout(formatHooks(r));
    });
  hooks
    .command('receive')
    .description("read post-receive input (<old> <new> <ref> lines) on stdin and record a branch_pushed per updated branch (the origin's hook runs this)")
    .option('--remote <name>', 'remote name to record (default: the configured remote)')
    .option('--pusher <name>', 'who pushed (default: GL_USERNAME, GITEA_PUSHER_NAME, REMOTE_USER, USER or LOGNAME)')
    .option('--json', 'print as JSON')
    .action(async (o: { remote?: string; pusher?: string; json?: boolean }) => {
      const { ctx, loaded } = io();
      const r = receivePushes(loaded(), ctx, await readStdin(), o);
      if (o.json) return printJson(ctx, r);
      ctx.stdout([...r.recorded.map((e) => `recorded branch_pushed ${e.branch} ${e.sha} (${e.remote}, by ${e.pusher})`), ...r.skipped.map((s) => `skipped ${s.ref}: ${s.reason}`)].join('\n') || 'no branch updated');
    });
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

function formatExplain(r: ExplainReport): string {
  const out = [`slug ${r.slug} — ${r.log} (${r.log_lines} line(s)), remote ${r.remote}`];
  out.push(r.approvals.length > 0 ? `review_approved: ${r.approvals.map(eventText).join('; ')}` : 'review_approved: none (missing_review_approved)');
  for (const c of r.candidates) out.push('', ...candidateText(c));
  if (r.supersession.length > 0) {
    out.push('', 'supersession (later ready_at wins; equal ready_at: the later line wins):');
    for (const s of r.supersession) {
      out.push(`  ${s.superseded.branch}@${short(s.superseded.sha)} (line ${s.superseded.line}, ready_at ${s.superseded.ready_at}) superseded by ${s.by.branch}@${short(s.by.sha)} (line ${s.by.line}, ready_at ${s.by.ready_at}): ${RULE_TEXT[s.rule]}`);
    }
  }
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
  for (const o of c.outcomes) {
    const detail = outcomeDetail(o);
    lines.push(`  outcome: ${o.outcome}${detail ? ` (${detail})` : ''}, decided ${o.decided_at} (epoch ${o.lease_epoch})${o.message ? ` — ${o.message}` : ''}`);
  }
  return lines;
}

function conditionRow(k: ConditionCheck): string[] {
  const mark = k.met === true ? '✓' : k.met === false ? '✗' : '?';
  const detail =
    k.event ? eventText(k.event)
    : k.superseded_by ? `${k.missing}: by ${k.superseded_by.branch}@${short(k.superseded_by.sha)} (line ${k.superseded_by.line}, ${RULE_TEXT[k.superseded_by.rule]})`
    : k.missing ? k.missing
    : k.met === null ? (k.decided_at ? 'not reached by the engine' : 'checked with git at dequeue')
    : k.decided_at ? `checked with git, decision of ${k.decided_at}` : '';
  return [mark, k.condition, detail];
}

const eventText = (e: { line: number; id: string | null; at: string }) => `line ${e.line}${e.id ? ` id ${e.id}` : ''} at ${e.at}`;

function formatOutcomes(outcomes: readonly Outcome[], invalid: number): string {
  const rows = outcomes.map((o) => [o.decided_at, o.outcome, o.slug, o.branch, short(o.sha), outcomeDetail(o)]);
  const footer = `${outcomes.length} outcome(s)${invalid > 0 ? `; ${invalid} ledger line(s) are not valid outcomes` : ''}`;
  return outcomes.length === 0 ? footer : `${table([['DECIDED_AT', 'OUTCOME', 'SLUG', 'BRANCH', 'SHA', 'DETAIL'], ...rows])}\n${footer}`;
}

function describeOutcome(o: Outcome): string {
  const detail = outcomeDetail(o);
  return `${o.outcome} ${o.slug} ${o.branch}@${short(o.sha)}${detail ? ` (${detail})` : ''}`;
}

function outcomeDetail(o: Outcome): string {
  const parts: string[] = [...o.reasons];
  if (o.conflicts.length > 0) parts.push(o.conflicts.map((c) => `${c.path} ${c.kind}`).join(', '));
  if (o.superseded_by) parts.push(`by ${o.superseded_by.branch}@${short(o.superseded_by.sha)}`);
  return parts.join(': ');
}

function formatParity(r: ParityReport): string {
  const pct = (x: number) => `${(x * 100).toFixed(1)}%`;
  const out = [`parity against ${r.main_ref} (${short(r.main_sha)})${r.since ? `, decisions since ${r.since}` : ''}: ${r.candidates.length} candidate(s)`, ''];
  out.push(table([['SHADOW \\ LIVE', ...LIVE_FATES], ...SHADOW_ROWS.map((row) => [row, ...LIVE_FATES.map((f) => String(r.matrix[row][f]))])]), '');
  const interval = r.wilson95 ? `, 95% Wilson interval ${pct(r.wilson95.low)}–${pct(r.wilson95.high)}` : '';
  out.push(
    table([
      ['agreement', r.agreement === null ? 'n/a: no decision could be compared yet' : `${pct(r.agreement)} (${r.agreed}/${r.compared})${interval}`],
      ['unsafe-permissive', String(r.unsafe_permissive)],
      ['over-strict', String(r.over_strict)],
      ['pending', String(r.pending)],
      ['excluded', `${r.excluded} (superseded, already_integrated, pending)`],
      ...(r.gate ? [['gate', r.gate.passed ? `passed (min ${pct(r.gate.min_agreement)})` : `FAILED (min ${pct(r.gate.min_agreement)}): ${r.gate.failures.join('; ')}`]] : []),
    ]),
  );
  if (r.mismatches.length > 0) {
    const rows = r.mismatches.map((m) => [m.verdict, m.slug, m.branch, short(m.sha), shadowText(m), liveText(m)]);
    out.push('', 'mismatches:', indent(table([['KIND', 'SLUG', 'BRANCH', 'SHA', 'SHADOW', 'LIVE'], ...rows])));
  }
  out.push('', `agreement = ${r.definitions.agreement}`, `excluded: ${r.definitions.excluded}`);
  return out.join('\n');
}

const shadowText = (c: ParityCandidate) => `${c.outcome}${c.reasons.length > 0 ? ` (${c.reasons.join(',')})` : ''}`;

function liveText(c: ParityCandidate): string {
  if (!c.landing) return c.fate;
  const base = c.landing.same_base ? '' : ', main had moved since the shadow evaluated it';
  return `${c.fate} via ${c.landing.via} ${short(c.landing.commit)}${c.reverted_by ? `, reverted by ${short(c.reverted_by)}` : ''}${base}`;
}

function formatHooks(r: HooksReport): string {
  const rows = r.hooks.map((h) => [h.repo, h.hook, h.action, h.path, h.chained ? `runs the previous hook ${h.chained}` : '']);
  return [table(rows), `background output: ${r.log}`, ...r.notes.map((n) => `note: ${n}`)].join('\n');
}

const short = (sha: string) => sha.slice(0, 12);

const indent = (text: string, pad = '  ') => text.split('\n').map((l) => `${pad}${l}`).join('\n');
