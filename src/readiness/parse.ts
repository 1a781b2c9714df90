/**
 * One line of readiness.jsonl → a validated event, or the reason it is quarantined. Pure: bytes in,
 * data out. Bad input is never fatal and never silently dropped: the caller writes the rejection.
 */
import { isUtf8 } from 'node:buffer';
import { EVENT_TYPE_VALUES, type ReadinessEvent, type RejectedLine } from '../contract/types.generated.js';
import { describeErrors, formatProblems, validators } from '../contract/validate.js';

/** Lines longer than this are quarantined unread (a readiness event is a few hundred bytes). */
export const MAX_LINE_BYTES = 64 * 1024;
/** How much of a rejected line's text is kept in rejected.jsonl. */
export const RAW_KEEP_BYTES = 4096;

const EVENT_TYPES = new Set<string>(EVENT_TYPE_VALUES);

export type ParsedLine = { ok: true; event: ReadinessEvent } | { ok: false; rejected: Omit<RejectedLine, 'rejected_at'> } | { ok: 'blank' };

export function parseReadinessLine(bytes: Buffer, offset: number, line: number, tooLong: boolean): ParsedLine {
  const reject = (reason: RejectedLine['reason'], errs: string[]): ParsedLine => ({
    ok: false,
    rejected: { offset, line, raw: bytes.subarray(0, RAW_KEEP_BYTES).toString('utf8'), truncated: tooLong || bytes.length > RAW_KEEP_BYTES, reason, errors: errs },
  });
  if (tooLong || bytes.length > MAX_LINE_BYTES) return reject('line_too_long', [`line is longer than ${MAX_LINE_BYTES} bytes`]);
  // A blank line is no event (an append that started a fresh line after a torn one can leave one).
  if (isBlank(bytes)) return { ok: 'blank' };
  if (!isUtf8(bytes)) return reject('invalid_utf8', ['line is not valid UTF-8']);
  let data: unknown;
  // A flood of bad lines is an input to survive at speed: the message is all a rejection keeps, so
  // the error's stack (most of what a throw costs) is not captured.
  const stackTraceLimit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  try {
    // JSON allows surrounding whitespace, so a CRLF line ending needs no stripping.
    data = JSON.parse(bytes.toString('utf8'));
  } catch (e) {
    return reject('invalid_json', [(e as Error).message]);
  } finally {
    Error.stackTraceLimit = stackTraceLimit;
  }
  if (data === null || typeof data !== 'object' || Array.isArray(data)) return reject('not_an_object', ['line must be one JSON object']);
  const type = (data as { type?: unknown }).type;
  if (typeof type !== 'string' || !EVENT_TYPES.has(type)) {
    return reject('unknown_type', [`type: ${JSON.stringify(type)} is not one of ${EVENT_TYPE_VALUES.map((t) => JSON.stringify(t)).join(', ')}`]);
  }
  // The schema's date-time refuses what Date cannot use (a leap second): nothing it lets through can poison the state.
  if (!validators.event(data)) return reject('schema', formatProblems(describeErrors(validators.event.errors, data)));
  return { ok: true, event: data };
}

function isBlank(bytes: Buffer): boolean {
  for (const b of bytes) if (b !== 0x20 && b !== 0x09 && b !== 0x0d) return false;
  return true;
}
