/**
 * Every schema in schemas/ accepts its valid examples and rejects each kind of invalid field with a
 * message that names the field (what scripts and people see: describeErrors + formatProblems).
 * Pure: no disk beyond the schemas themselves.
 */
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { describe, test } from 'node:test';
import { branchNameProblem, isValidBranchName } from '../../src/contract/refname.js';
import { describeErrors, formatProblems, schemaDir, validators, type Validator } from '../../src/contract/validate.js';
import { approved, at, finalized, pushed, shaOf } from '../support/index.js';

/** The messages for `data`, or null when it is valid. */
function problems(validate: Validator<unknown>, data: unknown): string[] | null {
  return validate(data) ? null : formatProblems(describeErrors(validate.errors, data));
}

interface Invalid {
  name: string;
  data: unknown;
  /** Each must be one of the messages (a message starts with the field it names). */
  expect: (string | RegExp)[];
}

function checkSchema(validate: () => Validator<unknown>, valid: Record<string, unknown>, invalid: Invalid[]): void {
  for (const [name, data] of Object.entries(valid)) {
    test(`accepts ${name}`, () => assert.equal(problems(validate(), data), null));
  }
  for (const c of invalid) {
    test(`rejects ${c.name}`, () => {
      const got = problems(validate(), c.data);
      assert.ok(got, `${c.name} was accepted`);
      for (const want of c.expect) {
        assert.ok(
          got.some((m) => (typeof want === 'string' ? m.startsWith(want) : want.test(m))),
          `no message matches ${String(want)}:\n  ${got.join('\n  ')}`,
        );
      }
    });
  }
}

const without = <T extends object>(o: T, key: string): Partial<T> => Object.fromEntries(Object.entries(o).filter(([k]) => k !== key)) as Partial<T>;

test('every schema file is a validator or only definitions, and the runtime ones are tested here', () => {
  const files = readdirSync(schemaDir).filter((f) => f.endsWith('.schema.json')).sort();
  assert.ok(files.includes('common.schema.json'));
  const runtime = ['checkpoint', 'config', 'config-cache', 'journal', 'lease', 'lease-claim', 'outcome', 'readiness-event', 'rejected', 'snapshot'].map((n) => `${n}.schema.json`);
  for (const f of runtime) assert.ok(files.includes(f), f);
  assert.deepEqual(Object.keys(validators).sort(), ['checkpoint', 'config', 'configCache', 'event', 'journal', 'lease', 'leaseClaim', 'outcome', 'rejected', 'snapshot']);
  for (const name of Object.keys(validators)) assert.equal(typeof validators[name as keyof typeof validators], 'function');
});

