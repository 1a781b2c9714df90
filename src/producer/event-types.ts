/**
 * The readiness event types and the timestamp field each one carries, apart from emit.ts so that the
 * command line can list them without loading the validators.
 */
import { EVENT_TYPE_VALUES, type EventType } from '../contract/types.generated.js';

export type { EventType };

/** Each event type's own timestamp field; `satisfies` keeps it in step with the schema's event types. */
export const EVENT_TIME_FIELD = { review_approved: 'approved_at', finalize_ready: 'ready_at', branch_pushed: 'pushed_at', retry_requested: 'requested_at' } as const satisfies Record<EventType, string>;
export const EVENT_TYPES: readonly EventType[] = EVENT_TYPE_VALUES;

export function isEventType(t: string): t is EventType {
  return Object.hasOwn(EVENT_TIME_FIELD, t);
}
