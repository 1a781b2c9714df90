/** The event fields `emit` takes as flags (`--worker-session-id` for worker_session_id). */
export const EMIT_FIELDS = [
  'slug',
  'branch',
  'sha',
  'remote',
  'pusher',
  'worker_session_id',
  'orchestrator_session_id',
  'reviewer_session_id',
  'review_round',
  'ready_at',
  'approved_at',
  'pushed_at',
  'requested_by',
  'requested_at',
] as const;
