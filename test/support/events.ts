/** Readiness events for tests: candidates, their three events, and appending them to a log. */
import { appendFileSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { ReadinessEvent } from '../../src/contract/types.generated.js';
import { at } from './clock.js';

export const shaOf = (n: number): string => n.toString(16).padStart(40, '0');

export interface CandidateRef {
  slug: string;
  branch: string;
  sha: string;
}

export const keyOf = (c: CandidateRef): string => `${c.slug} ${c.branch} ${c.sha}`;

export function approved(slug: string, extra: Partial<ReadinessEvent> = {}): ReadinessEvent {
  return { type: 'review_approved', slug, approved_at: at(0), review_round: 1, reviewer_session_id: 'rev', ...extra } as ReadinessEvent;
}

export function finalized(slug: string, branch: string, sha: string, readyAt: string, extra: Partial<ReadinessEvent> = {}): ReadinessEvent {
  return { type: 'finalize_ready', slug, branch, sha, worker_session_id: 'w', orchestrator_session_id: 'o', ready_at: readyAt, ...extra } as ReadinessEvent;
}

export function pushed(branch: string, sha: string, remote = 'origin', extra: Partial<ReadinessEvent> = {}): ReadinessEvent {
  return { type: 'branch_pushed', branch, sha, remote, pushed_at: at(0), pusher: 'agent', ...extra } as ReadinessEvent;
}

/**
 * The three events that make candidate `c` ready at `readyAt` (approved and pushed at T0), with
 * idempotency ids when `ids` is given: `ra-<ids>`, `fr-<ids>`, `bp-<ids>`.
 */
export function readyEvents(c: CandidateRef, readyAt: string, ids?: string): [ReadinessEvent, ReadinessEvent, ReadinessEvent] {
  const id = (prefix: string) => (ids === undefined ? {} : { id: `${prefix}-${ids}` });
  return [approved(c.slug, id('ra')), finalized(c.slug, c.branch, c.sha, readyAt, id('fr')), pushed(c.branch, c.sha, 'origin', id('bp'))];
}

/** Candidate n: slug s<n>, branch b<n>, sha shaOf(n). */
export const candidate = (n: number): CandidateRef => ({ slug: `s${n}`, branch: `b${n}`, sha: shaOf(n) });

/** The three events that make candidate n ready at `readyAt` (ids ra-n, fr-n, bp-n). */
export const candidateEvents = (n: number, readyAt = at(n)) => readyEvents(candidate(n), readyAt, String(n));

/**
 * Appends events (objects), raw text lines (strings, newline added) or raw bytes (as given) to a log,
 * creating its directory; returns the 1-based line number of each item (one line each).
 */
export function appendEvents(file: string, items: readonly (object | string | Buffer)[]): number[] {
  mkdirSync(dirname(file), { recursive: true });
  let before = 0;
  try {
    const text = readFileSync(file);
    for (let i = text.indexOf(10); i !== -1; i = text.indexOf(10, i + 1)) before += 1;
  } catch {
    // a new log
  }
  const parts = items.map((it) => (Buffer.isBuffer(it) ? it : Buffer.from(`${typeof it === 'string' ? it : JSON.stringify(it)}\n`)));
  appendFileSync(file, Buffer.concat(parts));
  return items.map((_, i) => before + i + 1);
}
