/**
 * Read-only views of the state files for the reports. Nothing here takes the state mutex: the JSON
 * files are replaced whole by rename and the logs only grow, so a reader always sees a consistent
 * file, and `status` can never hold up the holder.
 */
import type { Outcome } from '../contract/types.generated.js';
import { validators } from '../contract/validate.js';
import { forEachChunk, readRange, sizeOf } from '../store/jsonl.js';
import { logSegments } from '../store/segments.js';

/** Newline-terminated lines in `path` from byte `from` on (0 when the file is absent). */
export function countLines(path: string, from = 0): number {
  let lines = 0;
  forEachChunk(path, from, sizeOf(path), (buf) => {
    for (let i = buf.indexOf(10); i !== -1; i = buf.indexOf(10, i + 1)) lines += 1;
  });
  return lines;
}

/**
 * The last whole outcome line of the ledger, read from the end: a window that grows until it holds
 * one whole line, so the cost does not depend on the ledger's length.
 */
export function lastOutcome(ledger: string): Outcome | null {
  // The newest segment with something in it: right after a rotation the live file is empty.
  const path = logSegments(ledger).filter((s) => s.size > 0 && !s.gzip).at(-1)?.path ?? ledger;
  const size = sizeOf(path);
  for (let window = 64 * 1024; ; window *= 4) {
    const from = Math.max(0, size - window);
    const buf = readRange(path, from, size);
    const end = buf.lastIndexOf(10);
    const start = end > 0 ? buf.lastIndexOf(10, end - 1) + 1 : 0;
    if (end === -1 && from === 0) return null;
    // The line may begin before the window: widen it, unless the window is the whole file.
    if (end !== -1 && (start > 0 || from === 0)) return parseOutcome(buf.subarray(start, end));
  }
}

function parseOutcome(bytes: Buffer): Outcome | null {
  try {
    const o: unknown = JSON.parse(bytes.toString('utf8'));
    return validators.outcome(o) ? o : null;
  } catch {
    return null;
  }
}
