/**
 * The `date-time` format accepts only timestamps the tool can use: RFC 3339 with a zone, read back by
 * Date.parse as exactly the instant written, in the years 1970–9999. Pure.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isTimestamp, MAX_TIMESTAMP_MS, MIN_TIMESTAMP_MS, timestampMs, timestampProblem } from '../../src/contract/timestamp.js';
import { describeErrors, formatProblems, validators } from '../../src/contract/validate.js';
import { finalized, shaOf } from '../support/index.js';

test('accepts RFC 3339 timestamps with a zone, as the instant written', () => {
  const cases: [string, number][] = [
    ['2026-01-31T12:00:00Z', Date.UTC(2026, 0, 31, 12)],
    ['2026-01-31t12:00:00z', Date.UTC(2026, 0, 31, 12)],
    ['2026-01-31T14:00:00+02:00', Date.UTC(2026, 0, 31, 12)],
    ['2026-01-31T07:30:00-04:30', Date.UTC(2026, 0, 31, 12)],
    ['2026-01-31T12:00:00-00:00', Date.UTC(2026, 0, 31, 12)],
    ['2026-01-31T12:00:00.5Z', Date.UTC(2026, 0, 31, 12, 0, 0, 500)],
    ['2026-01-31T12:00:00.123456789Z', Date.UTC(2026, 0, 31, 12, 0, 0, 123)],
    ['2024-02-29T00:00:00Z', Date.UTC(2024, 1, 29)],
    ['1970-01-01T00:00:00Z', MIN_TIMESTAMP_MS],
    ['9999-12-31T23:59:59.999Z', MAX_TIMESTAMP_MS],
    [new Date(Date.UTC(2026, 5, 1, 8, 9, 10, 11)).toISOString(), Date.UTC(2026, 5, 1, 8, 9, 10, 11)],
  ];
  for (const [text, ms] of cases) {
    assert.equal(timestampProblem(text), null, text);
    assert.equal(isTimestamp(text), true, text);
    assert.equal(timestampMs(text), ms, text);
    assert.equal(Date.parse(text), ms, `${text}: what the rest of the tool computes`);
  }
});

test('refuses what would break later, each with the reason', () => {
  const cases: [string, RegExp][] = [
    ['2026-12-31T23:59:60Z', /second 60 is a leap second/],
    ['2026-01-01T00:00:00', /has no zone/],
    ['2026-01-01 00:00:00', /has no zone/],
    ['2026-01-01T00:00:00+01', /not of the form/],
    ['2026-01-01T00:00:00+0100', /not of the form/],
    ['2026-01-01 00:00:00Z', /not of the form/],
    ['2026-01-01T00:00Z', /not of the form/],
    ['2026-01-01T00:00:00.Z', /not of the form/],
    ['2026-01-01T00:00:00.1234567890Z', /not of the form/],
    ['yesterday', /not of the form/],
    ['', /not of the form/],
    ['2026-02-29T00:00:00Z', /day 29 does not exist in 2026-02/],
    ['2026-02-30T00:00:00Z', /day 30 does not exist/],
    ['2026-04-31T00:00:00Z', /day 31 does not exist/],
    ['2026-00-10T00:00:00Z', /month 00 does not exist/],
    ['2026-13-10T00:00:00Z', /month 13 does not exist/],
    ['2026-01-00T00:00:00Z', /day 00 does not exist/],
    ['2026-01-01T24:00:00Z', /hour 24 does not exist/],
    ['2026-01-01T00:60:00Z', /minute 60 does not exist/],
    ['2026-01-01T00:00:61Z', /second 61 does not exist/],
    ['2026-01-01T00:00:00+24:00', /zone offset \+24:00 does not exist/],
    ['2026-01-01T00:00:00+01:60', /zone offset \+01:60 does not exist/],
    ['1969-12-31T23:59:59Z', /outside the years 1970 to 9999/],
    ['1970-01-01T00:00:00+01:00', /outside the years 1970 to 9999/],
    ['0000-01-01T00:00:00Z', /outside the years 1970 to 9999/],
    ['0099-01-01T00:00:00Z', /outside the years 1970 to 9999/],
    ['9999-12-31T23:59:59-01:00', /outside the years 1970 to 9999/],
  ];
  for (const [text, why] of cases) {
    assert.match(timestampProblem(text) ?? 'accepted', why, JSON.stringify(text));
    assert.equal(isTimestamp(text), false, text);
    assert.equal(timestampMs(text), null, text);
  }
});

test('every instant the tool writes (toISOString) is one it accepts again', () => {
  for (let ms = MIN_TIMESTAMP_MS; ms <= MAX_TIMESTAMP_MS; ms += 7_777_777_777_777) {
    const text = new Date(ms).toISOString();
    assert.equal(timestampMs(text), ms, text);
  }
});

test('a readiness event with a leap second is refused by its validator, saying why', () => {
  const event = finalized('s1', 'b1', shaOf(1), '2026-12-31T23:59:60Z');
  assert.equal(validators.event(event), false);
  assert.deepEqual(formatProblems(describeErrors(validators.event.errors, event)), [
    'ready_at: must be an ISO 8601 date-time with a zone (RFC 3339), e.g. 2026-01-31T12:00:00Z: second 60 is a leap second, which JavaScript dates cannot represent',
  ]);
});

test('a zone the parser cannot read (+01) is refused by the validator too', () => {
  assert.equal(validators.event(finalized('s1', 'b1', shaOf(1), '2026-01-01T00:00:00+01')), false);
});
