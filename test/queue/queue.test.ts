/** The queue's rules as pure logic: the transition table, FIFO order, deduplication, rebuilding from items, and next() that stays O(1). */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { QueueItem } from '../../src/contract/types.generated.js';
import { QueueState, TRANSITIONS, type ItemState } from '../../src/queue/queue.js';
import type { Candidate } from '../../src/readiness/projection.js';
import { at, shaOf } from '../support/index.js';

const NOW = new Date('2026-06-01T00:00:00Z');
const cand = (n: number, readyAt = at(n), logOffset = n * 100): Candidate => ({ slug: `s${n}`, branch: `b${n}`, sha: shaOf(n), ready_at: readyAt, log_offset: logOffset });
const enqueue = (q: QueueState, c: Candidate) => q.enqueue(c, Date.parse(c.ready_at), NOW.toISOString()) !== null;
const slugs = (q: QueueState) => q.list().map((it) => it.slug);

const ALL: ItemState[] = ['queued', 'in_progress', 'would_integrate', 'would_block', 'superseded'];
const LEGAL: Record<'queued' | 'in_progress', ItemState[]> = {
  queued: ['in_progress', 'superseded'],
  in_progress: ['queued', 'would_integrate', 'would_block', 'superseded'],
};

describe('transition table', () => {
  test('is exactly the documented one', () => {
    assert.deepEqual(TRANSITIONS, LEGAL);
  });

  for (const from of ['queued', 'in_progress'] as const) {
    for (const to of ALL) {
      const legal = LEGAL[from].includes(to);
      test(`${from} → ${to}: ${legal ? 'allowed' : 'throws'}`, () => {
        const q = new QueueState();
        const c = cand(1);
        enqueue(q, c);
        if (from === 'in_progress') q.transition(c, 'in_progress', 'dequeued', NOW, 1);
        const before = JSON.stringify(q.list());
        if (!legal) {
          assert.throws(() => q.transition(c, to, 'x', NOW, 1), new RegExp(`illegal queue transition ${from} → ${to}`));
          assert.equal(JSON.stringify(q.list()), before, 'an illegal transition changes nothing');
          return;
        }
        const item = q.transition(c, to, 'why', NOW, 7);
        assert.deepEqual(item.transitions.at(-1), { at: NOW.toISOString(), from, to, reason: 'why', epoch: 7 });
        if (to === 'queued' || to === 'in_progress') {
          assert.equal(q.get(c)?.status, to);
          assert.equal(q.length, 1);
        } else {
          assert.equal(q.get(c), undefined, 'a terminal outcome removes the item');
          assert.equal(q.length, 0);
          assert.deepEqual(q.list(), []);
          assert.throws(() => q.transition(c, 'in_progress', 'again', NOW, 1), /is not in the queue/);
        }
      });
    }
  }

  test('a candidate that is not in the queue cannot transition', () => {
    const q = new QueueState();
    enqueue(q, cand(1));
    assert.throws(() => q.transition({ slug: 's1', branch: 'b1', sha: shaOf(2) }, 'in_progress', 'x', NOW, 1), /is not in the queue/);
    assert.throws(() => q.transition(cand(2), 'in_progress', 'x', NOW, 1), /is not in the queue/);
  });
});

