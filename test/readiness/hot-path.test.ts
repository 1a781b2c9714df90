/**
 * The formats every readiness event is validated with are on the ingestion hot path, so their rules
 * are written as single passes over the characters. Here they are held against the reference rules
 * (a regular expression per rule, the general timestamp parse) on many generated inputs, edge cases
 * first: the fast forms must accept and refuse exactly the same strings.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { branchNameProblem, isValidBranchName } from '../../src/contract/refname.js';
import { timestampMs, timestampProblem } from '../../src/contract/timestamp.js';

/** The branch rules as they were written before: one lookahead per rule (the reference). */
// eslint-disable-next-line no-control-regex
const REFERENCE_BRANCH = /^(?!-)(?!\/)(?!.*\/$)(?!.*\.$)(?!.*\/\/)(?!.*\.\.)(?!.*@\{)(?!(?:.*\/)?\.)(?!.*\.lock(?:\/|$))(?!(?:HEAD|@)$)[^\x00-\x20\x7f~^:?*[\\]+$/;

/** The general timestamp rule (RFC 3339 with a zone, a real instant, 1970–9999, read back by Date.parse as written): the reference. */
function referenceMs(text: string): number | null {
  const m = /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(\.\d{1,9})?(?:[Zz]|([+-])(\d{2}):(\d{2}))$/.exec(text);
  if (!m) return null;
  const [year, month, day, hour, minute, second] = m.slice(1, 7).map(Number) as [number, number, number, number, number, number];
  if (month < 1 || month > 12 || day < 1 || day > new Date(Date.UTC(year, month, 0)).getUTCDate() || hour > 23 || minute > 59 || second > 59) return null;
  const oh = Number(m[9] ?? 0);
  const om = Number(m[10] ?? 0);
  if (oh > 23 || om > 59) return null;
  const ms = year < 1970 ? NaN : Date.UTC(year, month - 1, day, hour, minute, second, Number(`${(m[7] ?? '').slice(1)}00`.slice(0, 3))) - (m[8] === '-' ? -1 : 1) * (oh * 60 + om) * 60_000;
  if (!(ms >= Date.UTC(1970, 0, 1) && ms <= Date.UTC(9999, 11, 31, 23, 59, 59, 999))) return null;
  return Date.parse(text) === ms ? ms : null;
}

function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = Math.imul(s ^ (s >>> 15), s | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

test('branch names: the one-pass rule accepts exactly what the reference rules accept', () => {
  const edge = ['', '-', 'a', 'HEAD', '@', 'HEADS', 'a@', '@{', 'a@{b', 'a@b{', '/a', 'a/', 'a//b', 'a/b', '.a', 'a/.b', 'a.', 'a..b', 'a.b', 'a.lock', 'a.lock/b', 'a/b.lock', 'b/.lock', 'x.locks', 'a.lockx/b', 'a b', 'a\tb', 'a~', 'a^', 'a:b', 'a?', 'a*', 'a[', 'a\\b', 'a\u007f', 'é/漢', 'agent/7/task-1', '-x', 'x-', 'lock', '.lock'];
  for (const name of edge) assert.equal(isValidBranchName(name), REFERENCE_BRANCH.test(name), JSON.stringify(name));
  const random = prng(7);
  const alphabet = ['a', 'b', '/', '.', '-', '@', '{', 'l', 'o', 'c', 'k', ' ', '~', 'H', 'E', 'A', 'D', 'é'];
  for (let i = 0; i < 50_000; i++) {
    const name = Array.from({ length: Math.floor(random() * 12) }, () => alphabet[Math.floor(random() * alphabet.length)] as string).join('');
    assert.equal(isValidBranchName(name), REFERENCE_BRANCH.test(name), JSON.stringify(name));
    assert.equal(isValidBranchName(name), branchNameProblem(name) === null, `${JSON.stringify(name)}: the explanation agrees`);
  }
});

test('timestamps: the fast path accepts exactly what the general rule accepts, with the same instant', () => {
  const edge = [
    '2026-01-31T12:00:00Z',
    '2026-01-31T12:00:00.000Z',
    '2026-01-31T12:00:00.5Z',
    '2026-01-31t12:00:00z',
    '2026-02-29T00:00:00.000Z',
    '2024-02-29T00:00:00.000Z',
    '2000-02-29T00:00:00.000Z',
    '1900-02-29T00:00:00.000Z',
    '2026-04-31T00:00:00.000Z',
    '2026-12-31T23:59:59.999Z',
    '2016-12-31T23:59:60Z',
    '2016-12-31T23:59:60.000Z',
    '1969-12-31T23:59:59.999Z',
    '1970-01-01T00:00:00.000Z',
    '9999-12-31T23:59:59.999Z',
    '2026-13-01T00:00:00.000Z',
    '2026-00-01T00:00:00.000Z',
    '2026-01-00T00:00:00.000Z',
    '2026-01-01T24:00:00.000Z',
    '2026-01-01T23:60:00.000Z',
    '2026-01-01T12:00:00.000+02:00',
    '2026-01-01T12:00:00+01',
    '2026-01-01 12:00:00Z',
    '2026-01-01T12:00:00',
    '2026-1-01T12:00:00Z',
    '２026-01-01T12:00:00Z',
    '2026-01-01T12:00:00.00Z',
    '2026-01-01T12:00:00.0000Z',
  ];
  for (const t of edge) assert.equal(timestampMs(t), referenceMs(t), t);
  const random = prng(11);
  const pad = (n: number, w: number) => String(n).padStart(w, '0');
  for (let i = 0; i < 50_000; i++) {
    const y = [1969, 1970, 2000, 2024, 2026, 2100, 9999][Math.floor(random() * 7)] as number;
    const t = `${pad(y, 4)}-${pad(Math.floor(random() * 14), 2)}-${pad(Math.floor(random() * 33), 2)}T${pad(Math.floor(random() * 25), 2)}:${pad(Math.floor(random() * 61), 2)}:${pad(Math.floor(random() * 61), 2)}${random() < 0.5 ? `.${pad(Math.floor(random() * 1000), 3)}` : ''}${random() < 0.9 ? 'Z' : '+01:00'}`;
    assert.equal(timestampMs(t), referenceMs(t), t);
    assert.equal(timestampProblem(t) === null, referenceMs(t) !== null, t);
  }
});
