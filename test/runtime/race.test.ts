/**
 * 8 processes race for the lease again and again (each runs `drain` several times, one process each) while events keep
 * being appended. Never two holders: the ledger's outcomes, grouped by lease_epoch, form contiguous
 * blocks in growing epoch order, no two processes report the same epoch, and every candidate ends with
 * exactly one outcome.
 */
import assert from 'node:assert/strict';
import { test, after } from 'node:test';
import { validators } from '../../src/contract/validate.js';
import { readJson } from '../../src/store/atomic-json.js';
import { readQueue } from '../../src/store/readers.js';
import { appendEvents, assertEpochsContiguous, assertExactlyOnce, at, candidateEvents, drainToEnd, keyOf, ledger, shaOf, sleep, startDrainLoop, tempRepo, waitFor } from '../support/index.js';

const PROCESSES = 8;
const MIN_DRAINS = 2;
const CANDIDATES = 16;

const repo = tempRepo();
after(() => repo.remove());

test(`${PROCESSES} processes draining again and again while ${CANDIDATES} candidates arrive: never two holders, exactly one outcome each`, async (t) => {
  // Each worker is one process draining again and again (a breath between drains, staggered by
  // worker: still a race at every burst), while events arrive and at least MIN_DRAINS times.
  const workers = Array.from({ length: PROCESSES }, (_, worker) => startDrainLoop(repo.dir, { pauseMs: 200 + worker * 30, least: MIN_DRAINS }));
  // Every worker racing before the first event arrives.
  await waitFor(() => workers.every((w) => w.drains.length > 0), 'every worker to drain once');
  let appended = 0;
  const appender = (async () => {
    // Bursts of 1–2 candidates with pauses between, so that tenures end and the lease is raced for
    // again; each burst is ready earlier than the one before (FIFO is by ready_at, not arrival).
    for (let burst = 0; appended < CANDIDATES; burst++) {
      for (let k = 0; k < 1 + (burst % 2) && appended < CANDIDATES; k++) {
        appended += 1;
        appendEvents(repo.paths.readiness, candidateEvents(appended, at(1000 - appended)));
      }
      await sleep(150 + (burst % 4) * 100);
    }
  })();
  await appender;
  const exits = await Promise.all(workers.map((w) => w.stop()));
  exits.forEach((e, worker) => assert.equal(e.code, 0, `worker ${worker}: exit ${e.code ?? e.signal}\n${e.stderr}`));
  const reports = workers.flatMap((w, worker) =>
    w.drains.map((d, i) => {
      assert.equal(d.code, 0, `worker ${worker} drain ${i}: exit ${d.code}\n${exits[worker]?.stderr ?? ''}`);
      return { worker, ...d.report };
    }),
  );
  await drainToEnd(repo.dir);

  const outcomes = ledger(repo.paths);
  assertEpochsContiguous(outcomes);
  assertExactlyOnce(outcomes, Array.from({ length: CANDIDATES }, (_, i) => keyOf({ slug: `s${i + 1}`, branch: `b${i + 1}`, sha: shaOf(i + 1) })));

  // Each epoch was held by one process only.
  const held = reports.filter((r) => r.status === 'done' || r.status === 'lease_lost');
  const epochs = held.map((r) => r.epoch);
  assert.equal(new Set(epochs).size, epochs.length, `an epoch was reported by two processes: ${JSON.stringify(held)}`);
  const lastEpoch = readJson(repo.paths.lease, validators.lease)?.epoch ?? 0;
  assert.ok(outcomes.every((o) => o.lease_epoch <= lastEpoch));
  assert.deepEqual(readQueue(repo.paths), []);

  const by = (s: string) => reports.filter((r) => r.status === s).length;
  t.diagnostic(`${reports.length} racing drains: ${by('done')} done, ${by('lease_busy')} lease_busy, ${by('idle')} idle, ${by('lease_lost')} lease_lost; ${new Set(outcomes.map((o) => o.lease_epoch)).size} epochs wrote outcomes`);
});
