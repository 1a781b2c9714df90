/**
 * The holder's journal, `journal.<epoch>.<seq>.jsonl`: a base record (the round it starts from, the
 * live queue items, one enqueue record each, and the stack, one stack_push record each), then the
 * changes since, one record a line: queue enqueues and transitions, stack pushes and drops, round
 * records, tenure starts. Each record carries the epoch that wrote
 * it. The live journal is the one with the highest (epoch, seq): a taker or a compaction writes a new
 * one under a new name, never over an old one, so a late write of an ex-holder (an append, or a whole
 * compaction renamed into place) lands in a journal nobody reads. What changes per round is a few
 * hundred bytes appended; the journal is rewritten only past a size ratio or at a takeover.
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { JournalRecord, QueueItem, Round, StackEntry } from '../contract/types.generated.js';
import { validators } from '../contract/validate.js';
import { assertValid } from './atomic-json.js';
import { readStateFile, replaceFile, stateIoError, unlinkQuietly, writeAll } from './files.js';
import { HolderLog } from './holder-log.js';
import { journalName, numbered, olderThan, type StatePaths } from './paths.js';

export interface JournalFile {
  name: string;
  epoch: number;
  seq: number;
}

/** The live journal: the highest (epoch, seq) in the state directory. */
export function liveJournal(paths: StatePaths): JournalFile | null {
  return numbered(listDir(paths.dir), 'journal')[0] ?? null;
}

export function listDir(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw stateIoError(dir, e, 'read');
  }
}

/** FIFO: by ready_at, ties by log position (the queue's order; readers sort by it too). */
export const fifoBefore = (aMs: number, aPos: number, bMs: number, bPos: number) => aMs < bMs || (aMs === bMs && aPos < bPos);

export interface JournalState {
  file: JournalFile | null;
  size: number;
  /** The last round record (the base's round when none followed). */
  round: Round | null;
  /** Live queue items in FIFO order. */
  items: QueueItem[];
  /** The stack (base: queue), in decision order. */
  stack: StackEntry[];
  /**
   * Stack entries named by a stack record after the last round: what the journal already knows
   * about decisions the ledger holds after that round (the ledger fills in what a crash lost).
   */
  stackSeen: Set<string>;
  /** The highest epoch that wrote a record. */
  epoch: number;
  /** What was recognised as stale or broken and left out (each one a log line for the holder). */
  problems: string[];
  /** Bytes of records since the base: the compaction ratio looks at them. */
  changeBytes: number;
}

const emptyJournal = (): JournalState => ({ file: null, size: 0, round: null, items: [], stack: [], stackSeen: new Set(), epoch: 0, problems: [], changeBytes: 0 });

/** A stack entry's identity: the candidate and the readiness episode it was decided in. */
export const stackKey = (e: { slug: string; branch: string; sha: string; episode?: number | undefined }): string => `${e.slug}\0${e.branch}\0${e.sha}\0${e.episode ?? 1}`;

/**
 * Reads a journal and replays it: the queue's live items and the last round. Lines that are not
 * valid records (a torn tail after a crash) and records older than one already read (an epoch that
 * went back: an ex-holder's write) are left out and named in `problems`.
 */
