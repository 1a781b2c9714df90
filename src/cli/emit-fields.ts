/**
 * The event fields `emit` takes as flags (`--worker-session-id` for worker_session_id), and what its
 * --help says each event type needs: both from the schema's fields of each event type
 * (READINESS_EVENT_FIELDS, generated from schemas/readiness-event.schema.json), never a copy.
 */
import { READINESS_EVENT_FIELDS } from '../contract/types.generated.js';
import { EVENT_TIME_FIELD, EVENT_TYPES } from '../producer/event-types.js';
import { table } from './format.js';

export const flagOf = (field: string) => `--${field.replace(/_/g, '-')}`;

/** Every field of any event type but `id` (an option of its own), in the schema's order. */
export const EMIT_FIELDS: readonly string[] = [...new Set(EVENT_TYPES.flatMap((t) => [...READINESS_EVENT_FIELDS[t].required, ...READINESS_EVENT_FIELDS[t].optional]))].filter((f) => f !== 'id');

/** The part of `emit --help` that says which fields each event type needs. */
export function emitFieldsHelp(): string {
  const rows = EVENT_TYPES.map((type) => {
    const { required, optional } = READINESS_EVENT_FIELDS[type];
    const time = EVENT_TIME_FIELD[type];
    const needed = required.filter((f) => f !== time).map(flagOf);
    const extra = [...optional.filter((f) => f !== 'id'), time].map((f) => `[${flagOf(f)}]`);
    return [type, [...needed, ...extra].join(' ')];
  });
  return [
    '',
    'Fields each event type needs, [optional] (from schemas/readiness-event.schema.json):',
    ...table(rows).split('\n').map((l) => `  ${l}`),
    '',
    'The timestamp (--approved-at, --ready-at, --pushed-at, --requested-at) defaults to now and --id to a fresh UUID.',
    "With --stdin the same fields come as one JSON object (snake_case keys, e.g. {\"slug\": \"x\", \"review_round\": 1}).",
  ].join('\n');
}
