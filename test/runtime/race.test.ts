/**
 * 8 processes race for the lease again and again (each runs `drain` several times) while events keep
 * being appended. Never two holders: the ledger's outcomes, grouped by lease_epoch, form contiguous
 * blocks in growing epoch order, no two processes report the same epoch, and every candidate ends with
 * exactly one outcome.
 */
import assert from 'node:assert/strict';
import { test, after } from 'node:test';
import { validators } from '../../src/contract/validate.js';
import { readJson } from '../../src/store/atomic-json.js';
import { readQueue } from '../../src/store/readers.js';
import { appendEvents, assertEpochsContiguous, assertExactlyOnce, at, candidateEvents, drainToEnd, keyOf, ledger, runCli, shaOf, sleep, tempRepo } from '../support/index.js';

const PROCESSES = 8;
const MIN_DRAINS = 2;
const CANDIDATES = 16;

const repo = tempRepo();
after(() => repo.remove());

test(`${PROCESSES} processes draining again and again while ${CANDIDATES} candidates arrive: never two holders, exactly one outcome each`, async (t) => {
  let appended = 0;
  let appending = true;
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
    appending = false;
  })();

  const reports: { worker: number; status: string; epoch?: number; decided?: number }[] = [];
  const workers = Array.from({ length: PROCESSES }, async (_, worker) => {
    // Every worker keeps draining while events arrive, and at least MIN_DRAINS times.
    for (let i = 0; appending || i < MIN_DRAINS; i++) {
      const r = await runCli(repo.dir, ['drain', '--json']);
      assert.equal(r.code, 0, `worker ${worker} drain ${i}: exit ${r.code}\n${r.stderr}`);
      reports.push({ worker, ...(JSON.parse(r.stdout) as { status: string; epoch?: number; decided?: number }) });
      // A breath between drains, staggered by worker: still a race at every burst, at a fraction of
      // the CPU of back-to-back process starts.
      await sleep(100 + worker * 20);
    }
  });
  await Promise.all([appender, ...workers]);
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
