/**
 * Every --json output matches its schema in schemas/, as the commands produce it today: the core
 * functions the commands print (JSON round-tripped, as printed) on a real fixture repository with a
 * real drain through the git engine, and the examples of docs/json-output.md, so that neither the
 * schemas nor the docs drift from what users get.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { createFixture, type Fixture } from '../../fixtures/repo.js';
import { loadConfig, type LoadedConfig } from '../../src/config/config.js';
import { init } from '../../src/config/init.js';
import { errors } from '../../src/contract/errors.js';
import * as outputs from '../../src/contract/output-validators.generated.js';
import { describeErrors, formatProblems, schemaDir, validators, type Validator } from '../../src/contract/validate.js';
import { installHooks, uninstallHooks } from '../../src/hooks/install.js';
import { receivePushes } from '../../src/hooks/receive.js';
import { readOutcomes } from '../../src/ledger/ledger.js';
import { emit } from '../../src/producer/emit.js';
import { explain } from '../../src/report/explain.js';
import { parity } from '../../src/report/parity.js';
import { status } from '../../src/report/status.js';
import { drain } from '../../src/runtime/drain.js';
import { engineFactory } from '../../src/runtime/evaluator.js';
import { releaseLease } from '../../src/runtime/lease-store.js';
import { statePaths } from '../../src/store/paths.js';
import { appendEvents, approved, at, CLI, clonedRepo, finalized, holdLease, pushed, tempRepo, testContext } from '../support/index.js';

/** Asserts `data`, as printed (through JSON), is valid; returns the parsed copy. */
function assertValid(validate: Validator<unknown>, data: unknown, what: string): unknown {
  const printed: unknown = JSON.parse(JSON.stringify(data));
  assert.ok(validate(printed), `${what} does not match its schema:\n  ${formatProblems(describeErrors(validate.errors, printed)).join('\n  ')}\n${JSON.stringify(printed, null, 2).slice(0, 3000)}`);
  return printed;
}

