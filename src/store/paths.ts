import { join } from 'node:path';

/** Where each state file lives inside the state directory (names fixed by the contract). */
export interface StatePaths {
  dir: string;
  readiness: string;
  outcomes: string;
  rejected: string;
  queue: string;
  lease: string;
  checkpoint: string;
  scratch: string;
  /** proper-lockfile's lock directory: the short mutex around read-modify-write of state files. */
  mutex: string;
}

export function statePaths(dir: string): StatePaths {
  return {
    dir,
    readiness: join(dir, 'readiness.jsonl'),
    outcomes: join(dir, 'outcomes.jsonl'),
    rejected: join(dir, 'rejected.jsonl'),
    queue: join(dir, 'queue.json'),
    lease: join(dir, 'lease.json'),
    checkpoint: join(dir, 'checkpoint.json'),
    scratch: join(dir, 'scratch'),
    mutex: join(dir, 'state.lock'),
  };
}
