/** The operator commands: status, explain, outcomes, parity, hooks. Parse, call the core, print. */
import { Argument, Option, type Command } from 'commander';
import type { LoadedConfig } from '../config/config.js';
import type { Context } from '../context.js';
import { errors } from '../contract/errors.js';
import type { Outcome } from '../contract/types.generated.js';
import { hooks } from '../hooks/hooks.js';
import { explain, type ConditionState } from '../report/explain.js';
import { OUTCOME_KINDS, outcomes } from '../report/outcomes.js';
import { FATES, gateFailure, parity, type ParityReport } from '../report/parity.js';
import { status, type StatusReport } from '../report/status.js';
import { printJson, table } from './io.js';

export type Io = () => { ctx: Context; loaded: () => LoadedConfig };

const short = (sha: string | null) => (sha ? sha.slice(0, 12) : '-');

export function registerOperatorCommands(program: Command, io: Io): void {
  program
    .command('status')
    .description('lease holder, queue, counts by outcome, ingestion lag, rejected lines, last decision')
    .option('--json', 'print as JSON')
    .action((o: { json?: boolean }) => {
      const { ctx, loaded } = io();
      const s = status(loaded(), ctx);
      if (o.json) printJson(ctx, s);
      else ctx.stdout(formatStatus(s));
    });

  program
    .command('explain')
    .description('why the candidates of a slug are where they are: each condition, supersession, queue, outcomes')
    .argument('<slug>')
    .option('--json', 'print as JSON')
    .action((slug: string, o: { json?: boolean }) => {
      const { ctx, loaded } = io();
      const e = explain(loaded(), ctx, slug);
      if (o.json) return printJson(ctx, e);
      if (e.candidates.length === 0) return ctx.stdout(`no finalize_ready for slug "${slug}" in the readiness log`);
      const cond = (name: string, c: ConditionState) => `    ${c.met ? '✓' : '✗'} ${name}${c.event ? ` (line ${c.event.line}${c.event.id ? `, id ${c.event.id}` : ''}, ${c.event.at})` : ` — ${c.missing}`}`;
      ctx.stdout(
        e.candidates
          .map((c) =>
            [
              `${slug} ${c.branch} ${short(c.sha)} (ready_at ${c.ready_at})`,
              cond('review_approved', c.conditions.review_approved),
              cond('finalize_ready', c.conditions.finalize_ready),
              cond('branch_pushed', c.conditions.branch_pushed),
              `    ${c.superseded_by ? `superseded by ${c.superseded_by.branch} ${short(c.superseded_by.sha)} (ready_at ${c.superseded_by.ready_at})` : 'not superseded'}`,
              `    queue: ${c.queue ? `#${c.queue.position} ${c.queue.status}` : 'not queued'}`,
              ...c.outcomes.map((d) => `    outcome: ${d.outcome}${d.reasons.length ? ` [${d.reasons.join(', ')}]` : ''} at ${d.decided_at} (epoch ${d.lease_epoch})${d.conflicts.map((x) => `\n      conflict ${x.kind}: ${x.path}`).join('')}${d.message ? `\n      ${d.message.split('\n')[0]}` : ''}`),
            ].join('\n'),
          )
          .join('\n\n'),
      );
    });

  program
    .command('outcomes')
    .description('the outcome ledger, filtered (--json prints JSONL for jq)')
    .option('--json', 'one JSON outcome per line')
    .option('--slug <slug>', 'only this slug')
    .addOption(new Option('--outcome <outcome>', 'only this outcome').choices([...OUTCOME_KINDS]))
    .option('--since <time>', 'decided at or after: ISO 8601, or a duration back from now (30m, 24h, 7d)')
    .action((o: { json?: boolean; slug?: string; outcome?: string; since?: string }) => {
      const { ctx, loaded } = io();
      const list = outcomes(loaded(), ctx, o);
      if (o.json) return ctx.stdout(list.map((x) => JSON.stringify(x)).join('\n') || '');
      ctx.stdout(formatOutcomes(list));
    });

  program
    .command('parity')
    .description('hold every shadow decision against what landed on canonical main; --min-agreement makes it a gate (exit 3)')
    .option('--json', 'print as JSON')
    .option('--since <time>', 'only decisions made at or after this time')
    .option('--min-agreement <x>', 'fail (exit 3) below this agreement rate (0..1) or on any unsafe-permissive mismatch', parseRate)
    .action(async (o: { json?: boolean; since?: string; minAgreement?: number }) => {
      const { ctx, loaded } = io();
      const r = await parity(loaded(), ctx, { since: o.since });
      const failure = o.minAgreement !== undefined ? gateFailure(r, o.minAgreement) : null;
      if (o.json) printJson(ctx, { ...r, gate: o.minAgreement !== undefined ? { min_agreement: o.minAgreement, passed: failure === null, why: failure } : null });
      else ctx.stdout(formatParity(r));
      if (failure !== null && o.minAgreement !== undefined) throw errors.parityBelowThreshold(r.agreement_rate ?? 0, o.minAgreement, r.unsafe_permissive);
    });

  program
    .command('hooks')
    .description('install or uninstall the git hooks that feed readiness and start drains (chained to existing hooks)')
    .addArgument(new Argument('<action>', 'install or uninstall').choices(['install', 'uninstall']))
    .option('--origin <path>', 'also the bare origin repository: a post-receive hook that emits branch_pushed')
    .option('--json', 'print as JSON')
    .action(async (action: 'install' | 'uninstall', o: { origin?: string; json?: boolean }) => {
      const { ctx, loaded } = io();
      const changes = await hooks(loaded(), ctx, action, { origin: o.origin });
      if (o.json) return printJson(ctx, changes);
      ctx.stdout(table(changes.map((c) => [c.action, c.path])));
    });
}

