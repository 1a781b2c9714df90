/**
 * What `status` (and `config`) says at a glance beyond the counts: the configured main ref that is
 * not there, the same git error in every recent decision, lines already queued that are not "behind",
 * and an in-progress item whose holder is gone.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { hostname } from 'node:os';
import { describe, test } from 'node:test';
import type { Outcome, QueueItem, StatusReport } from '../../src/contract/types.generated.js';
import { acquireLease } from '../../src/runtime/lease-store.js';
import { appendEvents, appendLedger, candidate, candidateEvents, cli, cliJson, clonedRepo, holdLease, shaOf, tempReposRemovedAfter, writeQueueJournal, writeShadowConfig } from '../support/index.js';

const repo = tempReposRemovedAfter();

function outcome(n: number, fields: Partial<Outcome>): Outcome {
  const c = candidate(n);
  return {
    schema_version: 1,
    outcome: 'would_block',
    ...c,
    reasons: ['git_error'],
    conflicts: [],
    main_sha: null,
    merge_base: null,
    merged_tree: null,
    ready_at: '2026-01-01T00:00:00Z',
    enqueued_at: '2026-01-01T00:00:01Z',
    decided_at: '2026-01-01T00:00:02Z',
    lease_epoch: 1,
    duration_ms: 1,
    ...fields,
  };
}

describe('warnings', () => {
  test('the configured main ref does not exist: config and status say so, with what the repository has', async () => {
    const r = clonedRepo({ remote: 'upstream', branch: 'master' });
    writeShadowConfig(r.dir, { remote: 'upstream' }); // main_branch left at its default, main
    const config = await cliJson<{ warnings: { code: string; message: string }[] }>(r.dir, ['config']);
    assert.deepEqual(config.warnings.map((w) => w.code), ['main_ref_missing']);
    assert.match(config.warnings[0]?.message ?? '', /^refs\/remotes\/upstream\/main does not exist: every candidate would block with git_error; fetch it \(git fetch upstream\), or set main_branch in the config \(upstream's default branch is master\)$/);
    const status = await cliJson<StatusReport>(r.dir, ['status']);
    assert.deepEqual(status.warnings, config.warnings);
    assert.match((await cli(r.dir, ['status'])).stdout, /^warning: refs\/remotes\/upstream\/main does not exist/);
    assert.match((await cli(r.dir, ['config'])).stdout, /\n\nwarning: refs\/remotes\/upstream\/main does not exist/);

    writeShadowConfig(r.dir, { remote: 'origin', main_branch: 'master' });
    assert.match((await cliJson<StatusReport>(r.dir, ['status'])).warnings[0]?.message ?? '', /origin is not a remote of this repository \(its remotes: upstream\): set remote in the config/);
    writeShadowConfig(r.dir, { remote: 'upstream', main_branch: 'master' });
    assert.deepEqual((await cliJson<StatusReport>(r.dir, ['status'])).warnings, []);
  });

  test('every recent decision blocked with the same git error: status says so, with the message; shas aside', async () => {
    const r = repo();
    const missing = 'refs/remotes/origin/main does not exist: cannot evaluate against canonical main';
    const codes = async () => (await cliJson<StatusReport>(r.dir, ['status'])).warnings.map((w) => w.code);
    appendLedger(r.paths, [outcome(1, { outcome: 'would_integrate', reasons: [] }), outcome(2, { message: missing }), outcome(3, { message: missing })]);
    assert.deepEqual(await codes(), ['main_ref_missing'], 'a decision that did not fail is among the recent ones');
    appendLedger(r.paths, [4, 5, 6].map((n) => outcome(n, { message: missing })));
    const st = await cliJson<StatusReport>(r.dir, ['status']);
    assert.deepEqual(st.warnings.map((w) => w.code), ['main_ref_missing', 'same_git_error']);
    assert.equal(st.warnings[1]?.message, `the last 5 decisions all blocked with the same git error, so the cause is likely the setup, not the candidates: ${missing}`);
    appendLedger(r.paths, [7, 8, 9, 10, 11].map((n) => outcome(n, { message: `${shaOf(n)} is not a commit in this repository (not fetched yet?)` })));
    const shas = await cliJson<StatusReport>(r.dir, ['status']);
    assert.match(shas.warnings.at(-1)?.message ?? '', /^the last 5 decisions all blocked with the same git error.*: 0{39}b is not a commit/);
    // A different failure among them: no warning.
    appendLedger(r.paths, [outcome(12, { reasons: ['merge_conflict'], message: 'CONFLICT (content)' })]);
    assert.deepEqual(await codes(), ['main_ref_missing']);
  });
});

describe('the queue and the log at a glance', () => {
  test('lines the holder already queued are not behind, though no checkpoint covers them yet', async () => {
    const r = repo();
    const lines = appendEvents(r.paths.readiness, [...candidateEvents(1), ...candidateEvents(2), ...candidateEvents(3)]);
    assert.equal(lines.length, 9);
    const before = await cliJson<StatusReport>(r.dir, ['status']);
    assert.equal(before.ingestion.lag_lines, 9, 'nothing ingested');
    // A holder ingested the first two candidates (their finalize_ready are lines 2 and 5) and queued them.
    const offsets = lineOffsets(r.paths.readiness);
    writeQueueJournal(r.paths, [queueItem(1, offsets[1] as number, 'in_progress'), queueItem(2, offsets[4] as number, 'queued')]);
    await holdLease(r.paths, new Date(), 'holder');
    const st = await cliJson<StatusReport>(r.dir, ['status']);
    assert.equal(st.ingestion.lag_lines, 4, "lines 6–9 (the second candidate's push, the third candidate)");
    assert.equal(st.ingestion.offset, offsets[5]);
    assert.deepEqual(st.queue.map((q) => [q.slug, q.status, q.holder_alive]), [['s1', 'in_progress', true], ['s2', 'queued', null]]);
  });

  test('an in-progress item whose holder is gone (its process on this host ended) is shown as such', async () => {
    const r = repo();
    appendEvents(r.paths.readiness, candidateEvents(1));
    writeQueueJournal(r.paths, [queueItem(1, lineOffsets(r.paths.readiness)[1] as number, 'in_progress')]);
    const gone = spawnSync(process.execPath, ['-e', '0']).pid;
    const acq = await acquireLease(r.paths, { host: hostname(), pid: gone, run_id: 'gone' }, () => new Date(), 300);
    assert.ok(acq.acquired);
    const st = await cliJson<StatusReport>(r.dir, ['status']);
    assert.deepEqual(st.queue.map((q) => [q.status, q.holder_alive]), [['in_progress', false]]);
    assert.match((await cli(r.dir, ['status'])).stdout, /1 +s1 +b1 +0{12} +in_progress \(holder gone: the next holder puts it back\)/);
  });
});

/** Byte offset at which each line of the file starts. */
function lineOffsets(file: string): number[] {
  const text = spawnSync('cat', [file]).stdout;
  const offsets = [0];
  for (let i = text.indexOf(10); i !== -1 && i + 1 < text.length; i = text.indexOf(10, i + 1)) offsets.push(i + 1);
  return offsets;
}

function queueItem(n: number, logOffset: number, status: 'queued' | 'in_progress'): QueueItem {
  return { ...candidate(n), status, ready_at: '2026-01-01T00:00:00Z', log_offset: logOffset, enqueued_at: new Date().toISOString(), transitions: [] };
}