describe('the outputs of the commands, on a real repository', { timeout: 120_000 }, () => {
  let fx: Fixture;
  let loaded: LoadedConfig;
  const ctx = () => testContext({ cwd: fx.clone });
  let midDrainStatus: unknown = null;

  before(async () => {
    fx = createFixture({ agents: ['alice'] });
    const s = fx.scenarios;
    fx.git(fx.clone, 'config', 'user.name', 'fixture');
    fx.git(fx.clone, 'config', 'user.email', 'fixture@example.com');
    writeFileSync(join(fx.clone, '.shadow-integrator.yml'), 'mode: shadow\ngrace_seconds: 0\n');
    loaded = loadConfig({ cwd: fx.clone });
    const paths = statePaths(loaded.config.state_dir);
    const events = [];
    let n = 0;
    for (const key of ['clean', 'conflict_content', 'not_on_remote', 'superseded_old', 'superseded_new'] as const) {
      const c = s[key];
      n += 1;
      events.push(approved(c.slug), finalized(c.slug, c.branch, c.sha, at(n)), pushed(c.branch, c.sha));
    }
    // A duplicate (ignored by explain) and a line that names a slug but is refused (rejected).
    events.push(approved(s.clean.slug, { id: 'dup' }), approved(s.clean.slug, { id: 'dup' }));
    emit(loaded, ctx(), 'review_approved', { slug: 'waiting-one', review_round: 1, reviewer_session_id: 'r' });
    appendEvents(paths.readiness, [...events, `{"type":"review_approved","slug":"${s.clean.slug}","review_round":0}`]);
    const report = await drain(loaded, ctx(), {
      engine: () => {
        const engine = engineFactory(loaded, ctx())();
        return {
          evaluate: (item, signal) => {
            // While a holder evaluates: the lease is held and the queue has items.
            midDrainStatus ??= { ...status(loaded, ctx()), hooks: [] };
            return engine.evaluate(item, signal);
          },
          close: () => engine.close(),
        };
      },
    });
    assert.equal(report.status, 'done', JSON.stringify(report));
    assertValid(outputs.drain, report, 'drain (done)');
  });
  after(() => fx?.remove());

  test('status: fresh, mid-drain (lease held, a queue) and after', () => {
    const fresh = tempRepo();
    try {
      assertValid(outputs.status, { ...status(fresh.load(), testContext({ cwd: fresh.dir })), hooks: [] }, 'status of a fresh repository');
    } finally {
      fresh.remove();
    }
    const mid = assertValid(outputs.status, midDrainStatus, 'status mid-drain') as { lease: { state: string }; queue: unknown[] };
    assert.equal(mid.lease.state, 'held');
    assert.ok(mid.queue.length > 0);
    const done = assertValid(outputs.status, { ...status(loaded, ctx()), hooks: [] }, 'status after the drain') as { last_outcome: unknown };
    assert.notEqual(done.last_outcome, null);
  });

  test('drain: idle, mode off, lease busy', async () => {
    assertValid(outputs.drain, await drain(loaded, ctx(), { engine: engineFactory(loaded, ctx()) }), 'drain (idle)');
    assertValid(outputs.drain, await drain({ ...loaded, config: { ...loaded.config, mode: 'off' } }, ctx(), { engine: engineFactory(loaded, ctx()) }), 'drain (mode off)');
    const paths = statePaths(loaded.config.state_dir);
    const other = await holdLease(paths, new Date(), 'other-holder');
    emit(loaded, ctx(), 'review_approved', { slug: 'late', review_round: 1, reviewer_session_id: 'r' });
    const busy = await drain(loaded, ctx(), { engine: engineFactory(loaded, ctx()) });
    assert.equal(busy.status, 'lease_busy');
    assertValid(outputs.drain, busy, 'drain (lease busy)');
    await releaseLease(paths, other, () => new Date());
  });

  test('explain: decided, conflicting, superseded, waiting, with ignored and rejected lines', () => {
    const s = fx.scenarios;
    for (const slug of [s.clean.slug, s.conflict_content.slug, s.not_on_remote.slug, s.superseded_new.slug, 'waiting-one']) {
      assertValid(outputs.explain, explain(loaded, ctx(), slug), `explain ${slug}`);
    }
    const r = explain(loaded, ctx(), s.clean.slug);
    assert.ok(r.ignored.length > 0 && r.rejected.length > 0, 'the example exercises ignored and rejected lines');
    assert.ok(explain(loaded, ctx(), s.superseded_new.slug).supersession.length > 0);
  });

  test('outcomes: every JSON line is an outcome', () => {
    const { outcomes } = readOutcomes(statePaths(loaded.config.state_dir));
    assert.ok(outcomes.some((o) => o.conflicts.length > 0) && outcomes.some((o) => o.outcome === 'superseded'));
    for (const o of outcomes) assertValid(validators.outcome, o, `outcome of ${o.slug}`);
  });

  test('parity, with a landing and a gate', async () => {
    const c = fx.scenarios.clean;
    fx.git(fx.clone, 'merge', '-q', '--no-ff', '-m', 'land clean', c.sha);
    fx.push(fx.clone, 'HEAD:refs/heads/main');
    const r = await parity(loaded, ctx(), { minAgreement: 0.5 });
    assert.ok(r.candidates.some((x) => x.landing !== null) && r.gate !== null);
    assertValid(outputs.parity, r, 'parity');
  });

  test('config and emit', () => {
    assertValid(outputs.effectiveConfig, { file: loaded.file, config: loaded.config, sources: loaded.sources, warnings: [] }, 'config');
    assertValid(validators.event, emit(loaded, ctx(), 'retry_requested', { slug: 'x', requested_by: 'me' }).event, 'emit');
  });

  test('hooks install, uninstall and receive', () => {
    const cli = { node: process.execPath, main: CLI, version: '0.1.0' };
    assertValid(outputs.hooks, installHooks(loaded, ctx(), { origin: fx.origin, cli }), 'hooks install');
    assertValid(outputs.hooks, uninstallHooks(loaded, ctx(), { origin: fx.origin }), 'hooks uninstall');
    const input = `${'0'.repeat(40)} ${fx.scenarios.clean.sha} refs/heads/agent/new\n${fx.scenarios.clean.sha} ${'0'.repeat(40)} refs/heads/gone\n`;
    const r = receivePushes(loaded, ctx(), input, { pusher: 'p' });
    assert.ok(r.recorded.length === 1 && r.skipped.length === 1);
    assertValid(outputs.hooksReceive, r, 'hooks receive');
  });

  test('init', () => {
    const r = clonedRepo({ remote: 'upstream', branch: 'master' });
    assertValid(outputs.init, init(testContext({ cwd: r.dir }), {}), 'init');
  });

  test('the error envelope, for errors of the catalogue', () => {
    for (const e of [errors.configInvalid('f', [{ key: 'k', line: 2, message: 'm' }]), errors.optionInvalid('--since', 'bad', 'a time'), errors.slugUnknown('s'), errors.parityBelowThreshold(0.5, 0.9, 1)]) {
      assertValid(outputs.error, { error: e.toJSON() }, `error ${e.code}`);
    }
    assert.equal(outputs.error({ error: { code: 'oops', message: 'm', details: {} } }), false, 'a code is E_ and capitals');
  });
});

