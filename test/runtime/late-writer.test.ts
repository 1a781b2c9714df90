/**
 * A holder that lost its lease can never cause a second outcome, whatever it writes late. Forced,
 * deterministically, in process: the old holder is paused (an injected hook, no sleep) exactly
 * between its fenced check and its write, while another holder takes the lease over and decides
 * the same candidates; then it resumes and makes the write it was about to make. Also paused at a
 * system call of the fence itself (the stat, or the reopen after logrotate, of its ledger) while a
 * process of its own takes over; an older queue state put back after a drain (the ledger is the
 * authority); and logrotate renaming the ledger under the paused holder.
 */
import assert from 'node:assert/strict';
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import fs, { copyFileSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { drain, type DrainReport } from '../../src/runtime/drain.js';
import type { SessionHooks } from '../../src/runtime/session.js';
import { liveJournal } from '../../src/store/journal.js';
import { readCheckpointFile, readQueue, readState } from '../../src/store/readers.js';
import { readSnapshot } from '../../src/store/snapshot.js';
import { appendEvents, assertExactlyOnce, candidateEvents, fakeTimers, keyOf, candidate, ledger, recordingEngine, tempReposRemovedAfter, testContext } from '../support/index.js';

const repo = tempReposRemovedAfter();
const key = (n: number) => keyOf(candidate(n));
const ctxAt = (cwd: string, offsetMs = 0) => testContext({ cwd, now: () => new Date(Date.now() + offsetMs), timers: fakeTimers() });

/** A holder B, on a clock past A's lease: it takes the lease over and drains everything. */
async function takeOver(dir: string, load: () => Parameters<typeof drain>[0]): Promise<DrainReport> {
  const b = recordingEngine();
  const report = await drain(load(), ctxAt(dir, 3_600_000), { engine: b.engine });
  assert.equal(report.status, 'done', JSON.stringify(report));
  return report;
}

/** A drain in a process of its own, on the real clock, with an instant engine (see crash-child.ts). */
const TAKER = fileURLToPath(new URL('../reliability/crash-child.js', import.meta.url));

/**
 * The next call of `fs[syscall]` on `path` (or a path it accepts), from any code of this process, first runs `during`:
 * its caller is frozen exactly there (as a SIGSTOP at that instant would freeze it) while another
 * process, or logrotate, acts. Returns the undo.
 */
function pauseAt(syscall: 'statSync' | 'openSync' | 'utimesSync', path: string | ((path: string) => boolean), during: () => void): () => void {
  const calls = fs as unknown as Record<typeof syscall, (...args: unknown[]) => unknown>;
  const real = calls[syscall];
  const matches = typeof path === 'string' ? (p: unknown) => p === path : (p: unknown) => typeof p === 'string' && path(p);
  let armed = true;
  calls[syscall] = (...args: unknown[]) => {
    if (armed && matches(args[0])) {
      armed = false;
      during();
    }
    return real(...args);
  };
  // The store imports these by name: its bindings follow the module's own properties only when synced.
  syncBuiltinESMExports();
  return () => {
    calls[syscall] = real;
    syncBuiltinESMExports();
  };
}

describe('a holder paused between its check and its write, while another takes over', () => {
  for (const where of ['outcome', 'journal', 'checkpoint'] as const) {
    // outcome: into the ledger the taker sealed (an orphaned inode); journal: into A's journal, which
    // the taker's newer one replaced; checkpoint: renamed into place, but naming A's journal, so ignored.
    test(`paused before its ${where} write: the write it makes on resuming lands nowhere that counts; exactly one outcome each`, async () => {
      const r = repo();
      appendEvents(r.paths.readiness, [1, 2, 3].flatMap((n) => candidateEvents(n)));
      let paused = false;
      let ledgerBefore = '';
      const hooks: SessionHooks = {
        beforeWrite: async (what) => {
          // The first `where` write after a decision was made (for the journal: s2's in_progress transition).
          if (paused || what !== where || (where !== 'outcome' && ledger(r.paths).length === 0)) return;
          paused = true;
          await takeOver(r.dir, () => r.load());
          ledgerBefore = readFileSync(r.paths.outcomes, 'utf8');
        },
      };
      const a = recordingEngine();
      const ctx = ctxAt(r.dir);
      const report = await drain(r.load(), ctx, { engine: a.engine, hooks });
      assert.ok(paused, 'the pause happened');
      assert.equal(report.status, 'lease_lost', JSON.stringify(report));
      assert.equal(readFileSync(r.paths.outcomes, 'utf8'), ledgerBefore, "nothing of A's landed in the live ledger after the takeover");
      assertExactlyOnce(ledger(r.paths), [1, 2, 3].map(key));
      assert.deepEqual(readQueue(r.paths), []);
      const state = readState(r.paths);
      assert.deepEqual(state.problems, []);
      assert.equal(state.round?.epoch, 2, "the live round is the taker's, whatever A wrote late");
      const live = liveJournal(r.paths);
      assert.equal(live?.epoch, 2, `the live journal is the taker's (${live?.name})`);
      const epochs = readFileSync(join(r.paths.dir, live.name), 'utf8').split('\n').filter(Boolean).map((l) => (JSON.parse(l) as { epoch: number }).epoch);
      assert.deepEqual([...new Set(epochs)], [2], 'no record of A in it');
      assert.equal(ctx.events('lease_lost').length, 1);
      assert.equal(a.closed, a.opened, "A's engine was closed on the lost lease");
      // Nothing A left counts as work: the next drain decides nothing. A's late checkpoint names a
      // journal that is not the live one, which the idle check cannot trust: one empty tenure, then idle.
      const drainAgain = async (ms: number) => {
        const next = await drain(r.load(), ctxAt(r.dir, ms), { engine: recordingEngine().engine });
        return [next.status, 'decided' in next ? next.decided : null];
      };
      assert.deepEqual(await drainAgain(7_200_000), where === 'checkpoint' ? ['done', 0] : ['idle', null]);
      assert.deepEqual(await drainAgain(10_800_000), ['idle', null]);
      assertExactlyOnce(ledger(r.paths), [1, 2, 3].map(key));
    });
  }

  // Before: the fd A checked is renamed aside (a fresh file takes its place), then B takes over.
  // During: B's first open of the ledger is its seal's, after it listed the segments: the renamed file is sealed too.
  for (const when of ['before the takeover', "during the taker's seal"] as const) {
    test(`logrotate renames the ledger under the paused holder ${when}: its late write lands nowhere that counts`, async () => {
      const r = repo();
      appendEvents(r.paths.readiness, [1, 2].flatMap((n) => candidateEvents(n)));
      const rotate = () => renameSync(r.paths.outcomes, `${r.paths.outcomes}.1`);
      let paused = false;
      const hooks: SessionHooks = {
        beforeWrite: async (what) => {
          if (paused || what !== 'outcome') return;
          paused = true;
          const undo = when === 'before the takeover' ? (rotate(), () => undefined) : pauseAt('openSync', r.paths.outcomes, rotate);
          try {
            await takeOver(r.dir, () => r.load());
          } finally {
            undo();
          }
        },
      };
      const report = await drain(r.load(), ctxAt(r.dir), { engine: recordingEngine().engine, hooks });
      assert.ok(paused, 'the pause happened');
      assert.equal(report.status, 'lease_lost', JSON.stringify(report));
      // Read across the rotated segment and the live file, as every ledger reader does.
      assertExactlyOnce(ledger(r.paths), [1, 2].map(key));
      assert.ok(readdirSync(r.paths.dir).includes('outcomes.jsonl.1'));
    });
  }
});

describe('a holder paused while it makes sure its ledger descriptor is the live file, while another process takes over', () => {
  // stat: between its descriptor's fstat (nlink 1: not yet replaced) and the stat of the path (the taker's copy).
  // open: the ledger renamed aside by logrotate, the holder reopening its name: between the close and the open.
  for (const syscall of ['statSync', 'openSync'] as const) {
    test(`paused at its ${syscall === 'statSync' ? 'stat' : 'open'} of the ledger: it never writes into the taker's ledger; exactly one outcome each, epochs in order`, async () => {
      const r = repo();
      appendEvents(r.paths.readiness, [1, 2, 3].flatMap((n) => candidateEvents(n)));
      const pause: { undo?: () => void; taker?: SpawnSyncReturns<string> } = {};
      // Armed while A evaluates s2: its next look at the ledger is the one before s2's outcome line.
      const a = recordingEngine((item) => {
        if (item.slug !== 's2') return;
        if (syscall === 'openSync') renameSync(r.paths.outcomes, `${r.paths.outcomes}.1`);
        pause.undo = pauseAt(syscall, r.paths.outcomes, () => {
          pause.taker = spawnSync(process.execPath, [TAKER, r.dir, '0'], { encoding: 'utf8' });
        });
      });
      try {
        // A's clock is an hour behind: on the taker's (real) clock A's lease has long expired, on its own it still holds.
        const report = await drain(r.load(), ctxAt(r.dir, -3_600_000), { engine: a.engine });
        assert.equal(report.status, 'lease_lost', JSON.stringify(report));
      } finally {
        pause.undo?.();
      }
      assert.ok(pause.taker, 'the pause happened');
      assert.equal(pause.taker.status, 0, pause.taker.stderr);
      const outcomes = ledger(r.paths);
      assert.deepEqual(outcomes.filter((o) => o.lease_epoch === 2).map((o) => o.slug), ['s2', 's3'], 'the taker decided s2 (recovered) and s3');
      assertExactlyOnce(outcomes, [1, 2, 3].map(key));
    });
  }
});

/** Stopped (as by SIGTERM) at its first checkpoint: its last round is a shutdown's, with a projection snapshot. */
const shutDownAtCheckpoint = (then?: SessionHooks['beforeWrite']) => {
  const shutdown = new AbortController();
  const hooks: SessionHooks = {
    beforeWrite: async (what) => {
      if (what === 'checkpoint') shutdown.abort();
      await then?.(what);
    },
  };
  return { signal: shutdown.signal, hooks };
};

describe('a holder paused before it writes a whole file under a new name, while another takes over', () => {
  test("paused before writing its journal at its open: its late journal removes none of the taker's; the taker's stays the live one", async () => {
    const r = repo();
    appendEvents(r.paths.readiness, [1, 2, 3].flatMap((n) => candidateEvents(n)));
    let paused = false;
    const hooks: SessionHooks = {
      beforeWrite: async (what) => {
        if (paused || what !== 'journal') return;
        paused = true;
        await takeOver(r.dir, () => r.load());
      },
    };
    const report = await drain(r.load(), ctxAt(r.dir), { engine: recordingEngine().engine, hooks });
    assert.ok(paused, 'the pause happened');
    assert.equal(report.status, 'lease_lost', JSON.stringify(report));
    const live = liveJournal(r.paths);
    assert.equal(live?.epoch, 2, `the live journal is the taker's (${live?.name})`);
    assert.equal(readCheckpointFile(r.paths)?.journal.file, live.name, 'the checkpoint names it');
    const state = readState(r.paths);
    assert.deepEqual(state.problems, []);
    assert.equal(state.round?.epoch, 2);
    assertExactlyOnce(ledger(r.paths), [1, 2, 3].map(key));
  });

  test("paused before writing its projection snapshot: its late one removes none of the taker's; the snapshot the live round names is there", async () => {
    const r = repo();
    appendEvents(r.paths.readiness, [1, 2, 3].flatMap((n) => candidateEvents(n)));
    let paused = false;
    const a = shutDownAtCheckpoint(async (what) => {
      if (paused || what !== 'snapshot') return;
      paused = true;
      // Work for the taker: a candidate that came after A's last round.
      appendEvents(r.paths.readiness, candidateEvents(4));
      const b = shutDownAtCheckpoint();
      const report = await drain(r.load(), ctxAt(r.dir, 3_600_000), { engine: recordingEngine().engine, ...b });
      assert.equal(report.status, 'done', JSON.stringify(report));
    });
    const report = await drain(r.load(), ctxAt(r.dir), { engine: recordingEngine().engine, ...a });
    assert.ok(paused, 'the pause happened');
    assert.equal(report.status, 'lease_lost', JSON.stringify(report));
    const named = readState(r.paths).round?.snapshot?.file;
    assert.match(named ?? '', /^projection\.2\./, "the live round names the taker's snapshot");
    assert.ok(readSnapshot(r.paths, named as string), `${named} is there`);
    assertExactlyOnce(ledger(r.paths), [1, 2, 3, 4].map(key));
  });
});

describe('a takeover while the taker seals the ledger', () => {
  test("another takeover while the taker copies the ledger (a long copy, or a pause there): having lost the lease, it renames nothing over the newer taker's ledger", async () => {
    const r = repo();
    appendEvents(r.paths.readiness, candidateEvents(1));
    assert.equal((await drain(r.load(), ctxAt(r.dir, -7_200_000), { engine: recordingEngine().engine })).status, 'done');
    // Its holder gone without releasing: on A's clock (an hour behind) its lease has expired, A takes it over and seals.
    const lease = JSON.parse(readFileSync(r.paths.lease, 'utf8')) as Record<string, unknown>;
    writeFileSync(r.paths.lease, JSON.stringify({ ...lease, released_at: null, expires_at: new Date(Date.now() - 5_400_000).toISOString() }));
    appendEvents(r.paths.readiness, candidateEvents(2));
    const pause: { taker?: SpawnSyncReturns<string>; ino?: number } = {};
    // A is frozen after copying the ledger, before renaming the copy over it: a process on the real clock takes over from A.
    const undo = pauseAt('utimesSync', (p) => p.startsWith(join(r.paths.dir, '.outcomes.jsonl.')), () => {
      pause.taker = spawnSync(process.execPath, [TAKER, r.dir, '0'], { encoding: 'utf8' });
      pause.ino = statSync(r.paths.outcomes).ino;
    });
    try {
      const report = await drain(r.load(), ctxAt(r.dir, -3_600_000), { engine: recordingEngine().engine });
      assert.equal(report.status, 'lease_lost', JSON.stringify(report));
    } finally {
      undo();
    }
    assert.ok(pause.taker, 'the pause happened');
    assert.equal(pause.taker.status, 0, pause.taker.stderr);
    // A file renamed over the taker's ledger orphans its descriptor: a taker still running would append its next outcomes where nobody reads them.
    assert.equal(statSync(r.paths.outcomes).ino, pause.ino, "the taker's ledger is still the live file");
    assertExactlyOnce(ledger(r.paths), [1, 2].map(key));
    assert.deepEqual(readQueue(r.paths), []);
  });
});

describe("the ledger renamed over under the live holder (an overtaken taker's late seal, a sed -i)", () => {
  test('after an outcome line, before its journal record: the journal never calls the candidate decided; the next holder decides it, once', async () => {
    const r = repo();
    appendEvents(r.paths.readiness, [1, 2].flatMap((n) => candidateEvents(n)));
    let copy: string | null = null;
    // The ledger as it was before s2's line, read while s2 is evaluated...
    const a = recordingEngine((item) => {
      if (item.slug === 's2') copy = readFileSync(r.paths.outcomes, 'utf8');
    });
    const ctx = ctxAt(r.dir);
    const logger = ctx.logger;
    ctx.logger = {
      log: (level, event, fields) => {
        logger.log(level, event, fields);
        // ...renamed over the ledger once s2's line is written: that line is now in a file nobody reads.
        if (event !== 'decided' || fields?.slug !== 's2' || copy === null) return;
        writeFileSync(`${r.paths.outcomes}.new`, copy);
        renameSync(`${r.paths.outcomes}.new`, r.paths.outcomes);
      },
    };
    assert.equal((await drain(r.load(), ctx, { engine: a.engine })).status, 'lease_lost', 'its ledger descriptor orphaned, the holder stops');
    assert.equal(ledger(r.paths).length, 1, "only s1's line is in the live ledger");
    // (s1 may still be in progress there too: its ledger line is in the live ledger, the next holder drops it.)
    assert.ok(readQueue(r.paths).some((it) => it.slug === 's2' && it.status === 'in_progress'), 'the journal does not call s2 decided');
    await takeOver(r.dir, () => r.load());
    assertExactlyOnce(ledger(r.paths), [1, 2].map(key));
  });
});

describe('the ledger is the authority', () => {
  test('an older queue state put back after a drain: nothing is decided or appended again (reconciled, with a log line)', async () => {
    const r = repo();
    appendEvents(r.paths.readiness, [1, 2, 3].flatMap((n) => candidateEvents(n)));
    const saved = join(r.dir, 'saved');
    let copied: string[] = [];
    // A copy of the journal and the checkpoint while s1 is being evaluated (everything still queued).
    const a = recordingEngine((item) => {
      if (item.slug !== 's1') return;
      copied = readdirSync(r.paths.dir).filter((f) => /^(journal\..*|checkpoint\.json)$/.test(f));
      for (const f of copied) copyFileSync(join(r.paths.dir, f), `${saved}-${f}`);
    });
    assert.equal((await drain(r.load(), ctxAt(r.dir), { engine: a.engine })).status, 'done');
    assert.equal(ledger(r.paths).length, 3);
    // Put the older state back: its journal and checkpoint, the newer ones gone.
    for (const f of readdirSync(r.paths.dir).filter((f) => /^(journal\..*|checkpoint\.json)$/.test(f))) rmSync(join(r.paths.dir, f));
    for (const f of copied) copyFileSync(`${saved}-${f}`, join(r.paths.dir, f));
    assert.equal(readQueue(r.paths).length, 3, 'the old queue says all three are still to do');

    const b = recordingEngine();
    const ctx = ctxAt(r.dir);
    const again = await drain(r.load(), ctx, { engine: b.engine });
    assert.equal(again.status, 'done', JSON.stringify(again));
    assert.deepEqual(b.order, [], 'nothing evaluated again');
    assertExactlyOnce(ledger(r.paths), [1, 2, 3].map(key));
    assert.deepEqual(ctx.events('queue_reconciled').map((l) => l.fields.slug).sort(), ['s1', 's2', 's3']);
    assert.deepEqual(readQueue(r.paths), []);
    assert.equal(readCheckpointFile(r.paths)?.round.counts.would_integrate, 3, 'the counts are the ledger\'s');
  });

  test('the ledger sealed at a takeover keeps its whole lines; a torn tail left by the crashed holder is cut', async () => {
    const r = repo();
    appendEvents(r.paths.readiness, candidateEvents(1));
    assert.equal((await drain(r.load(), ctxAt(r.dir), { engine: recordingEngine().engine })).status, 'done');
    const ino = statSync(r.paths.outcomes).ino;
    // A holder that died mid-append (its lease still held, by a pid that does not exist here).
    const { writeFileSync, appendFileSync } = await import('node:fs');
    appendFileSync(r.paths.outcomes, '{"schema_version":2,"outcome":"would_integ');
    writeFileSync(r.paths.lease, JSON.stringify({ ...JSON.parse(readFileSync(r.paths.lease, 'utf8')), released_at: null, epoch: 1, expires_at: new Date(Date.now() - 1000).toISOString() }));
    appendEvents(r.paths.readiness, candidateEvents(2));
    const ctx = ctxAt(r.dir);
    assert.equal((await drain(r.load(), ctx, { engine: recordingEngine().engine })).status, 'done');
    assert.notEqual(statSync(r.paths.outcomes).ino, ino, 'sealed: a new inode');
    assert.equal(ctx.events('files_sealed').length, 1);
    assertExactlyOnce(ledger(r.paths), [1, 2].map(key));
    assert.ok(readFileSync(r.paths.outcomes, 'utf8').split('\n').filter(Boolean).every((l) => JSON.parse(l) !== null), 'every line is JSON (jq reads it)');
  });
});
