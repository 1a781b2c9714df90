/**
 * The filters the reports share (`--outcome`, `--since`, `--slug`), validated against the contract:
 * a bad value is a usage error that names what is allowed.
 */
import { errors } from '../contract/errors.js';
import { OUTCOME_KIND_VALUES, type Outcome, type OutcomeKind } from '../contract/types.generated.js';

/** The outcome kinds, from the schema (the single source of truth), without reading it at run time. */
export const OUTCOME_KINDS: readonly OutcomeKind[] = OUTCOME_KIND_VALUES;

export function parseOutcomeKind(text: string): OutcomeKind {
  const kind = OUTCOME_KINDS.find((k) => k === text);
  if (!kind) throw errors.optionInvalid('--outcome', text, `allowed values are ${OUTCOME_KINDS.join(', ')}`, OUTCOME_KINDS);
  return kind;
}

const UNIT_MS = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 } as const;
const RELATIVE = /^(\d+)([smhdw])$/;
const DATE_ONLY = /^\d{4}-\d{2}-\d{2}$/;
const DATE_TIME_WITH_ZONE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/i;

export const SINCE_FORMS = 'an ISO 8601 date-time with a zone (2026-01-31T12:00:00Z, 2026-01-31T14:00+02:00), a date (2026-01-31, midnight UTC) or a duration back from now (90s, 30m, 24h, 7d, 2w)';

/** `--since`: an absolute instant, or a duration back from `now`. */
export function parseSince(text: string, now: Date): Date {
  const rel = RELATIVE.exec(text);
  if (rel) return new Date(now.getTime() - Number(rel[1]) * UNIT_MS[rel[2] as keyof typeof UNIT_MS]);
  const ms = DATE_ONLY.test(text) ? Date.parse(`${text}T00:00:00Z`) : DATE_TIME_WITH_ZONE.test(text) ? Date.parse(text) : NaN;
  if (Number.isNaN(ms)) throw errors.optionInvalid('--since', text, `use ${SINCE_FORMS}`);
  return new Date(ms);
}

export interface OutcomeFilter {
  slug?: string | undefined;
  outcome?: OutcomeKind | undefined;
  since?: Date | undefined;
}

export function matchesFilter(o: Outcome, f: OutcomeFilter): boolean {
  return (f.slug === undefined || o.slug === f.slug) && (f.outcome === undefined || o.outcome === f.outcome) && (f.since === undefined || Date.parse(o.decided_at) >= f.since.getTime());
}
