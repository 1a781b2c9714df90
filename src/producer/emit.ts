/**
 * The producer side (the `emit` command and the hooks), outside the pure readiness core: validate one
 * readiness event and append it as exactly one line, in a single O_APPEND write, so that emitters in
 * many worktrees at once never interleave or lose a line.
 */
import { randomUUID } from 'node:crypto';
import { userInfo } from 'node:os';
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

/**
 * `retry <slug> [--sha SHA]`: a retry_requested event, requested now by `requestedBy` (default: the
 * user, as USER or LOGNAME or the account name say). All input goes through the readiness log, so a
 * retry is audited there and reading the log again never repeats it (see readiness/projection.ts).
 */
export function requestRetry(loaded: LoadedConfig, ctx: Context, req: { slug: string; sha?: string | undefined; requestedBy?: string | undefined; id?: string | undefined }) {
  const fields: Record<string, unknown> = { slug: req.slug, requested_by: req.requestedBy ?? userOf(ctx.env) };
  if (req.sha !== undefined) fields.sha = req.sha;
  if (req.id !== undefined) fields.id = req.id;
  return emit(loaded, ctx, 'retry_requested', fields);
}

/** Who runs this command: USER, LOGNAME, then the account (hooks and cron may run without USER). */
export function userOf(env: NodeJS.ProcessEnv): string {
  return (env.USER || env.LOGNAME || accountName() || 'unknown').slice(0, 256);
}

/** The account this process runs as; empty when the system cannot tell. */
function accountName(): string {
  try {
    return userInfo().username;
  } catch {
    return '';
  }
}
