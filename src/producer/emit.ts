/**
 * The producer side (the `emit` command and the hooks), outside the pure readiness core: validate one
 * readiness event and append it as exactly one line, in a single O_APPEND write, so that emitters in
 * many worktrees at once never interleave or lose a line.
 */
import { randomUUID } from 'node:crypto';
import type { LoadedConfig } from '../config/config.js';
import { openStateDir } from '../config/state.js';
import type { Context } from '../context.js';
import { errors } from '../contract/errors.js';
import type { ReadinessEvent } from '../contract/types.generated.js';
import { describeErrors, formatProblems, validators } from '../contract/validate.js';
import { appendRecord } from '../store/jsonl.js';
import { EVENT_TIME_FIELD, type EventType } from './event-types.js';


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