export function readJournal(paths: StatePaths, file: JournalFile | null = liveJournal(paths)): JournalState {
  const state = emptyJournal();
  if (!file) return state;
  const path = join(paths.dir, file.name);
  const bytes = readStateFile(path, 1 << 30);
  if (bytes === null) return state;
  state.file = file;
  state.size = bytes.length;
  const live = new Map<string, QueueItem>();
  const stack = new Map<string, StackEntry>();
  let lineNo = 0;
  let start = 0;
  let sawBase = false;
  for (let nl = bytes.indexOf(10); nl !== -1 || start < bytes.length; nl = bytes.indexOf(10, start)) {
    const end = nl === -1 ? bytes.length : nl;
    const text = bytes.subarray(start, end).toString('utf8');
    const lineBytes = end - start + 1;
    start = end + 1;
    lineNo += 1;
    if (text.trim() === '') continue;
    let record: unknown;
    try {
      record = JSON.parse(text);
    } catch {
      record = null;
    }
    if (!validators.journal(record)) {
      state.problems.push(`${file.name}:${lineNo}: not a journal record${nl === -1 ? ' (a torn last line)' : ''}; left out`);
      continue;
    }
    const r: JournalRecord = record;
    if (r.epoch < state.epoch) {
      state.problems.push(`${file.name}:${lineNo}: a ${r.t} record of epoch ${r.epoch} after epoch ${state.epoch} (an ex-holder's late write); left out`);
      continue;
    }
    state.epoch = r.epoch;
    if (sawBase) state.changeBytes += lineBytes;
    switch (r.t) {
      case 'base':
        sawBase = true;
        state.round = r.round;
        live.clear();
        stack.clear();
        state.stackSeen.clear();
        break;
      case 'round':
        state.round = r.round;
        state.stackSeen.clear();
        break;
      case 'stack_push': {
        const key = stackKey(r.entry);
        state.stackSeen.add(key);
        for (const [k, e] of stack) {
          if (e.slug !== r.entry.slug || k === key) continue;
          state.problems.push(`${file.name}:${lineNo}: ${r.entry.slug} pushed onto the stack while ${e.branch}@${e.sha} was in it; the newer one is kept`);
          stack.delete(k);
        }
        // Map order is insertion order: a push goes to the end, as the decision did.
        stack.delete(key);
        stack.set(key, r.entry);
        break;
      }
      case 'stack_drop': {
        const key = stackKey(r);
        state.stackSeen.add(key);
        stack.delete(key);
        break;
      }
      case 'enqueue': {
        const prior = live.get(r.item.slug);
        if (prior) state.problems.push(`${file.name}:${lineNo}: ${r.item.slug} enqueued while ${prior.branch}@${prior.sha} was live; the newer one is kept`);
        live.set(r.item.slug, r.item);
        break;
      }
      case 'transition': {
        const item = live.get(r.slug);
        if (!item || item.branch !== r.branch || item.sha !== r.sha) {
          state.problems.push(`${file.name}:${lineNo}: a transition of ${r.slug} ${r.branch}@${r.sha}, which is not in the queue; left out`);
          break;
        }
        item.transitions.push(r.transition);
        if (r.transition.to === 'queued' || r.transition.to === 'in_progress') item.status = r.transition.to;
        else live.delete(r.slug);
        break;
      }
      case 'drop': {
        const item = live.get(r.slug);
        if (item && item.branch === r.branch && item.sha === r.sha) live.delete(r.slug);
        break;
      }
      case 'tenure':
        break;
    }
  }
  if (!sawBase && state.size > 0) state.problems.push(`${file.name}: no base record; its records were read without one`);
  state.stack = [...stack.values()];
  state.items = [...live.values()].sort((a, b) => (fifoBefore(Date.parse(a.ready_at), a.log_offset, Date.parse(b.ready_at), b.log_offset) ? -1 : 1));
  return state;
}

/**
 * Writes a new journal under its own name (base, its items and its stack, nothing else), durably,
 * then removes the older ones (never a newer one: a taker's). Returns its descriptor for appends.
 */
export function writeJournal(paths: StatePaths, file: JournalFile, base: Extract<JournalRecord, { t: 'base' }>, items: readonly QueueItem[], stack: readonly StackEntry[] = []): HolderLog {
  const path = join(paths.dir, file.name);
  const records: JournalRecord[] = [
    stack.length > 0 ? { ...base, stack: stack.length } : base,
    ...items.map((item): JournalRecord => ({ t: 'enqueue', epoch: base.epoch, item })),
    ...stack.map((entry): JournalRecord => ({ t: 'stack_push', epoch: base.epoch, entry })),
  ];
  const text = records.map((r) => (assertValid(path, r, validators.journal), `${JSON.stringify(r)}\n`)).join('');
  replaceFile(path, (fd) => writeAll(fd, Buffer.from(text)));
  const log = HolderLog.open(path, { rotatable: false });
  for (const old of numbered(listDir(paths.dir), 'journal')) if (olderThan(old, file)) unlinkQuietly(join(paths.dir, old.name));
  return log;
}

export const journalFile = (epoch: number, seq: number): JournalFile => ({ name: journalName(epoch, seq), epoch, seq });