function parseRate(v: string): number {
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0 || n > 1) throw errors.usage(`--min-agreement must be a number from 0 to 1, got "${v}"`);
  return n;
}

function formatStatus(s: StatusReport): string {
  const lease = s.lease.state === 'held' ? `held by ${s.lease.holder}, epoch ${s.lease.epoch}, expires ${s.lease.expires_at}` : s.lease.state === 'expired' ? `expired (last holder ${s.lease.holder}, epoch ${s.lease.epoch})` : `free (last epoch ${s.lease.epoch})`;
  const last = s.last_outcome ? `${s.last_outcome.outcome} ${s.last_outcome.slug} ${s.last_outcome.branch} ${short(s.last_outcome.sha)}${s.last_outcome.reasons.length ? ` [${s.last_outcome.reasons.join(', ')}]` : ''} at ${s.last_outcome.decided_at}` : 'none yet';
  return [
    `mode:       ${s.mode}`,
    `state dir:  ${s.state_dir}`,
    `lease:      integration/main ${lease}`,
    `decided:    would_integrate ${s.counts.would_integrate}, would_block ${s.counts.would_block}, superseded ${s.counts.superseded}`,
    `ingestion:  ${s.ingestion.lag_lines} line(s), ${s.ingestion.lag_bytes} byte(s) behind the end of readiness.jsonl`,
    `rejected:   ${s.rejected} line(s) in rejected.jsonl`,
    `last:       ${last}`,
    `queue:      ${s.queue.length === 0 ? 'empty' : `${s.queue.length} item(s)`}`,
    ...(s.queue.length > 0 ? [table([['#', 'STATUS', 'AGE', 'SLUG', 'BRANCH', 'SHA'], ...s.queue.map((q) => [String(q.position), q.status, `${q.age_seconds}s`, q.slug, q.branch, short(q.sha)])]).replace(/^/gm, '  ')] : []),
  ].join('\n');
}

function formatOutcomes(list: Outcome[]): string {
  if (list.length === 0) return 'no outcomes';
  return table([
    ['DECIDED', 'OUTCOME', 'SLUG', 'BRANCH', 'SHA', 'REASONS', 'EPOCH'],
    ...list.map((o) => [o.decided_at, o.outcome, o.slug, o.branch, short(o.sha), [...o.reasons, ...o.conflicts.map((c) => `${c.kind}:${c.path}`)].join(' ') || '-', String(o.lease_epoch)]),
  ]);
}

function formatParity(r: ParityReport): string {
  const pct = (x: number) => `${(x * 100).toFixed(1)}%`;
  const rate = r.agreement_rate === null ? 'n/a (nothing to compare yet)' : `${pct(r.agreement_rate)} (${r.agreements}/${r.compared}), Wilson 95% [${pct(r.wilson95?.[0] ?? 0)}, ${pct(r.wilson95?.[1] ?? 0)}]`;
  return [
    `parity of shadow decisions against ${r.main_ref} (${short(r.main_sha)})`,
    '',
    table([['shadow \\ live', ...FATES], ...(['would_integrate', 'would_block'] as const).map((k) => [k, ...FATES.map((f) => String(r.matrix[k][f]))])]),
    '',
    `agreement:          ${rate}`,
    `unsafe-permissive:  ${r.unsafe_permissive}`,
    `over-strict:        ${r.over_strict}`,
    `pending:            ${r.pending}`,
    `superseded:         ${r.superseded} (not compared)`,
    ...(r.mismatches.length > 0 ? ['', 'mismatches:', ...r.mismatches.map((m) => `  ${m.verdict}: ${m.slug} ${m.branch} ${short(m.sha)} shadow ${m.outcome}${m.reasons.length ? ` [${m.reasons.join(', ')}]` : ''}, live ${m.fate} via ${short(m.evidence)}`)] : []),
    '',
    `agreement means: ${r.definition}`,
  ].join('\n');
}
