/**
 * The readiness event types and the timestamp field each one carries, apart from emit.ts so that the
 * command line can list them without loading the validators.
 */
export const EVENT_TIME_FIELD = { review_approved: 'approved_at', finalize_ready: 'ready_at', branch_pushed: 'pushed_at', retry_requested: 'requested_at' } as const;
export type EventType = keyof typeof EVENT_TIME_FIELD;
export const EVENT_TYPES = Object.keys(EVENT_TIME_FIELD) as readonly EventType[];

export function isEventType(t: string): t is EventType {
  return Object.hasOwn(EVENT_TIME_FIELD, t);
}
