/**
 * The outcome ledger: outcomes.jsonl, append-only, one decision a line, rotatable. It is the commit
 * point and the authority: a candidate whose outcome is in the ledger is never evaluated or appended
 * again, whatever the queue says. The holder appends through its tenure's descriptor (store/holder-log.ts).
 */
import type { LogPosition, Outcome } from '../contract/types.generated.js';
import { validators } from '../contract/validate.js';
import { assertValid } from '../store/atomic-json.js';
import type { HolderLog } from '../store/holder-log.js';
import type { StatePaths } from '../store/paths.js';
import { forEachOutcome } from '../store/readers.js';

/**
 * Appends outcomes in one write. `fsync` false groups the fsync of a round's decisions (the caller
 * syncs before anything that depends on them is written). Returns the ledger size after it.
 */
export function appendOutcomes(log: HolderLog, outcomes: readonly Outcome[], opts: { fsync: boolean }): number {
  // Our own bug must not reach the ledger that scripts rely on.
  for (const o of outcomes) assertValid(log.path, o, validators.outcome);
  return log.append(outcomes.map((o) => `${JSON.stringify(o)}\n`).join(''), opts);
}

export interface LedgerRead {
  outcomes: Outcome[];
  /** Lines that are not valid outcomes (a torn line after a crash, a hand edit). */
  invalid: number;
}

/** Every outcome from `from` on (the whole ledger, rotated segments included, by default). */
export function readOutcomes(paths: StatePaths, from: LogPosition | null = null): LedgerRead {
  const outcomes: Outcome[] = [];
  const { invalid } = forEachOutcome(paths, (o) => outcomes.push(o), from);
  return { outcomes, invalid };
}
