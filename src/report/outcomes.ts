/** `outcomes`: the ledger, filtered. */
import type { LoadedConfig } from '../config/config.js';
import type { Context } from '../context.js';
import { errors } from '../contract/errors.js';
import type { Outcome, OutcomeKind } from '../contract/types.generated.js';
import { readOutcomes } from '../ledger/ledger.js';
import { statePaths } from '../store/paths.js';

export const OUTCOME_KINDS: readonly OutcomeKind[] = ['would_integrate', 'would_block', 'superseded'];

export interface OutcomeFilter {
  slug?: string | undefined;
  outcome?: string | undefined;
  since?: string | undefined;
}

export function outcomes(loaded: LoadedConfig, ctx: Context, filter: OutcomeFilter): Outcome[] {
  if (filter.outcome !== undefined && !OUTCOME_KINDS.includes(filter.outcome as OutcomeKind)) {
    throw errors.usage(`--outcome "${filter.outcome}" is not an outcome: allowed values are ${OUTCOME_KINDS.join(', ')}`);
  }
  const since = filter.since !== undefined ? parseSince(filter.since, ctx.now()) : null;
  return readOutcomes(statePaths(loaded.config.state_dir).outcomes).outcomes.filter(
    (o) => (filter.slug === undefined || o.slug === filter.slug) && (filter.outcome === undefined || o.outcome === filter.outcome) && (since === null || Date.parse(o.decided_at) >= since),
  );
}

/** An ISO 8601 date-time, or a duration back from now: 30m, 24h, 7d, 2w. */
export function parseSince(value: string, now: Date): number {
  const rel = /^(\d+(?:\.\d+)?)([smhdw])$/.exec(value);
  if (rel) {
    const unit = { s: 1, m: 60, h: 3600, d: 86_400, w: 604_800 }[rel[2] as 's' | 'm' | 'h' | 'd' | 'w'];
    return now.getTime() - Number(rel[1]) * unit * 1000;
  }
  const t = /^\d{4}-\d{2}-\d{2}/.test(value) ? Date.parse(value) : NaN;
  if (Number.isNaN(t)) throw errors.usage(`--since "${value}" is not a time: use an ISO 8601 date-time (2026-11-24T09:00:00Z, 2026-11-24) or a duration back from now (30m, 24h, 7d, 2w)`);
  return t;
}