describe('enqueue, order, dedup', () => {
  test('FIFO by ready_at, whatever order candidates become ready in', () => {
    const q = new QueueState();
    for (const n of [5, 1, 4, 2, 3]) enqueue(q, cand(n));
    assert.deepEqual(slugs(q), ['s1', 's2', 's3', 's4', 's5']);
  });

  test('equal ready_at: by log offset', () => {
    const q = new QueueState();
    enqueue(q, cand(1, at(0), 900));
    enqueue(q, cand(2, at(0), 100));
    enqueue(q, cand(3, at(0), 500));
    enqueue(q, cand(4, at(-1), 9999));
    assert.deepEqual(slugs(q), ['s4', 's2', 's3', 's1']);
  });

  test('next() is the first queued item; in-progress ones are skipped', () => {
    const q = new QueueState();
    for (const n of [1, 2, 3]) enqueue(q, cand(n));
    assert.equal(q.next()?.slug, 's1');
    q.transition(cand(1), 'in_progress', 'dequeued', NOW, 1);
    assert.equal(q.next()?.slug, 's2');
    q.transition(cand(2), 'superseded', 'x', NOW, 1);
    assert.equal(q.next()?.slug, 's3');
  });

  test('the same candidate twice is one item; another candidate of a live slug is a bug', () => {
    const q = new QueueState();
    assert.equal(enqueue(q, cand(1)), true);
    assert.equal(enqueue(q, cand(1)), false);
    assert.equal(q.length, 1);
    assert.throws(() => enqueue(q, { ...cand(1), sha: shaOf(99) }), /already has a live item/);
    q.transition(cand(1), 'superseded', 'x', NOW, 1);
    assert.equal(enqueue(q, { ...cand(1), sha: shaOf(99) }), true, 'once it left, the slug may be enqueued again');
  });

  test('a new item starts queued, with its enqueue time and no transitions', () => {
    const q = new QueueState();
    enqueue(q, cand(3));
    assert.deepEqual(q.get(cand(3)), { slug: 's3', branch: 'b3', sha: shaOf(3), status: 'queued', ready_at: at(3), log_offset: 300, enqueued_at: NOW.toISOString(), episode: 1, transitions: [] });
    assert.equal(q.ofSlug('s3')?.sha, shaOf(3));
    assert.equal(q.ofSlug('s4'), undefined);
  });

  test('drop removes an item without a transition (its outcome is already in the ledger)', () => {
    const q = new QueueState();
    enqueue(q, cand(1));
    assert.equal(q.drop(cand(2)), undefined);
    assert.equal(q.drop(cand(1))?.slug, 's1');
    assert.equal(q.length, 0);
  });

  test('many removals (lazy compaction) keep order and membership right', () => {
    const q = new QueueState();
    for (let n = 0; n < 1000; n++) enqueue(q, cand(n));
    for (let n = 0; n < 1000; n += 3) {
      q.transition(cand(n), 'in_progress', 'd', NOW, 1);
      q.transition(cand(n), 'would_block', 'd', NOW, 1);
    }
    for (let n = 1; n < 1000; n += 3) q.drop(cand(n));
    enqueue(q, cand(5000, at(1.5), 0));
    // 5000 is ready at 1.5 s: between nothing removed (s0, s1 are gone) and s2.
    const want = [5000, ...Array.from({ length: 1000 }, (_, n) => n).filter((n) => n % 3 === 2)];
    assert.deepEqual(slugs(q), want.map((n) => `s${n}`));
    assert.equal(q.length, want.length);
    assert.equal(q.next()?.slug, 's5000');
  });
});

describe('rebuilt from items (a journal replay)', () => {
  test('the same queue, in FIFO order whatever order the items come in; new items keep being ordered', () => {
    const q = new QueueState();
    for (const n of [3, 1, 2]) enqueue(q, cand(n));
    q.transition(cand(1), 'in_progress', 'dequeued', NOW, 4);
    const back = new QueueState(JSON.parse(JSON.stringify([...q.list()].reverse())) as QueueItem[]);
    assert.deepEqual(back.list(), q.list());
    assert.equal(back.next()?.slug, 's2');
    enqueue(back, cand(0));
    assert.deepEqual(slugs(back), ['s0', 's1', 's2', 's3'], 'a restored queue keeps ordering new items');
    assert.equal(new QueueState().length, 0);
  });

  test('in_progress items come back as in_progress (recovery decides what to do with them)', () => {
    const q = new QueueState();
    enqueue(q, cand(1));
    q.transition(cand(1), 'in_progress', 'dequeued', NOW, 1);
    const back = new QueueState(q.list());
    assert.equal((back.get(cand(1)) as QueueItem).status, 'in_progress');
    back.transition(cand(1), 'queued', 'recovered', NOW, 2);
    assert.equal(back.next()?.slug, 's1');
  });
});

describe('next() does not slow down as the queue is drained', () => {
  test('20,000 items drained front to back: next() looks at a bounded number of items each time', () => {
    const q = new QueueState();
    for (let n = 0; n < 20_000; n++) enqueue(q, cand(n, at(n), n));
    // Counted, not timed: an item read by next() is one property access on it.
    let reads = 0;
    const list = q.list() as QueueItem[];
    for (const it of list) {
      let status = it.status;
      Object.defineProperty(it, 'status', {
        get: () => (reads++, status),
        set: (v: QueueItem['status']) => void (status = v),
        enumerable: true,
      });
    }
    for (let n = 0; n < 20_000; n++) {
      const it = q.next();
      assert.equal(it?.slug, `s${n}`);
      q.transition(it, 'in_progress', 'd', NOW, 1);
      q.transition(it, 'would_block', 'd', NOW, 1);
    }
    assert.equal(q.next(), undefined);
    assert.ok(reads < 20_000 * 8, `${reads} item reads for 20,000 decisions`);
  });
});