describe('docs/json-output.md', () => {
  const doc = readFileSync(new URL('../../../docs/json-output.md', import.meta.url), 'utf8');
  /** What each --json output is validated by, by schema file. */
  const bySchema: Record<string, Validator<unknown>> = {
    'status.schema.json': outputs.status,
    'explain.schema.json': outputs.explain,
    'outcome.schema.json': validators.outcome,
    'parity.schema.json': outputs.parity,
    'conflicts.schema.json': outputs.conflicts,
    'drain.schema.json': outputs.drain,
    'readiness-event.schema.json': validators.event,
    'effective-config.schema.json': outputs.effectiveConfig,
    'init.schema.json': outputs.init,
    'hooks.schema.json': outputs.hooks,
    'hooks-receive.schema.json': outputs.hooksReceive,
    'error.schema.json': outputs.error,
  };

  test('lists every --json schema', () => {
    const documented = new Set([...doc.matchAll(/schemas\/([\w-]+\.schema\.json)/g)].map((m) => m[1]));
    for (const file of Object.keys(bySchema)) assert.ok(documented.has(file), `${file} is not in the docs`);
    for (const file of documented) assert.ok(existsSync(new URL(file as string, schemaDir)), `the docs name ${file}, which does not exist`);
    const validated = new Set(Object.values(bySchema));
    for (const [name, validate] of Object.entries(outputs)) {
      if (name !== 'resolvedConfig') assert.ok(validated.has(validate), `output validator ${name} has no section in the docs`);
    }
  });

  test('every example matches the schema its section names', () => {
    let schema: string | undefined;
    let examples = 0;
    for (const part of doc.split(/^```/m).map((p, i) => ({ text: p, code: i % 2 === 1 }))) {
      if (!part.code) {
        const named = [...part.text.matchAll(/^Schema: \[`schemas\/([\w-]+\.schema\.json)`\]/gm)].at(-1)?.[1];
        if (named) schema = named;
        continue;
      }
      const [lang, ...lines] = part.text.split('\n');
      if (lang !== 'json' && lang !== 'jsonl') continue;
      const validate = bySchema[schema ?? ''];
      assert.ok(validate, `an example under ${schema ?? 'no Schema: line'} has no validator`);
      const docs = lang === 'json' ? [lines.join('\n')] : lines.filter((l) => l.trim());
      for (const text of docs) assertValid(validate, JSON.parse(text), `the ${schema} example ${text.slice(0, 60)}…`);
      examples += docs.length;
    }
    assert.ok(examples >= Object.keys(bySchema).length, `${examples} examples`);
  });
});
