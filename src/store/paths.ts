import { join } from 'node:path';

/** Where each state file lives inside the state directory. */
export interface StatePaths {
  dir: string;
  /** The append-only input log (producers append; rotatable). */
  readiness: string;
  /** The outcome ledger (the holder appends; rotatable). */
  outcomes: string;
  /** Quarantined input lines (the holder appends; rotatable). */
  rejected: string;
  lease: string;
  /** The small header rewritten each round: a cache of the journal's last round record. */
  checkpoint: string;
  /** `epochs/<n>`: the exclusive claim of lease epoch n. */
  epochs: string;
  scratch: string;
  /** proper-lockfile's lock directory: the short mutex around read-modify-write of the lease. */
  mutex: string;
  /** Who holds the mutex (host, pid), so that a mutex left by a killed process of this host is broken at once. */
  mutexOwner: string;
}

export function statePaths(dir: string): StatePaths {
  return {
    dir,
    readiness: join(dir, 'readiness.jsonl'),
    outcomes: join(dir, 'outcomes.jsonl'),
    rejected: join(dir, 'rejected.jsonl'),
    lease: join(dir, 'lease.json'),
    checkpoint: join(dir, 'checkpoint.json'),
    epochs: join(dir, 'epochs'),
    scratch: join(dir, 'scratch'),
    mutex: join(dir, 'state.lock'),
    mutexOwner: join(dir, 'state.lock.owner'),
  };
}

/** `journal.<epoch>.<seq>.jsonl`: the holder's journal; the live one is the highest (epoch, seq). */
export const journalName = (epoch: number, seq: number) => `journal.${epoch}.${seq}.jsonl`;
/** `projection.<epoch>.<seq>.snap`: a projection snapshot, referenced by the round that follows it. */
export const snapshotName = (epoch: number, seq: number) => `projection.${epoch}.${seq}.snap`;

const NUMBERED = /^(journal|projection)\.(\d+)\.(\d+)\.(jsonl|snap)$/;

/** Journal or snapshot files among `names`, newest (highest epoch, then seq) first. */
export function numbered(names: readonly string[], kind: 'journal' | 'projection'): { name: string; epoch: number; seq: number }[] {
  const out: { name: string; epoch: number; seq: number }[] = [];
  for (const name of names) {
    const m = NUMBERED.exec(name);
    if (m && m[1] === kind) out.push({ name, epoch: Number(m[2]), seq: Number(m[3]) });
  }
  return out.sort((a, b) => b.epoch - a.epoch || b.seq - a.seq);
}

/**
 * Whether numbered file `a` is older than `b`. A writer removes only older ones: a newer one is a
 * taker's (the writer lost the lease while it wrote), which its late write must leave alone.
 */
export const olderThan = (a: { epoch: number; seq: number }, b: { epoch: number; seq: number }): boolean => a.epoch < b.epoch || (a.epoch === b.epoch && a.seq < b.seq);
