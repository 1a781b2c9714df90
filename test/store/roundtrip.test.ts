/**
 * No state file is ever written that its own reader would refuse. Property-based, with a small
 * hand-rolled generator (seeded: a failure names its seed): every state file the tool writes goes
 * through its real writer and is read back by its real reader — lease.json, checkpoint.json, the
 * journal, the epoch claims, a projection snapshot, the ledger and the quarantine. What the writer
 * accepts reads back equal; what it refuses (its reader would) leaves the file as it was.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import type { CheckpointFile, JournalRecord, LeaseFile, Outcome, QueueItem, ReadinessEvent, RejectedLine, Round } from '../../src/contract/types.generated.js';
import { validators } from '../../src/contract/validate.js';
import { appendOutcomes } from '../../src/ledger/ledger.js';
import { Projection, type ProjectionSections } from '../../src/readiness/projection.js';
import { writeJsonAtomic } from '../../src/store/atomic-json.js';
import { claimEpoch, readClaim } from '../../src/store/claims.js';
import { HolderLog } from '../../src/store/holder-log.js';
import { journalFile, readJournal, writeJournal } from '../../src/store/journal.js';
import { forEachOutcome, forEachRejected, readCheckpointFile, readLeaseFile } from '../../src/store/readers.js';
import { readSnapshot, writeSnapshot } from '../../src/store/snapshot.js';
import { tempDirsRemovedAfter } from '../support/index.js';

const dir = tempDirsRemovedAfter();
const RUNS = 60;

/** A seeded PRNG (mulberry32): a failing case is replayed from its seed. */
function prng(seed: number) {
  let s = seed >>> 0;
  const next = () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = Math.imul(s ^ (s >>> 15), s | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (lo: number, hi: number) => lo + Math.floor(next() * (hi - lo + 1));
  const pick = <T>(xs: readonly T[]): T => xs[int(0, xs.length - 1)] as T;
  const chars = ['a', 'z', '0', '-', '.', '_', '/', ' ', '"', '\\', '\n', '\u0000', 'é', '漢', '😀', '\ud800', '\u2028'];
  return {
    next,
    int,
    pick,
    bool: () => next() < 0.5,
    /** Any string: quotes, backslashes, newlines, NUL, multi-byte, a lone surrogate. */
    text: (max = 12) => Array.from({ length: int(0, max) }, () => pick(chars)).join(''),
    slug: () => `${pick(['a', 'z', '0'])}${Array.from({ length: int(0, 20) }, () => pick(['a', '9', '.', '_', '-'])).join('')}`,
    sha: () => Array.from({ length: pick([40, 64]) }, () => pick([...'0123456789abcdef'])).join(''),
    time: () => new Date(int(0, 4_102_444_800_000)).toISOString(),
    /** Mostly valid numbers, sometimes one the schema refuses. */
    count: () => pick([0, 1, int(2, 1e6), 2 ** 52, -1]),
  };
}
type Gen = ReturnType<typeof prng>;

const position = (g: Gen) => ({ head_len: g.int(0, 256), head_hash: g.text(16), offset: g.count() });
const cursor = (g: Gen) => ({
  dev: g.int(0, 1e6),
  ino: g.int(0, 1e9),
  offset: g.count(),
  lines: g.count(),
  base: g.pick([0, 2 ** 32, 2 ** 33]),
  ...(g.bool() ? { head_hash: g.text(16), tail_hash: g.text(16) } : {}),
  ...(g.bool() ? { prev: { dev: 1, ino: g.int(0, 1e9), offset: g.count(), lines: g.count(), base: 0 } } : {}),
});
const round = (g: Gen): Round => ({
  epoch: g.pick([1, g.int(2, 1e6), 0]),
  at: g.time(),
  log: cursor(g),
  ledger: position(g),
  rejected: { count: g.count(), position: position(g) },
  counts: { would_integrate: g.count(), would_block: g.count(), superseded: g.count() },
  snapshot: g.bool() ? null : { file: g.pick(['projection.1.0.snap', 'projection.x.snap']), log: cursor(g), ledger: position(g) },
  queue: { live: g.count(), waiting: g.count() },
});
const queueItem = (g: Gen): QueueItem => ({
  slug: g.text(),
  branch: g.text(),
  sha: g.text(),
  status: g.pick(['queued', 'in_progress']),
  ready_at: g.time(),
  log_offset: g.count(),
  enqueued_at: g.time(),
  episode: g.pick([1, 2, 0]),
  transitions: Array.from({ length: g.int(0, 3) }, () => ({ at: g.time(), from: g.pick(['queued', 'in_progress'] as const), to: g.pick(['queued', 'in_progress', 'would_integrate', 'would_block', 'superseded'] as const), reason: g.text(), epoch: g.count() })),
});

/** Writes through `write`; it must either succeed and read back equal, or refuse (E_INTERNAL) and change nothing. */
function writtenOrRefused(file: string, write: () => void, readBack: () => unknown, want: unknown, seed: number): 'written' | 'refused' {
  const before = readOrNull(file);
  try {
    write();
  } catch (e) {
    assert.equal((e as { code?: string }).code, 'E_INTERNAL', `seed ${seed}: ${String(e)}`);
    assert.equal(readOrNull(file), before, `seed ${seed}: a refused write changed ${file}`);
    return 'refused';
  }
  assert.deepEqual(readBack(), JSON.parse(JSON.stringify(want)), `seed ${seed}`);
  return 'written';
}

const readOrNull = (file: string) => {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return null;
  }
};

