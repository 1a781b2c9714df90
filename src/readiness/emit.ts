/**
 * The producer side: validate one readiness event and append it as exactly one line, in a single
 * O_APPEND write, so that emitters in many worktrees at once never interleave or lose a line.
 */
import { randomUUID } from 'node:crypto';
import type { LoadedConfig } from '../config/config.js';
import { openStateDir } from '../config/state.js';
import type { Context } from '../context.js';
import { errors } from '../contract/errors.js';
import type { EventType, ReadinessEvent } from '../contract/types.generated.js';
import { describeErrors, formatProblems, validators } from '../contract/validate.js';
import { appendRecord } from '../store/jsonl.js';

/** Each event type's own timestamp field; `satisfies` keeps it in step with the schema's event types. */
export const EVENT_TIME_FIELD = { review_approved: 'approved_at', finalize_ready: 'ready_at', branch_pushed: 'pushed_at', retry_requested: 'requested_at' } as const satisfies Record<EventType, string>;
export type { EventType };

export function isEventType(t: string): t is EventType {
  return Object.hasOwn(EVENT_TIME_FIELD, t);
}

/** Fills the event's timestamp with now and `id` with a fresh one when omitted, then validates. */
export function completeEvent(type: EventType, fields: Record<string, unknown>, now: Date): ReadinessEvent {
  const timeField = EVENT_TIME_FIELD[type];
  const event: Record<string, unknown> = { type, id: randomUUID(), ...fields };
  if (event.type !== type) throw errors.eventInvalid([`type: ${JSON.stringify(event.type)} does not match the command's type ${type}`]);
  event[timeField] ??= now.toISOString();
  if (!validators.event(event)) throw errors.eventInvalid(formatProblems(describeErrors(validators.event.errors, event)));
  return event;
}

export function emit(loaded: LoadedConfig, ctx: Context, type: EventType, fields: Record<string, unknown>): { event: ReadinessEvent; file: string } {
  const event = completeEvent(type, fields, ctx.now());
  const paths = openStateDir(loaded);
  appendRecord(paths.readiness, event);
  return { event, file: paths.readiness };
}
