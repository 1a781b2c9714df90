/**
 * Rotated logs. `readiness.jsonl`, `outcomes.jsonl` and `rejected.jsonl` may be rotated the way
 * logrotate does it: the file is renamed (`outcomes.jsonl.1`, `outcomes.jsonl-20260101`, compressed
 * later as `….gz`) and a fresh one is created (by logrotate, or by the next append). A log is then
 * its rotated segments, oldest first, followed by the live file.
 */
import { readdirSync, lstatSync, type Stats } from 'node:fs';
import { basename, dirname, join } from 'node:path';

export interface Segment {
  path: string;
  dev: number;
  ino: number;
  size: number;
  mtimeMs: number;
  ctimeMs: number;
  /** logrotate's `compress`: read through gunzip. */
  gzip: boolean;
  /** The live file (the log's own name). */
  live: boolean;
}

const isRotatedName = (name: string, base: string) =>
  name.length > base.length + 1 && name.startsWith(base) && (name[base.length] === '.' || name[base.length] === '-') && !name.endsWith('.tmp');

function segmentOf(path: string, st: Stats, live: boolean): Segment {
  return { path, dev: st.dev, ino: st.ino, size: st.size, mtimeMs: st.mtimeMs, ctimeMs: st.ctimeMs, gzip: path.endsWith('.gz'), live };
}

/**
 * The segments of a log, oldest first: rotated ones by their last write (logrotate's numbering and
 * date suffixes do not sort the same way, their writes do), then the live file. Only regular files.
 */
export function logSegments(path: string): Segment[] {
  const dir = dirname(path);
  const base = basename(path);
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  const rotated: Segment[] = [];
  let live: Segment | null = null;
  for (const name of names) {
    if (name !== base && !isRotatedName(name, base)) continue;
    const p = join(dir, name);
    let st: Stats;
    try {
      st = lstatSync(p);
    } catch {
      continue;
    }
    if (!st.isFile()) continue;
    if (name === base) live = segmentOf(p, st, true);
    else rotated.push(segmentOf(p, st, false));
  }
  rotated.sort((a, b) => a.mtimeMs - b.mtimeMs || (a.path < b.path ? 1 : -1));
  return live ? [...rotated, live] : rotated;
}

/** The uncompressed segment of the log that is this inode, wherever rotation renamed it. */
export function findSegment(path: string, dev: number, ino: number): Segment | null {
  return logSegments(path).find((s) => !s.gzip && s.dev === dev && s.ino === ino) ?? null;
}