/** Both outcomes of the property were exercised: the generator is not always valid, nor always not. */
function assertBoth(results: ('written' | 'refused')[]): void {
  assert.ok(results.includes('written') && results.includes('refused'), JSON.stringify(results.reduce<Record<string, number>>((m, r) => ((m[r] = (m[r] ?? 0) + 1), m), {})));
}

describe('every state file reads back what its writer wrote, or the writer refused it', () => {
  test('lease.json', () => {
    const { paths } = dir();
    const results = Array.from({ length: RUNS }, (_, seed) => {
      const g = prng(seed);
      const lease: LeaseFile = {
        schema_version: 1,
        key: 'integration/main',
        owner: { host: g.text(), pid: g.int(0, 4e6), run_id: g.text() },
        token: g.text(),
        epoch: g.pick([1, g.int(2, 1e9), 0]),
        acquired_at: g.time(),
        renewed_at: g.time(),
        expires_at: g.time(),
        released_at: g.bool() ? null : g.time(),
      };
      return writtenOrRefused(paths.lease, () => writeJsonAtomic(paths.lease, lease, validators.lease), () => readLeaseFile(paths), lease, seed);
    });
    assertBoth(results);
  });

  test('checkpoint.json', () => {
    const { paths } = dir();
    const results = Array.from({ length: RUNS }, (_, seed) => {
      const g = prng(1000 + seed);
      const cp: CheckpointFile = { schema_version: 2, updated_at: g.time(), journal: { file: g.pick(['journal.1.0.jsonl', 'journal.7.3.jsonl', 'queue.json']), size: g.count() }, round: round(g) };
      return writtenOrRefused(paths.checkpoint, () => writeJsonAtomic(paths.checkpoint, cp, validators.checkpoint), () => readCheckpointFile(paths), cp, seed);
    });
    assertBoth(results);
  });

  test('the journal: a base with items, then appended records', () => {
    const results: ('written' | 'refused')[] = [];
    for (let seed = 0; seed < RUNS; seed++) {
      const { paths } = dir();
      const g = prng(2000 + seed);
      const file = journalFile(g.int(1, 50), g.int(0, 3));
      const items = Array.from({ length: g.int(0, 4) }, () => queueItem(g));
      // Distinct slugs: a journal has one live item per slug.
      items.forEach((it, i) => (it.slug = `${it.slug}#${i}`));
      const base = { t: 'base' as const, epoch: file.epoch, at: g.time(), items: items.length, round: round(g) };
      const path = join(paths.dir, file.name);
      const outcome = writtenOrRefused(
        path,
        () => writeJournal(paths, file, base, items).close(),
        () => {
          const j = readJournal(paths);
          return { round: j.round, items: j.items.map((it) => it.slug).sort() };
        },
        { round: base.round, items: items.map((it) => it.slug).sort() },
        seed,
      );
      results.push(outcome);
      if (outcome === 'refused') continue;
      // Appends: each record validated before the write, as the session does.
      const log = HolderLog.open(path, { rotatable: false });
      const record: JournalRecord = g.bool() ? { t: 'round', epoch: file.epoch, round: round(g) } : { t: 'tenure', epoch: file.epoch, at: g.time(), owner: { host: g.text(), pid: g.int(1, 9), run_id: g.text() } };
      if (validators.journal(record)) log.append(`${JSON.stringify(record)}\n`, { fsync: false });
      log.close();
      assert.deepEqual(readJournal(paths).problems, [], `seed ${seed}`);
    }
    assertBoth(results);
  });

  test('epoch claims', () => {
    const { paths } = dir();
    const results = Array.from({ length: RUNS }, (_, seed) => {
      const g = prng(3000 + seed);
      const claim = { epoch: g.pick([seed + 1, 0]), owner: { host: g.text(), pid: g.int(0, 4e6), run_id: g.text() }, claimed_at: g.time() };
      return writtenOrRefused(join(paths.epochs, String(claim.epoch)), () => void claimEpoch(paths, claim), () => readClaim(paths, claim.epoch)?.claim, claim, seed);
    });
    assertBoth(results);
  });

  test('the ledger and the quarantine: appended through the holder\'s descriptor, read back line for line', () => {
    const { paths } = dir();
    const ledger = HolderLog.open(paths.outcomes, { rotatable: true });
    const quarantine = HolderLog.open(paths.rejected, { rotatable: true });
    const written: { outcomes: Outcome[]; rejected: RejectedLine[] } = { outcomes: [], rejected: [] };
    const results: ('written' | 'refused')[] = [];
    for (let seed = 0; seed < RUNS; seed++) {
      const g = prng(4000 + seed);
      const o: Outcome = {
        schema_version: 2,
        outcome: g.pick(['would_integrate', 'would_block', 'superseded']),
        slug: g.text(),
        branch: g.text(),
        sha: g.text(),
        reasons: g.bool() ? [] : [g.pick(['merge_conflict', 'git_error', 'superseded'])],
        conflicts: g.bool() ? [] : [{ path: g.text(), kind: g.text() }],
        main_sha: g.bool() ? null : g.sha(),
        merge_base: null,
        merged_tree: null,
        ready_at: g.time(),
        enqueued_at: g.time(),
        decided_at: g.time(),
        lease_epoch: g.pick([1, g.int(2, 99), 0]),
        duration_ms: g.pick([0, g.next() * 1000, -1]),
        episode: 1,
        base: 'queue',
        ahead: [],
        ...(g.bool() ? { message: g.text(40) } : {}),
      };
      try {
        appendOutcomes(ledger, [o], { fsync: false });
        written.outcomes.push(o);
        results.push('written');
      } catch (e) {
        assert.equal((e as { code?: string }).code, 'E_INTERNAL', `seed ${seed}`);
        results.push('refused');
      }
      const r: RejectedLine = { offset: g.count(), line: g.pick([1, g.int(2, 1e6), 0]), raw: g.text(40), truncated: g.bool(), reason: g.pick(['invalid_json', 'schema', 'unknown_type']), errors: [g.text()], rejected_at: g.time() };
      if (validators.rejected(r)) {
        quarantine.append(`${JSON.stringify(r)}\n`, { fsync: false });
        written.rejected.push(r);
      }
    }
    ledger.close();
    quarantine.close();
    assertBoth(results);
    const outcomes: Outcome[] = [];
    assert.equal(forEachOutcome(paths, (o) => outcomes.push(o)).invalid, 0);
    assert.deepEqual(outcomes, JSON.parse(JSON.stringify(written.outcomes)));
    const rejected: RejectedLine[] = [];
    assert.equal(forEachRejected(paths, (r) => rejected.push(r)).invalid, 0);
    assert.deepEqual(rejected, JSON.parse(JSON.stringify(written.rejected)));
  });

  test('projection snapshots: random histories, written and loaded, restore the same projection', () => {
    for (let seed = 0; seed < 25; seed++) {
      const { paths } = dir();
      const g = prng(5000 + seed);
      const p = Projection.empty('origin');
      const slugs = Array.from({ length: g.int(1, 30) }, () => g.slug());
      for (let i = 0; i < g.int(0, 200); i++) {
        const slug = g.pick(slugs);
        const branch = `agent/${g.pick(['x', 'y', 'z'])}/${slug}`;
        const sha = g.sha();
        const event: ReadinessEvent = g.pick([
          { type: 'review_approved', slug, approved_at: g.time(), review_round: 1, reviewer_session_id: 'r', ...(g.bool() ? { id: `id-${g.int(0, 50)}` } : {}) },
          { type: 'finalize_ready', slug, branch, sha, worker_session_id: 'w', orchestrator_session_id: 'o', ready_at: g.pick([g.time(), '2026-01-01T12:00:00+02:00']) },
          { type: 'branch_pushed', branch, sha, remote: g.pick(['origin', 'fork']), pushed_at: g.time(), pusher: 'p' },
        ] as ReadinessEvent[]);
        p.apply(event, i * 100, []);
        if (g.next() < 0.05) p.markDecided({ slug, branch, sha, episode: g.pick([1, 1, 2]), decided_at: g.time() });
      }
      const sections = p.sections();
      const header = { schema_version: 2 as const, remote: 'origin', created_at: g.time(), epoch: 1, log: { dev: 1, ino: 2, offset: 3, lines: 1, base: 0 }, ledger: { head_len: 0, head_hash: '', offset: 0 }, sizes: { slugs: sections.slugHi.length } };
      writeSnapshot(paths, 'projection.1.0.snap', header, { ...sections });
      const loaded = readSnapshot(paths, 'projection.1.0.snap');
      assert.ok(loaded, `seed ${seed}`);
      const view = <T>(name: keyof ProjectionSections, C: { new (b: ArrayBufferLike, o: number, n: number): T; BYTES_PER_ELEMENT: number }) => {
        const b = loaded.sections[name] as Uint8Array;
        return new C(b.buffer, b.byteOffset, b.byteLength / C.BYTES_PER_ELEMENT);
      };
      const restored = Projection.restore('origin', {
        ...(Object.fromEntries(Object.keys(sections).map((k) => [k, view(k as keyof ProjectionSections, Uint32Array)])) as unknown as ProjectionSections),
        readyMs: view('readyMs', Float64Array),
        headPos: view('headPos', Float64Array),
        wait: view('wait', Int32Array),
        decidedMs: view('decidedMs', Float64Array),
        arena: loaded.sections.arena as Uint8Array,
      });
      assert.equal(restored.digest(), p.digest(), `seed ${seed}`);
    }
  });
});
