/** The checks every runtime test ends with: exactly one outcome per candidate, never two holders at once. */
import assert from 'node:assert/strict';
import type { Outcome } from '../../src/contract/types.generated.js';
import { readOutcomes } from '../../src/ledger/ledger.js';
import { appendRecords } from '../../src/store/jsonl.js';
import type { StatePaths } from '../../src/store/paths.js';
import { keyOf } from './events.js';

export const ledger = (paths: StatePaths): Outcome[] => readOutcomes(paths).outcomes;

/** Outcomes appended to the ledger as if a holder had decided them (no lease, no validation). */
export const appendLedger = (paths: StatePaths, outcomes: readonly Outcome[]): number => appendRecords(paths.outcomes, outcomes);

/** Each epoch's outcomes form one contiguous block, and epochs only grow: never two holders at once. */
export function assertEpochsContiguous(outcomes: readonly Outcome[]): void {
  const closed = new Set<number>();
  let current = -1;
  for (const [i, o] of outcomes.entries()) {
    if (o.lease_epoch === current) continue;
    assert.ok(!closed.has(o.lease_epoch) && o.lease_epoch > current, `outcome ${i}: epoch ${o.lease_epoch} writes again after epoch ${current}`);
    closed.add(current);
    current = o.lease_epoch;
  }
}

/** Exactly one outcome for each expected candidate (`keyOf`) and none for anything else; epochs contiguous. */
export function assertExactlyOnce(outcomes: readonly Outcome[], expected: Iterable<string>): void {
  assertEpochsContiguous(outcomes);
  const count = new Map<string, number>();
  for (const o of outcomes) count.set(keyOf(o), (count.get(keyOf(o)) ?? 0) + 1);
  const want = new Set(expected);
  const problems: string[] = [];
  for (const k of want) if (count.get(k) !== 1) problems.push(`${k}: ${count.get(k) ?? 0} outcomes`);
  for (const k of count.keys()) if (!want.has(k)) problems.push(`${k}: unexpected outcome`);
  assert.deepEqual(problems.slice(0, 20), [], `exactly-once violated (${problems.length} problem(s))`);
}
