/**
 * The schemas' `date-time` format: only timestamps the rest of the tool can use. RFC 3339 with a zone
 * (`2026-01-31T12:00:00Z`, `…T14:00:00.5+02:00`), read back by `Date.parse` as exactly the instant
 * written, between 1970 and 9999. A generic ISO 8601 check lets through values that parse to NaN
 * (a leap second `…T23:59:60Z`, a zone `+01`) or roll over silently (February 30th): stored in a
 * state file they poison every later run. Pure, so that the validators and any code that turns a
 * timestamp into a number use the same rule.
 */

const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(\.\d{1,9})?(?:[Zz]|([+-])(\d{2}):(\d{2}))$/;
const WITHOUT_ZONE = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?$/;

/**
 * The instants accepted. Before 1970 no readiness event was ever written; after 9999
 * `Date.toISOString()` switches to six-digit years, which this format (and most readers) refuse, so
 * a timestamp the tool writes back would not be read again.
 */
export const MIN_TIMESTAMP_MS = Date.UTC(1970, 0, 1);
export const MAX_TIMESTAMP_MS = Date.UTC(9999, 11, 31, 23, 59, 59, 999);

export const TIMESTAMP_EXAMPLE = '2026-01-31T12:00:00Z';

type Checked = { ms: number; problem?: undefined } | { ms?: undefined; problem: string };

function check(text: string): Checked {
  // The hot path (every event is validated): the common form read digit by digit, no allocation.
  const fast = checkCanonical(text);
  if (fast !== null) return fast;
  const m = RFC3339.exec(text);
  if (!m) {
    return {
      problem: WITHOUT_ZONE.test(text)
        ? 'it has no zone: add Z or an offset such as +02:00'
        : 'it is not of the form YYYY-MM-DDThh:mm:ss[.fraction] followed by Z or ±hh:mm',
    };
  }
  const [year, month, day, hour, minute, second] = m.slice(1, 7).map(Number) as [number, number, number, number, number, number];
  if (month < 1 || month > 12) return { problem: `month ${m[2]} does not exist` };
  const daysInMonth = new Date(Date.UTC(year, month, 0)).getUTCDate();
  if (day < 1 || day > daysInMonth) return { problem: `day ${m[3]} does not exist in ${m[1]}-${m[2]}` };
  if (hour > 23) return { problem: `hour ${m[4]} does not exist` };
  if (minute > 59) return { problem: `minute ${m[5]} does not exist` };
  if (second === 60) return { problem: 'second 60 is a leap second, which JavaScript dates cannot represent' };
  if (second > 59) return { problem: `second ${m[6]} does not exist` };
  const offsetHours = Number(m[9] ?? 0);
  const offsetMinutes = Number(m[10] ?? 0);
  if (offsetHours > 23 || offsetMinutes > 59) return { problem: `zone offset ${m[8]}${m[9]}:${m[10]} does not exist` };
  const fractionMs = Number(`${(m[7] ?? '').slice(1)}00`.slice(0, 3)); // Date.parse keeps milliseconds, truncated
  const offsetMs = (m[8] === '-' ? -1 : 1) * (offsetHours * 60 + offsetMinutes) * 60_000;
  // Checked on the year written first: Date.UTC would read years 0–99 as 1900–1999.
  const ms = year < 1970 ? NaN : Date.UTC(year, month - 1, day, hour, minute, second, fractionMs) - offsetMs;
  if (!(ms >= MIN_TIMESTAMP_MS && ms <= MAX_TIMESTAMP_MS)) return { problem: 'it lies outside the years 1970 to 9999' };
  // What the rest of the tool will do with it: it must read back as exactly the instant written.
  if (Date.parse(text) !== ms) return { problem: 'Date.parse does not read it back as written' };
  return { ms };
}

const digit = (text: string, i: number) => text.charCodeAt(i) - 48;
const two = (text: string, i: number) => digit(text, i) * 10 + digit(text, i + 1);
const isDigits = (text: string, from: number, to: number) => {
  for (let i = from; i < to; i++) if (text.charCodeAt(i) < 48 || text.charCodeAt(i) > 57) return false;
  return true;
};
const DAYS = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/**
 * `YYYY-MM-DDThh:mm:ss[.sss]Z` with every field in range (what `emit` and most producers write):
 * accepted without the general path's allocations, with the same read-back check. Anything else —
 * or anything out of range, so that the general path names the problem — is null.
 */
function checkCanonical(text: string): Checked | null {
  const n = text.length;
  if ((n !== 20 && n !== 24) || text.charCodeAt(n - 1) !== 90 /* Z */ || text.charCodeAt(10) !== 84 /* T */) return null;
  if (text.charCodeAt(4) !== 45 || text.charCodeAt(7) !== 45 || text.charCodeAt(13) !== 58 || text.charCodeAt(16) !== 58) return null;
  if (!isDigits(text, 0, 4) || !isDigits(text, 5, 7) || !isDigits(text, 8, 10) || !isDigits(text, 11, 13) || !isDigits(text, 14, 16) || !isDigits(text, 17, 19)) return null;
  if (n === 24 && (text.charCodeAt(19) !== 46 /* . */ || !isDigits(text, 20, 23))) return null;
  const year = digit(text, 0) * 1000 + digit(text, 1) * 100 + two(text, 2);
  const month = two(text, 5);
  const day = two(text, 8);
  const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
  if (year < 1970 || month < 1 || month > 12 || day < 1 || day > (month === 2 && leap ? 29 : (DAYS[month - 1] as number))) return null;
  const hour = two(text, 11);
  const minute = two(text, 14);
  const second = two(text, 17);
  if (hour > 23 || minute > 59 || second > 59) return null;
  const ms = Date.UTC(year, month - 1, day, hour, minute, second, n === 24 ? digit(text, 20) * 100 + two(text, 21) : 0);
  if (Date.parse(text) !== ms) return null;
  return { ms };
}

/** Why `text` is not an acceptable timestamp, in words; null when it is one. */
export const timestampProblem = (text: string): string | null => check(text).problem ?? null;

export const isTimestamp = (text: string): boolean => check(text).problem === undefined;

/** The timestamp's epoch milliseconds, or null when it is not an acceptable timestamp. */
export const timestampMs = (text: string): number | null => check(text).ms ?? null;
