/**
 * The outcome ledger: outcomes.jsonl, append-only, one decision a line. It is the commit point of a
 * decision: an outcome is appended before its queue item is removed, and recovery reads the ledger
 * after the last checkpoint to finish what a crash interrupted.
 */
import { errors } from '../contract/errors.js';
import type { Outcome } from '../contract/types.generated.js';
import { validators } from '../contract/validate.js';
import { appendRecords, readRange } from '../store/jsonl.js';

/** Appends in one write and fsyncs; returns the ledger size after it. */
export function appendOutcomes(path: string, outcomes: readonly Outcome[]): number {
  for (const o of outcomes) {
    // Our own bug must not reach the ledger that scripts rely on.
    if (!validators.outcome(o)) throw errors.internal('appending to the ledger', `invalid outcome ${JSON.stringify(validators.outcome.errors)}`);
  }
  return appendRecords(path, outcomes, { singleWriter: true });
}

export interface LedgerRead {
  outcomes: Outcome[];
  /** Offset after the last whole line read. */
  end: number;
  /** Lines that were not valid outcomes (a torn last write is simply not read yet). */
  invalid: number;
}

/** Reads the whole outcome lines from `from` on; a torn last line (crash mid-append) is left unread. */
export function readOutcomes(path: string, from = 0): LedgerRead {
  const buf = readRange(path, from);
  if (buf.length === 0) return { outcomes: [], end: from, invalid: 0 };
  const lastNewline = buf.lastIndexOf(10);
  const outcomes: Outcome[] = [];
  let invalid = 0;
  for (const line of buf.subarray(0, lastNewline + 1).toString('utf8').split('\n')) {
    if (!line) continue;
    try {
      const o: unknown = JSON.parse(line);
      if (validators.outcome(o)) outcomes.push(o);
      else invalid += 1;
    } catch {
      invalid += 1;
    }
  }
  return { outcomes, end: from + lastNewline + 1, invalid };
}
