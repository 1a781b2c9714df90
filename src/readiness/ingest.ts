/**
 * Ingestion: the whole lines of readiness.jsonl after the cursor, each either applied to the
 * projection or quarantined. Reading is the store's; deciding is the projection's. Nothing is kept
 * per line: effects and rejections are handed on as they happen.
 */
import type { LogCursor, ReadinessEvent, RejectedLine } from '../contract/types.generated.js';
import { validators } from '../contract/validate.js';
import { readLineAt, readLogRange, readLogTail, type LogLine, type TailResult } from '../store/jsonl.js';
import { MAX_LINE_BYTES, parseReadinessLine, RAW_KEEP_BYTES } from './parse.js';
import type { Effect, Projection } from './projection.js';

export interface IngestResult extends TailResult {
  accepted: number;
  /** Accepted events that changed nothing (seen before) or whose id an earlier event used. */
  unchanged: number;
}

export interface IngestSinks {
  onEffect(e: Effect): void;
  onRejected(r: Omit<RejectedLine, 'rejected_at'>, line: LogLine): void;
}

/** Applies every new line to the projection. */
export function ingest(logPath: string, from: LogCursor, projection: Projection, sinks: IngestSinks): IngestResult {
  const effects: Effect[] = [];
  let accepted = 0;
  let unchanged = 0;
  const tail = readLogTail(
    logPath,
    from,
    (line) => {
      const parsed = parseReadinessLine(line.bytes, line.offset, line.line, line.tooLong);
      if (parsed.ok === 'blank') return;
      if (!parsed.ok) {
        sinks.onRejected(parsed.rejected, line);
        return;
      }
      const applied = projection.apply(parsed.event, line.position, effects);
      if (applied === 'unusable') {
        sinks.onRejected(unusable(parsed.event, line), line);
        return;
      }
      accepted += 1;
      if (applied !== 'applied') unchanged += 1;
      for (const e of effects) sinks.onEffect(e);
      effects.length = 0;
    },
    { maxLine: MAX_LINE_BYTES },
  );
  return { ...tail, accepted, unchanged };
}

/** A valid event the projection cannot use: quarantined like a schema failure, naming the field. */
function unusable(event: ReadinessEvent, line: LogLine): Omit<RejectedLine, 'rejected_at'> {
  const raw = line.bytes.subarray(0, RAW_KEEP_BYTES);
  const value = event.type === 'finalize_ready' ? event.ready_at : '';
  return {
    offset: line.offset,
    line: line.line,
    raw: raw.toString('utf8'),
    truncated: line.bytes.length > raw.length,
    reason: 'schema',
    errors: [`ready_at: ${JSON.stringify(value)} cannot be used as a time (JavaScript dates cannot represent it)`],
  };
}

/**
 * Re-applies the lines of [from, to) of the log file `to` names (wherever rotation put it) without
 * effects: the projection as it was at `to`, whose effects are already in the queue. Returns the
 * offset reached (less than `to.offset` when that file is gone or its consumed bytes changed).
 */
export function replay(logPath: string, from: LogCursor, to: LogCursor, projection: Projection): number {
  const sink: Effect[] = [];
  return readLogRange(logPath, from, to, (line) => {
    const parsed = parseReadinessLine(line.bytes, line.offset, line.line, line.tooLong);
    if (parsed.ok !== true) return;
    projection.apply(parsed.event, line.position, sink);
    sink.length = 0;
  }, MAX_LINE_BYTES);
}

/**
 * The event at a log position, read back from the file the cursor reads or the one it read before a
 * rotation (the projection keeps a head that no longer waits as a hash); null when that file is gone
 * or the line is not a valid event.
 */
export function eventAt(logPath: string, cursor: LogCursor, position: number): ReadinessEvent | null {
  const segment = position >= cursor.base ? cursor : cursor.prev && position >= cursor.prev.base ? cursor.prev : null;
  if (!segment) return null;
  const bytes = readLineAt(logPath, segment.dev, segment.ino, position - segment.base, MAX_LINE_BYTES);
  if (!bytes) return null;
  try {
    const e: unknown = JSON.parse(bytes.toString('utf8'));
    return validators.event(e) ? e : null;
  } catch {
    return null;
  }
}
