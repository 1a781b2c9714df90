/**
 * The stack's rules that need no git (src/runtime/stack.ts), and its journal records: supersession,
 * the window, base: tip, rebuilding from the ledger after a crash lost stack records, and the journal
 * replaying pushes and drops, compacted into a base.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { JournalRecord, Outcome, StackEntry } from '../../src/contract/types.generated.js';
import { droppedForTip, entryOf, expiredEntries, StackRepair, supersededEntry } from '../../src/runtime/stack.js';
import { journalFile, readJournal, stackKey, writeJournal } from '../../src/store/journal.js';
import { HolderLog } from '../../src/store/holder-log.js';
import { at, shaOf, tempDirsRemovedAfter, writeQueueJournal } from '../support/index.js';

const tempDir = tempDirsRemovedAfter();

const entry = (slug: string, n: number, decidedAt = at(n)): StackEntry => ({ slug, branch: `agent/${slug}`, sha: shaOf(n), episode: 1, decided_at: decidedAt, main_sha: shaOf(1000) });

function outcome(slug: string, n: number, kind: Outcome['outcome'], base: 'queue' | 'tip' = 'queue', episode = 1): Outcome {
  return {
    schema_version: 2,
    outcome: kind,
    slug,
    branch: `agent/${slug}`,
    sha: shaOf(n),
    reasons: kind === 'would_integrate' ? [] : ['merge_conflict'],
    conflicts: [],
    main_sha: shaOf(1000),
    merge_base: null,
    merged_tree: null,
    ready_at: at(n),
    enqueued_at: at(n),
    decided_at: at(n),
    lease_epoch: 1,
    duration_ms: 1,
    episode,
    base,
    ahead: [],
  };
}

const slugs = (es: readonly StackEntry[]) => es.map((e) => `${e.slug}@${e.sha.slice(-2)}`);

describe('the stack without git', () => {
  test('a newer candidate of a stacked slug, or a new episode of it, supersedes its entry; the superseding candidate itself does not', () => {
    const stack = [entry('a', 1), entry('b', 2)];
    assert.equal(supersededEntry(stack, 'a')?.entry, stack[0]);
    assert.equal(supersededEntry(stack, 'a', { branch: 'agent/a', sha: shaOf(7) })?.reason, 'superseded');
    assert.equal(supersededEntry(stack, 'a', { branch: 'agent/a', sha: shaOf(1) }), null, 'the entry is the newest itself');
    assert.equal(supersededEntry(stack, 'c'), null);
  });

  test('the window: entries decided longer ago than stack_window_seconds leave, the rest stay', () => {
    const stack = [entry('old', 1, at(0)), entry('new', 2, at(3000))];
    assert.deepEqual(expiredEntries(stack, new Date(Date.parse(at(3600))), 3600).map((d) => [d.entry.slug, d.reason]), []);
    assert.deepEqual(expiredEntries(stack, new Date(Date.parse(at(3601))), 3600).map((d) => [d.entry.slug, d.reason]), [['old', 'window']]);
    assert.deepEqual(droppedForTip(stack).map((d) => d.reason), ['base_tip', 'base_tip']);
  });

  test('rebuilt from the ledger: lost pushes come back in decision order, a later decision of a slug takes its entry out, blocks and base: tip never join', () => {
    const journal = [entry('a', 1)];
    const repair = new StackRepair(journal, new Set(), Date.parse(at(0)));
    for (const o of [outcome('b', 2, 'would_integrate'), outcome('c', 3, 'would_block'), outcome('d', 4, 'would_integrate', 'tip'), outcome('a', 5, 'would_block'), outcome('e', 6, 'would_integrate')]) repair.apply(o);
    const r = repair.result();
    assert.deepEqual(slugs(r.stack), ['b@02', 'e@06']);
    assert.deepEqual(slugs(r.push), ['b@02', 'e@06']);
    assert.deepEqual(r.drop.map((d) => [d.entry.slug, d.reason]), [['a', 'superseded']]);
  });

  test('rebuilt from the ledger: what the journal named after the round is left as the journal has it, and decisions past the window never join', () => {
    const pushed = entry('b', 2);
    const dropped = entry('c', 3);
    const repair = new StackRepair([pushed], new Set([stackKey(pushed), stackKey(dropped)]), Date.parse(at(2)));
    for (const o of [outcome('old', 1, 'would_integrate'), outcome('b', 2, 'would_integrate'), outcome('c', 3, 'would_integrate'), outcome('c', 3, 'would_integrate', 'queue', 2)]) repair.apply(o);
    const r = repair.result();
    assert.deepEqual(slugs(r.stack), ['b@02', 'c@03'], 'c (episode 2) joins; its episode 1 was dropped, as the journal says');
    assert.deepEqual(r.stack.map((e) => e.episode), [1, 2]);
    assert.deepEqual(r.drop, []);
  });

  test('entryOf: what a decision puts on the stack', () => {
    assert.deepEqual(entryOf(outcome('a', 1, 'would_integrate')), entry('a', 1));
  });
});

describe('the stack in the journal', () => {
  const push = (e: StackEntry, epoch = 1): JournalRecord => ({ t: 'stack_push', epoch, entry: e });
  const drop = (e: StackEntry, reason: 'on_main' | 'window' = 'on_main'): JournalRecord => ({ t: 'stack_drop', epoch: 1, at: at(9), slug: e.slug, branch: e.branch, sha: e.sha, episode: e.episode, reason });

  function journalWith(records: JournalRecord[]) {
    const { paths } = tempDir();
    writeQueueJournal(paths, []);
    const log = HolderLog.open(`${paths.dir}/${journalFile(1, 0).name}`, { rotatable: false });
    log.append(records.map((r) => `${JSON.stringify(r)}\n`).join(''), { fsync: false });
    log.close();
    return paths;
  }

  test('pushes and drops replay into the stack in decision order; what was named after the last round is seen', () => {
    const [a, b, c] = [entry('a', 1), entry('b', 2), entry('c', 3)];
    const paths = journalWith([push(a), push(b), drop(a), push(c)]);
    const j = readJournal(paths);
    assert.deepEqual(j.problems, []);
    assert.deepEqual(slugs(j.stack), ['b@02', 'c@03']);
    assert.deepEqual([...j.stackSeen].sort(), [a, b, c].map(stackKey).sort());
  });

  test('a push of a slug already stacked keeps the newer one and says so', () => {
    const paths = journalWith([push(entry('a', 1)), push(entry('a', 2))]);
    const j = readJournal(paths);
    assert.deepEqual(slugs(j.stack), ['a@02']);
    assert.match(j.problems.join('\n'), /a pushed onto the stack while agent\/a@0+1 was in it/);
  });

  test('a compacted journal holds the stack in its base, read back the same', () => {
    const { paths } = tempDir();
    const stack = [entry('b', 2), entry('a', 1)];
    const nowhere = { head_len: 0, head_hash: '', offset: 0 };
    const round = { epoch: 3, at: at(0), log: { dev: 0, ino: 0, offset: 0, lines: 0, base: 0 }, ledger: nowhere, rejected: { count: 0, position: nowhere }, counts: { would_integrate: 2, would_block: 0, superseded: 0 }, snapshot: null, queue: { live: 0, waiting: 0, stacked: 2 } };
    writeJournal(paths, journalFile(3, 1), { t: 'base', epoch: 3, at: at(0), items: 0, round }, [], stack).close();
    const j = readJournal(paths);
    assert.deepEqual(j.stack, stack);
    assert.equal(j.round?.queue.stacked, 2);
    assert.deepEqual(j.problems, []);
  });
});
