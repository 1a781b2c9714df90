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
 * The last `n` whole outcome lines of the ledger, oldest first, read from the end: a window that
 * grows until it holds n whole lines, so the cost does not depend on the ledger's length.
 */
export function lastOutcomes(ledger: string, n: number): Outcome[] {
  // The newest segment with something in it: right after a rotation the live file is empty.
  const path = logSegments(ledger).filter((s) => s.size > 0 && !s.gzip).at(-1)?.path ?? ledger;
  const size = sizeOf(path);
  for (let window = 64 * 1024; ; window *= 4) {
    const from = Math.max(0, size - window);
    const buf = readRange(path, from, size);
    // The window's first line may have begun before it: only what follows its first newline is whole.
    const start = from === 0 ? 0 : buf.indexOf(10) + 1;
    let lines = 0;
    for (let i = start > 0 || from === 0 ? buf.indexOf(10, start) : -1; i !== -1; i = buf.indexOf(10, i + 1)) lines += 1;
    if (from === 0 || lines >= n) return parseOutcomes(buf.subarray(start)).slice(-n);
  }
}


/** The valid outcomes among the whole lines of `buf` (a line that is not one is skipped). */
function parseOutcomes(buf: Buffer): Outcome[] {
  const out: Outcome[] = [];
  for (const line of buf.subarray(0, buf.lastIndexOf(10) + 1).toString('utf8').split('\n')) {
    if (!line) continue;
    try {
      const o: unknown = JSON.parse(line);
      if (validators.outcome(o)) out.push(o);
    } catch {
      // not an outcome: a torn line, a hand edit
    }
  }
  return out;
}
