/** `outcomes`: the ledger, filtered; JSON Lines under --json. */
import type { Outcome } from '../../contract/types.generated.js';
import { parseOutcomeKind, parseSince } from '../../report/filters.js';
import { listOutcomes } from '../../report/outcomes.js';
import type { Call, Output } from '../command.js';
import { outcomeDetail, short, table } from '../format.js';

export async function outcomes(call: Call<{ json?: boolean; slug?: string; outcome?: string; since?: string }>): Promise<Output> {
  const { ctx, opts } = call;
  const filter = {
    slug: opts.slug,
    outcome: opts.outcome === undefined ? undefined : parseOutcomeKind(opts.outcome),
    since: opts.since === undefined ? undefined : parseSince(opts.since, ctx.now()),
  };
  const r = listOutcomes(await call.config(), ctx, filter);
  return {
    json: r.outcomes,
    // One outcome a line, and nothing at all when there is none: jq sees only outcomes.
    jsonText: () => r.outcomes.map((x) => JSON.stringify(x)).join('\n'),
    text: () => formatOutcomes(r.outcomes, r.invalid),
  };
}

function formatOutcomes(outcomes: readonly Outcome[], invalid: number): string {
  const rows = outcomes.map((o) => [o.decided_at, o.outcome, o.slug, o.branch, short(o.sha), outcomeDetail(o)]);
  const footer = `${outcomes.length} outcome(s)${invalid > 0 ? `; ${invalid} ledger line(s) are not valid outcomes` : ''}`;
  return outcomes.length === 0 ? footer : `${table([['DECIDED_AT', 'OUTCOME', 'SLUG', 'BRANCH', 'SHA', 'DETAIL'], ...rows])}\n${footer}`;
}
