/**
 * Ingestion: the whole lines of readiness.jsonl after the cursor, each either applied to the
 * projection or quarantined. Reading is the store's; deciding is the projection's.
 */
import type { RejectedLine } from '../contract/types.generated.js';
import { tailLines, type LogCursor, type TailResult } from '../store/jsonl.js';
import { MAX_LINE_BYTES, parseReadinessLine } from './parse.js';
import type { Effect, Projection } from './projection.js';

export interface IngestResult extends TailResult {
  accepted: number;
  duplicates: number;
  rejected: Omit<RejectedLine, 'rejected_at'>[];
}

/** Applies every new line to the projection; `onEffect` sees each effect as it happens (nothing is buffered). */
export function ingest(logPath: string, from: LogCursor, projection: Projection, onEffect: (e: Effect) => void): IngestResult {
  const effects: Effect[] = [];
  const rejected: IngestResult['rejected'] = [];
  let accepted = 0;
  let duplicates = 0;
  const tail = tailLines(
    logPath,
    from,
    (bytes, offset, lineNo, tooLong) => {
      const parsed = parseReadinessLine(bytes, offset, lineNo, tooLong);
      if (!parsed.ok) {
        rejected.push(parsed.rejected);
        return;
      }
      if (projection.apply(parsed.event, offset, effects)) accepted += 1;
      else duplicates += 1;
      for (const e of effects) onEffect(e);
      effects.length = 0;
    },
    { maxLine: MAX_LINE_BYTES },
  );
  return { ...tail, accepted, duplicates, rejected };
}