describe('readiness-event.schema.json', () => {
  const ra = approved('feat-1');
  const fr = finalized('feat-1', 'agent/feat-1', shaOf(1), at(1));
  const bp = pushed('agent/feat-1', shaOf(1));
  checkSchema(
    () => validators.event,
    {
      review_approved: ra,
      'review_approved with id': { ...ra, id: 'ra:1.a_b-c' },
      finalize_ready: fr,
      'finalize_ready with a SHA-256 id and a +02:00 zone': { ...fr, sha: 'a'.repeat(64), ready_at: '2026-01-01T12:00:00.123+02:00' },
      branch_pushed: bp,
      'branch_pushed to another remote': { ...bp, remote: 'upstream' },
      'a nested branch name': { ...fr, branch: 'agents/a1/feat.x-2' },
    },
    [
      { name: 'a missing type', data: without(ra, 'type'), expect: ['type: is required'] },
      { name: 'an unknown type', data: { ...ra, type: 'merged' }, expect: [/^type: must be one of "review_approved", "finalize_ready", "branch_pushed"/] },
      { name: 'a missing slug', data: without(ra, 'slug'), expect: ['slug: is required'] },
      { name: 'a missing approved_at', data: without(ra, 'approved_at'), expect: ['approved_at: is required'] },
      { name: 'a missing reviewer_session_id', data: without(ra, 'reviewer_session_id'), expect: ['reviewer_session_id: is required'] },
      { name: 'review_round 0', data: { ...ra, review_round: 0 }, expect: ['review_round: must be >= 1'] },
      { name: 'a fractional review_round', data: { ...ra, review_round: 1.5 }, expect: ['review_round: must be of type integer'] },
      { name: 'review_round as a string', data: { ...ra, review_round: '1' }, expect: ['review_round: must be of type integer'] },
      { name: 'an unknown field, listing the known ones', data: { ...fr, extra: 1 }, expect: [/^extra: is not a known field \(known fields: type, id, slug, branch, sha, /] },
      { name: 'an uppercase slug', data: { ...ra, slug: 'Feat' }, expect: ['slug: must match'] },
      { name: 'a slug starting with a dash', data: { ...ra, slug: '-feat' }, expect: ['slug: must match'] },
      { name: 'a 129-character slug', data: { ...ra, slug: 'a'.repeat(129) }, expect: ['slug: must match'] },
      { name: 'a short sha', data: { ...fr, sha: 'abc123' }, expect: ['sha: must match'] },
      { name: 'an uppercase sha', data: { ...fr, sha: 'A'.repeat(40) }, expect: ['sha: must match'] },
      { name: 'a 41-digit sha', data: { ...bp, sha: 'a'.repeat(41) }, expect: ['sha: must match'] },
      { name: 'a branch starting with a dash', data: { ...fr, branch: '-rf' }, expect: ["branch: must be a valid git branch name (starts with '-')"] },
      { name: 'a branch with ..', data: { ...bp, branch: 'a..b' }, expect: ["branch: must be a valid git branch name (contains '..')"] },
      { name: 'a branch ending in .lock', data: { ...fr, branch: 'feat.lock' }, expect: [/^branch: must be a valid git branch name \(has a component ending with '\.lock'/] },
      { name: 'a branch with a space', data: { ...fr, branch: 'my feat' }, expect: [/^branch: must be a valid git branch name \(contains a space/] },
      { name: 'an empty branch', data: { ...fr, branch: '' }, expect: [/^branch: /] },
      { name: 'a timestamp without a zone', data: { ...fr, ready_at: '2026-01-01T12:00:00' }, expect: ['ready_at: must be an ISO 8601 date-time with a zone'] },
      { name: 'a date that is not a timestamp', data: { ...bp, pushed_at: 'yesterday' }, expect: ['pushed_at: must be an ISO 8601 date-time with a zone'] },
      { name: 'an empty worker_session_id', data: { ...fr, worker_session_id: '' }, expect: [/^worker_session_id: must NOT have fewer than 1 characters/] },
      { name: 'a bad id', data: { ...ra, id: '-x' }, expect: ['id: must match'] },
      { name: 'a bad remote', data: { ...bp, remote: 'bad remote' }, expect: ['remote: must match'] },
      { name: 'a missing pusher', data: without(bp, 'pusher'), expect: ['pusher: is required'] },
      {
        name: 'several problems at once, each named',
        data: { ...fr, slug: 'X', sha: 'nope', ready_at: 'soon', bogus: true },
        expect: ['slug: must match', 'sha: must match', 'ready_at: must be', 'bogus: is not a known field'],
      },
    ],
  );
});

describe('config.schema.json', () => {
  checkSchema(
    () => validators.config,
    {
      'an empty config': {},
      'every key': {
        mode: 'shadow',
        remote: 'upstream',
        main_branch: 'trunk',
        state_dir: '.git/si',
        lease: { ttl_seconds: 1, renew_every_seconds: 0.2 },
        grace_seconds: 0,
        fetch: true,
        engine: 'worktree',
        checks: [{ run: 'npm test' }, { name: 'lint', run: 'npm run lint', timeout_seconds: 30 }],
        base: 'tip',
        stack_window_seconds: 3600,
      },
    },
    [
      { name: 'an unknown key, listing the known ones', data: { foo: 1 }, expect: [/^foo: is not a known field \(known fields: mode, remote, main_branch, state_dir, lease, grace_seconds, fetch, engine, checks, git_timeout_seconds, base, stack_window_seconds\)/] },
      { name: 'mode cutover', data: { mode: 'cutover' }, expect: ['mode: must be one of "off", "shadow"'] },
      { name: 'a bad engine', data: { engine: 'rebase' }, expect: ['engine: must be one of "merge-tree", "worktree"'] },
      { name: 'fetch as a string', data: { fetch: 'yes' }, expect: ['fetch: must be of type boolean'] },
      { name: 'a nested unknown lease key', data: { lease: { ttl: 5 } }, expect: [/^lease\.ttl: is not a known field \(known fields: ttl_seconds, renew_every_seconds\)/] },
      { name: 'ttl_seconds 0', data: { lease: { ttl_seconds: 0 } }, expect: ['lease.ttl_seconds: must be > 0'] },
      { name: 'a negative grace', data: { grace_seconds: -1 }, expect: ['grace_seconds: must be >= 0'] },
      { name: 'a check without run', data: { checks: [{ name: 'x' }] }, expect: ['checks.0.run: is required'] },
      { name: 'checks as a string', data: { checks: 'npm test' }, expect: ['checks: must be of type array'] },
      { name: 'a bad main_branch', data: { main_branch: 'a..b' }, expect: ["main_branch: must be a valid git branch name (contains '..')"] },
      { name: 'a top level that is not a map', data: ['a'], expect: ['must be of type object'] },
      // Past these, a timer fires every millisecond (Node's limit is 2^31-1 ms) or a date is invalid.
      { name: 'a ttl that overflows a date', data: { lease: { ttl_seconds: 9e12 } }, expect: ['lease.ttl_seconds: must be <= 86400'] },
      { name: 'a renewal period past the timer limit', data: { lease: { renew_every_seconds: 3e6 } }, expect: ['lease.renew_every_seconds: must be <= 86400'] },
      { name: 'a grace of days', data: { grace_seconds: 86400 }, expect: ['grace_seconds: must be <= 3600'] },
      { name: 'a git timeout past the timer limit', data: { git_timeout_seconds: 2147484 }, expect: ['git_timeout_seconds: must be <= 86400'] },
      { name: 'a check timeout past the timer limit', data: { checks: [{ run: 'x', timeout_seconds: 1e9 }] }, expect: ['checks.0.timeout_seconds: must be <= 86400'] },
      { name: 'an infinite-looking ttl', data: { lease: { ttl_seconds: 1e308 } }, expect: ['lease.ttl_seconds: must be <= 86400'] },
      { name: 'a stack window of a year', data: { stack_window_seconds: 31_536_000 }, expect: ['stack_window_seconds: must be <= 2592000'] },
      { name: 'a stack window of 0', data: { stack_window_seconds: 0 }, expect: ['stack_window_seconds: must be > 0'] },
      { name: 'an unknown base', data: { base: 'stack' }, expect: ['base: must be one of "queue", "tip"'] },
    ],
  );

  test('its validator fills the defaults, in list items too', () => {
    const data: Record<string, unknown> = { checks: [{ run: 'npm test' }, { run: 'lint', timeout_seconds: 5 }], lease: { ttl_seconds: 60 } };
    assert.ok(validators.config(data));
    assert.deepEqual(data, {
      checks: [{ run: 'npm test', timeout_seconds: 300 }, { run: 'lint', timeout_seconds: 5 }],
      lease: { ttl_seconds: 60, renew_every_seconds: 30 },
      mode: 'off',
      remote: 'origin',
      main_branch: 'main',
      grace_seconds: 10,
      fetch: false,
      engine: 'merge-tree',
      git_timeout_seconds: 120,
      base: 'queue',
      stack_window_seconds: 86_400,
    });
    const empty: Record<string, unknown> = {};
    assert.ok(validators.config(empty));
    assert.deepEqual(empty.lease, { ttl_seconds: 120, renew_every_seconds: 30 }, 'a missing section gets its defaults');
  });
});

const outcome = {
  schema_version: 1,
  outcome: 'would_block',
  slug: 's1',
  branch: 'b1',
  sha: shaOf(1),
  reasons: ['merge_conflict'],
  conflicts: [{ path: 'a.txt', kind: 'contents' }],
  main_sha: shaOf(2),
  merge_base: shaOf(3),
  merged_tree: null,
  ready_at: at(1),
  enqueued_at: at(2),
  decided_at: at(3),
  lease_epoch: 1,
  duration_ms: 12.5,
};

describe('outcome.schema.json', () => {
  checkSchema(
    () => validators.outcome,
    {
      'a would_block': outcome,
      'a superseded with superseded_by': { ...outcome, outcome: 'superseded', reasons: ['superseded'], conflicts: [], superseded_by: { branch: 'b2', sha: shaOf(2) } },
      'a would_integrate with provenance': { ...outcome, outcome: 'would_integrate', reasons: [], conflicts: [], merged_tree: shaOf(4), git_version: '2.45.0', engine: 'merge-tree' },
      'a block from the stack': { ...outcome, schema_version: 2, episode: 1, base: 'queue', ahead: [{ slug: 's0', branch: 'b0', sha: shaOf(9) }], collides_with: [{ slug: 's0', branch: 'b0', sha: shaOf(9) }] },
    },
    [
      { name: 'an unknown outcome', data: { ...outcome, outcome: 'merged' }, expect: ['outcome: must be one of "would_integrate", "would_block", "superseded"'] },
      { name: 'an unknown reason code', data: { ...outcome, reasons: ['flaky'] }, expect: [/^reasons\.0: must be one of "missing_review_approved"/] },
      { name: 'a missing lease_epoch', data: without(outcome, 'lease_epoch'), expect: ['lease_epoch: is required'] },
      { name: 'lease_epoch 0', data: { ...outcome, lease_epoch: 0 }, expect: ['lease_epoch: must be >= 1'] },
      { name: 'a conflict without kind', data: { ...outcome, conflicts: [{ path: 'a' }] }, expect: ['conflicts.0.kind: is required'] },
      { name: 'superseded_by with an extra field', data: { ...outcome, superseded_by: { branch: 'b', sha: 's', slug: 'x' } }, expect: ['superseded_by.slug: is not a known field'] },
      { name: 'schema_version 3', data: { ...outcome, schema_version: 3 }, expect: ['schema_version: must be one of 1, 2'] },
      { name: 'a negative duration', data: { ...outcome, duration_ms: -1 }, expect: ['duration_ms: must be >= 0'] },
      { name: 'a bad engine', data: { ...outcome, engine: 'octopus' }, expect: ['engine: must be one of "merge-tree", "worktree"'] },
      { name: 'collides_with naming only a slug', data: { ...outcome, collides_with: [{ slug: 's0' }] }, expect: ['collides_with.0.branch: is required'] },
    ],
  );
});

const item = {
  slug: 's1',
  branch: 'b1',
  sha: shaOf(1),
  status: 'in_progress',
  ready_at: at(1),
  log_offset: 0,
  enqueued_at: at(2),
  transitions: [{ at: at(3), from: 'queued', to: 'in_progress', reason: 'dequeued', epoch: 1 }],
};

const round = () => ({
  epoch: 1,
  at: at(0),
  log: { dev: 1, ino: 2, offset: 300, lines: 1, base: 0, head_hash: 'abc', tail_hash: 'def' },
  ledger: { head_len: 256, head_hash: 'abc', offset: 900 },
  rejected: { count: 0, position: { head_len: 0, head_hash: '', offset: 0 } },
  counts: { would_integrate: 1, would_block: 0, superseded: 0 },
  snapshot: null,
  queue: { live: 1, waiting: 0 },
});

describe('journal.schema.json', () => {
  checkSchema(
    () => validators.journal,
    {
      'a base': { t: 'base', epoch: 1, at: at(0), items: 1, round: round() },
      'an enqueue': { t: 'enqueue', epoch: 1, item },
      'a transition': { t: 'transition', epoch: 2, slug: 's1', branch: 'b1', sha: shaOf(1), transition: { at: at(3), from: 'in_progress', to: 'would_block', reason: 'git_error', epoch: 2 } },
      'a drop': { t: 'drop', epoch: 2, at: at(3), slug: 's1', branch: 'b1', sha: shaOf(1), reason: 'its outcome is already in the ledger' },
      'a round': { t: 'round', epoch: 2, round: round() },
      'a tenure': { t: 'tenure', epoch: 2, at: at(0), owner: { host: 'h', pid: 1, run_id: 'r' } },
      'a base with a stack': { t: 'base', epoch: 1, at: at(0), items: 1, stack: 1, round: { ...round(), queue: { live: 1, waiting: 0, stacked: 1 }, stack_checked: { main_sha: shaOf(2), at: at(0) } } },
      'a stack push': { t: 'stack_push', epoch: 2, entry: { slug: 's1', branch: 'b1', sha: shaOf(1), episode: 1, decided_at: at(3), main_sha: shaOf(2) } },
      'a stack drop': { t: 'stack_drop', epoch: 2, at: at(4), slug: 's1', branch: 'b1', sha: shaOf(1), episode: 1, reason: 'on_main', main_sha: shaOf(5) },
    },
    [
      { name: 'an unknown record type', data: { t: 'merge', epoch: 1 }, expect: [/^t: must be one of/] },
      { name: 'a record without its epoch', data: { t: 'enqueue', item }, expect: ['epoch: is required'] },
      { name: 'a terminal status in the queue', data: { t: 'enqueue', epoch: 1, item: { ...item, status: 'would_integrate' } }, expect: ['item.status: must be one of "queued", "in_progress"'] },
      { name: 'a negative log_offset', data: { t: 'enqueue', epoch: 1, item: { ...item, log_offset: -1 } }, expect: ['item.log_offset: must be >= 0'] },
      {
        name: 'a transition to an unknown state',
        data: { t: 'transition', epoch: 1, slug: 's1', branch: 'b1', sha: shaOf(1), transition: { at: at(3), to: 'merged', reason: 'x' } },
        expect: [/^transition\.to: must be one of/],
      },
      { name: 'an item without sha', data: { t: 'enqueue', epoch: 1, item: without(item, 'sha') }, expect: ['item.sha: is required'] },
      { name: 'a stack drop for an unknown reason', data: { t: 'stack_drop', epoch: 2, at: at(4), slug: 's1', branch: 'b1', sha: shaOf(1), episode: 1, reason: 'bored' }, expect: [/^reason: must be one of "on_main"/] },
      { name: 'a stack entry without decided_at', data: { t: 'stack_push', epoch: 2, entry: { slug: 's1', branch: 'b1', sha: shaOf(1), episode: 1, main_sha: null } }, expect: ['entry.decided_at: is required'] },
    ],
  );
});

describe('snapshot.schema.json', () => {
  const header = { schema_version: 2, remote: 'origin', created_at: at(0), epoch: 1, log: round().log, ledger: round().ledger, sizes: { slugs: 1 }, sections: [{ name: 'slugHi', offset: 0, bytes: 4 }] };
  checkSchema(
    () => validators.snapshot,
    { 'a header': header },
    [
      { name: 'a section without its offset', data: { ...header, sections: [{ name: 'x', bytes: 4 }] }, expect: ['sections.0.offset: is required'] },
      { name: 'a missing remote', data: without(header, 'remote'), expect: ['remote: is required'] },
      { name: 'a snapshot of version 1 (no sha-bound approvals, no episodes): rebuilt from the log', data: { ...header, schema_version: 1 }, expect: ['schema_version: must be 2'] },
      { name: 'a log cursor without its offset', data: { ...header, log: without(round().log, 'offset') }, expect: ['log.offset: is required'] },
    ],
  );
});

describe('lease-claim.schema.json', () => {
  const claim = { epoch: 3, owner: { host: 'h', pid: 1, run_id: 'r' }, claimed_at: at(0) };
  checkSchema(
    () => validators.leaseClaim,
    { 'a claim': claim },
    [
      { name: 'epoch 0', data: { ...claim, epoch: 0 }, expect: ['epoch: must be >= 1'] },
      { name: 'an owner without pid', data: { ...claim, owner: { host: 'h', run_id: 'r' } }, expect: ['owner.pid: is required'] },
    ],
  );
});

const lease = {
  schema_version: 1,
  key: 'integration/main',
  owner: { host: 'h', pid: 1, run_id: 'r' },
  token: 't',
  epoch: 1,
  acquired_at: at(0),
  renewed_at: at(0),
  expires_at: at(60),
  released_at: null,
};

describe('lease.schema.json', () => {
  checkSchema(
    () => validators.lease,
    { 'a held lease': lease, 'a released lease': { ...lease, released_at: at(30) } },
    [
      { name: 'another key', data: { ...lease, key: 'integration/dev' }, expect: ['key: must be "integration/main"'] },
      { name: 'epoch 0', data: { ...lease, epoch: 0 }, expect: ['epoch: must be >= 1'] },
      { name: 'an owner without pid', data: { ...lease, owner: { host: 'h', run_id: 'r' } }, expect: ['owner.pid: is required'] },
      { name: 'a missing released_at', data: without(lease, 'released_at'), expect: ['released_at: is required'] },
      { name: 'released_at as a number', data: { ...lease, released_at: 5 }, expect: [/^released_at: must be of type string,null/] },
    ],
  );
});

const checkpoint = () => ({ schema_version: 2, updated_at: at(0), journal: { file: 'journal.1.0.jsonl', size: 1200 }, round: round() });

describe('checkpoint.schema.json', () => {
  checkSchema(
    () => validators.checkpoint,
    {
      'a header': checkpoint(),
      'a header naming a snapshot': { ...checkpoint(), round: { ...round(), snapshot: { file: 'projection.3.0.snap', log: round().log, ledger: round().ledger } } },
    },
    [
      { name: 'schema_version 1 (the whole projection in JSON: no more)', data: { ...checkpoint(), schema_version: 1 }, expect: ['schema_version: must be 2'] },
      { name: 'a negative log offset', data: { ...checkpoint(), round: { ...round(), log: { dev: 1, ino: 2, offset: -1, lines: 0, base: 0 } } }, expect: ['round.log.offset: must be >= 0'] },
      { name: 'a missing ledger position', data: { ...checkpoint(), round: without(round(), 'ledger') }, expect: ['round.ledger: is required'] },
      { name: 'a journal that is not one', data: { ...checkpoint(), journal: { file: 'queue.json', size: 0 } }, expect: [/^journal\.file: must match/] },
      { name: 'an unknown counts key', data: { ...checkpoint(), round: { ...round(), counts: { would_integrate: 0, would_block: 0, superseded: 0, merged: 1 } } }, expect: ['round.counts.merged: is not a known field'] },
    ],
  );
});

const rejected = { offset: 0, line: 1, raw: '{', truncated: false, reason: 'invalid_json', errors: ['Unexpected end of JSON input'], rejected_at: at(0) };

describe('rejected.schema.json', () => {
  checkSchema(
    () => validators.rejected,
    { 'a rejected line': rejected, 'a truncated one': { ...rejected, reason: 'line_too_long', truncated: true } },
    [
      { name: 'an unknown reason', data: { ...rejected, reason: 'ugly' }, expect: [/^reason: must be one of "invalid_json", "invalid_utf8", "line_too_long"/] },
      { name: 'line 0', data: { ...rejected, line: 0 }, expect: ['line: must be >= 1'] },
      { name: 'a missing offset', data: without(rejected, 'offset'), expect: ['offset: is required'] },
    ],
  );
});

describe('branch names (refname.ts)', () => {
  const valid = ['main', 'feat/x', 'agents/a1/feat.x-2', 'a-', 'x@y', 'ü', 'a.b/c.d'];
  const invalid: [string, RegExp][] = [
    ['', /empty/],
    ['-x', /starts with '-'/],
    ['HEAD', /reserved/],
    ['@', /reserved/],
    ['/x', /begins or ends/],
    ['x/', /begins or ends/],
    ['x.', /ends with '\.'/],
    ['a//b', /'\/\/'/],
    ['a..b', /'\.\.'/],
    ['a@{1}', /'@\{'/],
    ['a b', /space/],
    ['a~1', /~/],
    ['a^', /~/],
    ['a:b', /~/],
    ['a?', /~/],
    ['a*', /~/],
    ['a[', /~/],
    ['a\\b', /~/],
    ['a\x7f', /control/],
    ['.hidden', /starting with '\.'/],
    ['x/.y', /starting with '\.'/],
    ['x.lock', /'\.lock'/],
    ['x.lock/y', /'\.lock'/],
  ];
  test('the one-regex check agrees with the step-by-step one', () => {
    for (const name of valid) {
      assert.equal(branchNameProblem(name), null, name);
      assert.equal(isValidBranchName(name), true, name);
    }
    for (const [name, why] of invalid) {
      assert.match(branchNameProblem(name) ?? 'null', why, JSON.stringify(name));
      assert.equal(isValidBranchName(name), false, JSON.stringify(name));
    }
  });
});
