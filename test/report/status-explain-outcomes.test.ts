/**
 * status, explain and outcomes on a real fixture repository: candidates decided by a real drain
 * (clean, blocked, superseded), two more left queued by a holder that keeps the lease, a waiting
 * slug, a rejected line, and lines not ingested yet — each command's human and JSON output.
 */
import assert from 'node:assert/strict';
import { appendFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { createFixture, type Fixture } from '../../fixtures/repo.js';
import { loadConfig } from '../../src/config/config.js';
import type { Outcome } from '../../src/contract/types.generated.js';
import { validators } from '../../src/contract/validate.js';
import { readOutcomes } from '../../src/ledger/ledger.js';
import type { ExplainReport } from '../../src/report/explain.js';
import { WatchActivity, watchSummary } from '../../src/cli/commands/watch.js';
import { status, type StatusReport } from '../../src/report/status.js';
import { acquireLease, selfOwner } from '../../src/runtime/lease-store.js';
import { HolderSession } from '../../src/runtime/session.js';
import { sizeOf } from '../../src/store/jsonl.js';
import { statePaths, type StatePaths } from '../../src/store/paths.js';
import { approved, appendEvents, at, cli, cliJson, finalized, manualClock, pushed, readyEvents, testContext, writeShadowConfig, type CandidateRef } from '../support/index.js';

/** Event times in minutes after T0. */
const minute = (m: number) => at(m * 60);
const ready = (c: CandidateRef, m: number) => readyEvents(c, minute(m));
/** The holder's and the reports' clock: the lease's expiry and the queue's ages are exact. */
const clock = manualClock();
const ctx = testContext({ now: clock.now });

describe('status, explain, outcomes', { timeout: 120_000 }, () => {
  let fx: Fixture;
  /** The CLI in the fixture's clone, on the test's clock. */
  const report = (args: string[]) => cli(fx.clone, args, { now: clock.now });
  const reportJson = <T>(args: string[]) => cliJson<T>(fx.clone, args, { now: clock.now });

  let paths: StatePaths;
  const line: Record<string, number> = {};
  let notIngestedBytes = 0;

  before(async () => {
    fx = createFixture();
    writeShadowConfig(fx.clone);
    paths = statePaths(join(fx.clone, '.git', 'shadow-integrator'));
    const s = fx.scenarios;
    // Decided by a real drain: clean → would_integrate, conflict_content → would_block, the old superseded candidate → superseded.
    const decided = appendEvents(paths.readiness, [
      ...ready(s.clean, 1),
      ...ready(s.conflict_content, 2),
      approved('superseded', { approved_at: minute(3), id: 'ra-superseded' }),
      finalized('superseded', s.superseded_old.branch, s.superseded_old.sha, minute(3), { id: 'fin-old' }),
      pushed(s.superseded_old.branch, s.superseded_old.sha, 'origin', { pushed_at: minute(3) }),
      finalized('superseded', s.superseded_new.branch, s.superseded_new.sha, minute(4), { id: 'fin-new' }),
      pushed(s.superseded_new.branch, s.superseded_new.sha, 'origin', { pushed_at: minute(4) }),
      approved('waiting', { approved_at: minute(5) }),
      finalized('waiting', 'agent/waiting', s.clean2.sha, minute(5)),
    ]);
    Object.assign(line, { approvedSuperseded: decided[6], finOld: decided[7], pushOld: decided[8], finNew: decided[9], pushNew: decided[10], finWaiting: decided[12] });
    const drained = await report(['drain']);
    assert.equal(drained.code, 0, drained.stderr);

    // A holder (this process) ingests two more ready candidates and keeps them queued, lease held.
    appendEvents(paths.readiness, [...ready(s.clean2, 7), ...ready(s.conflict_add_add, 6)]);
    appendFileSync(paths.readiness, '{"type":"finalize_ready","slug":"waiting"\n');
    const acq = await acquireLease(paths, selfOwner('test-holder'), clock.now, 300);
    assert.ok(acq.acquired);
    const session = await HolderSession.open({ paths, config: loadConfig({ cwd: fx.clone }).config, ctx, held: acq.held });
    await session.ingest();
    await session.endRound();

    // Not ingested yet: a tie on ready_at, one that arrives older, and a duplicate line.
    const checkpointed = sizeOf(paths.readiness);
    const tie = appendEvents(paths.readiness, [
      finalized('tie', 'agent/tie-a', s.clean.sha, minute(10)),
      finalized('tie', 'agent/tie-b', s.clean2.sha, minute(10)),
      finalized('tie', 'agent/tie-c', s.conflict_binary.sha, minute(9)),
      finalized('superseded', s.superseded_new.branch, s.superseded_new.sha, minute(4), { id: 'fin-new' }),
    ]);
    Object.assign(line, { tieA: tie[0], tieB: tie[1], tieC: tie[2], duplicate: tie[3] });
    notIngestedBytes = sizeOf(paths.readiness) - checkpointed;
  });
  after(() => fx.remove());

  test('status --json: mode, lease holder, the queue in order with ages, counts, lag, rejected, last outcome', async () => {
    clock.advance(42_000);
    const st = await reportJson<StatusReport>(['status']);
    assert.equal(st.mode, 'shadow');
    assert.equal(st.lease.state, 'held');
    assert.equal(st.lease.epoch, 2, 'the drain held epoch 1');
    assert.equal(st.lease.owner?.run_id, 'test-holder');
    assert.equal(st.lease.expires_in_s, 300 - 42);
    // Ordered by ready_at, not by log position: conflict_add_add (minute 6) before clean2 (minute 7).
    assert.deepEqual(
      st.queue.map((q) => [q.position, q.slug, q.status]),
      [
        [1, 'conflict-add-add', 'queued'],
        [2, 'clean2', 'queued'],
      ],
    );
    assert.deepEqual(st.queue.map((q) => q.age_s), [42, 42], 'enqueued by the holder 42 s before');
    assert.deepEqual(st.counts, { would_integrate: 2, would_block: 1, superseded: 1, total: 4 });
    assert.deepEqual([st.ingestion.lag_lines, st.ingestion.lag_bytes, st.ingestion.restarted], [4, notIngestedBytes, null]);
    assert.equal(st.rejected, 1);
    assert.deepEqual(
      st.waiting.map((w) => [w.slug, w.branch, w.lacks, w.approved_other_sha]),
      [
        ['waiting', 'agent/waiting', ['missing_branch_pushed'], false],
        ['tie', 'agent/tie-b', ['missing_review_approved', 'missing_branch_pushed'], false],
      ],
      'by name, oldest first, with what each lacks — the log read to its end, past the checkpoint',
    );
    assert.equal(st.waiting_total, 2);
    assert.equal(st.waiting[0]?.age_s, Math.round((clock.now().getTime() - Date.parse(minute(5))) / 1000));
    const ledger = readOutcomes(paths).outcomes;
    assert.deepEqual(st.last_outcome, ledger.at(-1));
  });

  test('status for people, and the one-line summary for watch', async () => {
    const r = await report(['status']);
    assert.equal(r.code, 0, r.stderr);
    for (const text of ['mode       shadow', 'held by ', 'epoch 2', '4 line(s), ', 'rejected   1 line(s) in rejected.jsonl', '2 would_integrate · 1 would_block · 1 superseded · 4 total', 'queue (2):', '1  conflict-add-add', '2  clean2', 'waiting for readiness events (2), oldest first:', 'tie      agent/tie-b    ', 'missing_review_approved, missing_branch_pushed']) {
      assert.ok(r.stdout.includes(text), `${text}\n${r.stdout}`);
    }
    const line1 = watchSummary(status(loadConfig({ cwd: fx.clone }), ctx), new WatchActivity(), clock.now());
    assert.match(line1, /^standing by: integration\/main is held by .+ \(run test-hol\), epoch 2 · queue 2 · last would_integrate superseded \d+s ago$/);
  });

  test('status of a repository that never ran: free lease, empty queue, zero counts', async () => {
    const other = createFixture({ scenarios: false, agents: [] });
    try {
      const st = await cliJson<StatusReport>(other.clone, ['status']);
      assert.equal(st.mode, 'off');
      assert.deepEqual([st.lease.state, st.lease.epoch, st.queue.length, st.counts.total, st.ingestion.lag_bytes, st.rejected, st.last_outcome], ['free', null, 0, 0, 0, 0, null]);
      assert.match((await cli(other.clone, ['status'])).stdout, /free \(never taken\)/);
    } finally {
      other.remove();
    }
  });

  test('explain: the supersession chain, each condition with the line that met it, the outcomes', async () => {
    const s = fx.scenarios;
    const e = await reportJson<ExplainReport>(['explain', 'superseded']);
    assert.deepEqual(
      e.candidates.map((c) => [c.branch, c.state]),
      [
        [s.superseded_old.branch, 'decided'],
        [s.superseded_new.branch, 'decided'],
      ],
    );
    const [old, neu] = e.candidates as [ExplainReport['candidates'][0], ExplainReport['candidates'][0]];
    const cond = (c: typeof old, name: string) => c.conditions.find((k) => k.condition === name);
    assert.deepEqual(cond(old, 'review_approved')?.event?.line, line.approvedSuperseded);
    assert.equal(cond(old, 'review_approved')?.event?.id, 'ra-superseded');
    assert.deepEqual([cond(old, 'finalize_ready')?.event?.line, cond(old, 'finalize_ready')?.event?.id], [line.finOld, 'fin-old']);
    assert.equal(cond(old, 'branch_pushed')?.event?.line, line.pushOld);
    assert.deepEqual(cond(old, 'not_superseded'), { condition: 'not_superseded', met: false, missing: 'superseded', superseded_by: { branch: s.superseded_new.branch, sha: s.superseded_new.sha, line: line.finNew, rule: 'later_ready_at' } });
    assert.equal(old.ready_line, line.pushOld, 'it was ready, and so enqueued, before the newer finalize arrived');
    assert.deepEqual(old.outcomes.map((o) => o.outcome), ['superseded']);
    assert.deepEqual(neu.conditions.map((k) => [k.condition, k.met]), [
      ['review_approved', true],
      ['finalize_ready', true],
      ['branch_pushed', true],
      ['not_superseded', true],
      ['sha_on_remote_branch', true],
      ['not_already_integrated', true],
    ]);
    assert.deepEqual(neu.outcomes.map((o) => o.outcome), ['would_integrate']);
    assert.deepEqual(e.supersession.map((l) => [l.superseded.branch, l.by.branch, l.rule]), [[s.superseded_old.branch, s.superseded_new.branch, 'later_ready_at']]);
    assert.deepEqual(e.ignored, [{ line: line.duplicate, type: 'finalize_ready', id: 'fin-new', why: 'duplicate' }]);
  });

  test('explain: a missing event is named by its reason code; git conditions are not checked before dequeue', async () => {
    const e = await reportJson<ExplainReport>(['explain', 'waiting']);
    const c = e.candidates[0];
    assert.equal(c?.state, 'waiting');
    assert.deepEqual(c?.conditions.map((k) => [k.condition, k.met, k.missing ?? k.event?.line ?? null]), [
      ['review_approved', true, e.approvals[0]?.line],
      ['finalize_ready', true, line.finWaiting],
      ['branch_pushed', false, 'missing_branch_pushed'],
      ['not_superseded', true, null],
      ['sha_on_remote_branch', null, null],
      ['not_already_integrated', null, null],
    ]);
    assert.equal(e.rejected[0]?.reason, 'invalid_json', 'the broken line names the slug');
    const human = (await report(['explain', 'waiting'])).stdout;
    assert.match(human, /✗ +branch_pushed +missing_branch_pushed/);
    assert.match(human, /\? +sha_on_remote_branch +checked with git at dequeue/);
  });

  test('explain: equal ready_at goes to the later line; a finalize older than the newest is superseded on arrival', async () => {
    const e = await reportJson<ExplainReport>(['explain', 'tie']);
    assert.deepEqual(e.candidates.map((c) => [c.branch, c.state]), [
      ['agent/tie-a', 'superseded'],
      ['agent/tie-b', 'waiting'],
      ['agent/tie-c', 'superseded'],
    ]);
    assert.deepEqual(e.supersession.map((l) => [l.superseded.branch, l.by.branch, l.rule, l.at_line]), [
      ['agent/tie-a', 'agent/tie-b', 'equal_ready_at_later_in_log', line.tieB],
      ['agent/tie-c', 'agent/tie-b', 'arrived_older', line.tieC],
    ]);
    assert.equal(e.candidates[0]?.conditions[0]?.missing, 'missing_review_approved');
    const human = (await report(['explain', 'tie'])).stdout;
    assert.ok(human.includes('equal ready_at, later in the log') && human.includes('arrived with an older ready_at'), human);
  });

  test('explain: a queued candidate shows its queue position', async () => {
    const e = await reportJson<ExplainReport>(['explain', 'clean2']);
    assert.deepEqual([e.candidates[0]?.state, e.candidates[0]?.queue?.position, e.candidates[0]?.queue?.status], ['queued', 2, 'queued']);
    assert.match((await report(['explain', 'clean2'])).stdout, /queue: #2, queued/);
  });

  test('explain: an unknown slug is a runtime error (1), an invalid one a usage error (2)', async () => {
    const unknown = await report(['explain', 'nobody']);
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /nothing is known about slug "nobody"/);
    const bad = await report(['explain', 'Not A Slug']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /slug "Not A Slug" is not valid: a slug must match/);
  });

  test('outcomes --json prints JSON Lines of valid outcomes; filters by slug, outcome and since', async () => {
    const all = await report(['outcomes', '--json']);
    assert.equal(all.code, 0, all.stderr);
    const rows = all.stdout.trim().split('\n').map((l) => JSON.parse(l) as Outcome);
    assert.equal(rows.length, 4);
    for (const o of rows) assert.ok(validators.outcome(o), JSON.stringify(o));
    assert.deepEqual(rows, readOutcomes(paths).outcomes);
    const slugs = async (args: string[]) => (await report(['outcomes', '--json', ...args])).stdout.trim().split('\n').filter(Boolean).map((l) => (JSON.parse(l) as Outcome).slug);
    assert.deepEqual(await slugs(['--outcome', 'would_block']), ['conflict-content']);
    assert.deepEqual(await slugs(['--slug', 'superseded']), ['superseded', 'superseded']);
    assert.deepEqual(await slugs(['--slug', 'superseded', '--outcome', 'superseded']), ['superseded']);
    assert.equal((await slugs(['--since', '24h'])).length, 4);
    assert.equal((await slugs(['--since', '2099-01-01'])).length, 0);
    assert.equal((await report(['outcomes', '--json', '--since', '2099-01-01'])).stdout, '', 'no output at all: jq sees nothing');
  });

  test('outcomes for people: a table and a count', async () => {
    const r = await report(['outcomes', '--outcome', 'would_block']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^DECIDED_AT +OUTCOME +SLUG +BRANCH +SHA +DETAIL\n/);
    const blocked = fx.scenarios.conflict_content;
    assert.match(r.stdout, new RegExp(`would_block +conflict-content +${blocked.branch} +${blocked.sha.slice(0, 12)} +merge_conflict: src/app.txt contents`));
    assert.match(r.stdout, /\n1 outcome\(s\)\n$/);
  });

  test('outcomes: --outcome and --since are validated, naming what is allowed (exit 2)', async () => {
    const badOutcome = await report(['outcomes', '--outcome', 'maybe']);
    assert.equal(badOutcome.code, 2);
    assert.match(badOutcome.stderr, /--outcome "maybe" is not valid: allowed values are would_integrate, would_block, superseded/);
    const badSince = await report(['outcomes', '--since', 'yesterday']);
    assert.equal(badSince.code, 2);
    assert.match(badSince.stderr, /ISO 8601 .*24h, 7d/);
    assert.equal((await report(['outcomes', '--since', '2026-01-31T12:00:00'])).code, 2, 'a date-time without a zone is ambiguous');
  });
});
