/** One readiness line → an event or the reason it is quarantined. Pure: bytes in, data out. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { validators } from '../../src/contract/validate.js';
import { MAX_LINE_BYTES, parseReadinessLine, RAW_KEEP_BYTES } from '../../src/readiness/parse.js';
import { approved, at, finalized, shaOf } from '../support/index.js';

const parse = (text: string | Buffer, tooLong = false) => parseReadinessLine(Buffer.isBuffer(text) ? text : Buffer.from(text), 1234, 7, tooLong);

function rejection(text: string | Buffer, tooLong = false) {
  const r = parse(text, tooLong);
  assert.equal(r.ok, false, 'the line was accepted');
  if (r.ok) throw new Error('unreachable');
  assert.equal(r.rejected.offset, 1234);
  assert.equal(r.rejected.line, 7);
  assert.ok(validators.rejected({ ...r.rejected, rejected_at: at(0) }), 'a rejection is a valid rejected.jsonl line');
  return r.rejected;
}

describe('parseReadinessLine', () => {
  test('a valid event is returned as is; CRLF and surrounding spaces are fine', () => {
    const e = finalized('s1', 'b1', shaOf(1), at(1), { id: 'x' });
    for (const text of [JSON.stringify(e), `${JSON.stringify(e)}\r`, `  ${JSON.stringify(e)}  `]) {
      const r = parse(text);
      assert.ok(r.ok === true);
      assert.deepEqual(r.event, e);
    }
  });

  test('bad JSON: invalid_json with the parser message', () => {
    const r = rejection('{"type": "review_approved",');
    assert.equal(r.reason, 'invalid_json');
    assert.equal(r.raw, '{"type": "review_approved",');
    assert.equal(r.truncated, false);
    assert.ok((r.errors[0] ?? '').length > 0);
  });

  test('a blank line is no event and no error (a fresh-line append after a torn one can leave one)', () => {
    for (const text of ['', '  ', '\r', ' \t\r']) assert.deepEqual(parse(text), { ok: 'blank' });
  });

  test('a time the schema accepts but Date cannot use (a leap second) is quarantined, naming the field', () => {
    const leap = rejection(JSON.stringify(finalized('s1', 'b1', shaOf(1), '2016-12-31T23:59:60Z')));
    assert.equal(leap.reason, 'schema');
    assert.match(leap.errors.join('\n'), /^ready_at: .*leap second/);
    assert.equal(rejection(JSON.stringify(approved('s1', { approved_at: '2026-02-30T00:00:00Z' }))).reason, 'schema');
  });

  test('invalid UTF-8: invalid_utf8, raw text with U+FFFD', () => {
    const bytes = Buffer.concat([Buffer.from('{"type":"review_approved","slug":"a'), Buffer.from([0xff, 0xfe]), Buffer.from('"}')]);
    const r = rejection(bytes);
    assert.equal(r.reason, 'invalid_utf8');
    assert.ok(r.raw.includes('\ufffd'));
  });

  test('not an object: arrays, strings, numbers, null', () => {
    for (const text of ['[1,2]', '"review_approved"', '42', 'null', 'true']) assert.equal(rejection(text).reason, 'not_an_object', text);
  });

  test('unknown or missing type: unknown_type naming the allowed ones', () => {
    for (const text of ['{"type":"merged","slug":"a"}', '{"slug":"a"}', '{"type":5}']) {
      const r = rejection(text);
      assert.equal(r.reason, 'unknown_type', text);
      assert.match(r.errors[0] ?? '', /^type: .* is not one of "review_approved", "finalize_ready", "branch_pushed"/);
    }
  });

  test('schema errors: one message per field, naming it', () => {
    const r = rejection(JSON.stringify({ ...approved('Bad Slug'), review_round: 0, extra: true }));
    assert.equal(r.reason, 'schema');
    assert.ok(r.errors.some((m) => m.startsWith('slug: must match')), r.errors.join('; '));
    assert.ok(r.errors.some((m) => m.startsWith('review_round: must be >= 1')));
    assert.ok(r.errors.some((m) => m.startsWith('extra: is not a known field')));
  });

  test('a line over the size bound: line_too_long, its raw text cut and flagged', () => {
    const big = JSON.stringify({ ...approved('a'), reviewer_session_id: 'x'.repeat(MAX_LINE_BYTES) });
    const r = rejection(big);
    assert.equal(r.reason, 'line_too_long');
    assert.equal(r.truncated, true);
    assert.equal(Buffer.byteLength(r.raw), RAW_KEEP_BYTES);
    // A line the reader already cut (longer than its buffer) is flagged by the reader.
    assert.equal(rejection('{"cut":', true).reason, 'line_too_long');
  });

  test('a long rejected line below the bound keeps only its first 4096 bytes', () => {
    const r = rejection(`{"type":"merged","pad":"${'p'.repeat(10_000)}"}`);
    assert.equal(r.reason, 'unknown_type');
    assert.equal(r.truncated, true);
    assert.equal(r.raw.length, RAW_KEEP_BYTES);
  });
});
