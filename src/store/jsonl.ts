/**
 * Append-only JSONL files: one record per line, written with a single O_APPEND write so that
 * concurrent appenders from many processes never interleave or tear each other's lines; and a
 * tail reader that hands out whole lines only, by byte offset, and notices a log that shrank or
 * was replaced since the last read.
 */
import { closeSync, fstatSync, fsyncSync, ftruncateSync, openSync, readSync, statSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { ioError, readError, writeAll } from './atomic-json.js';

export interface AppendOptions {
  fsync?: boolean;
  /**
   * Only this process appends (the ledger and the quarantine, written by the lease holder): a write
   * cut short by a full disk is then undone, so the next line does not start in the middle of a torn one.
   */
  singleWriter?: boolean;
}

export function appendRecord(path: string, record: unknown, opts: AppendOptions = {}): number {
  return appendRecords(path, [record], opts);
}

/** Appends the records in one write; returns the file size after it (the ledger offset of the end). */
export function appendRecords(path: string, records: readonly unknown[], opts: AppendOptions = {}): number {
  if (records.length === 0) return sizeOf(path);
  const text = records.map((r) => `${JSON.stringify(r)}\n`).join('');
  try {
    const fd = openSync(path, 'a', 0o644);
    const before = opts.singleWriter ? fstatSync(fd).size : -1;
    try {
      writeAll(fd, Buffer.from(text));
      if (opts.fsync !== false) fsyncSync(fd);
      return fstatSync(fd).size;
    } catch (e) {
      if (before >= 0) ftruncateSync(fd, before);
      throw e;
    } finally {
      closeSync(fd);
    }
  } catch (e) {
    throw ioError(path, e);
  }
}

/** A read-only descriptor, or null when the file does not exist (yet): every reader of a log starts here. */
export function openIfExists(path: string): number | null {
  try {
    return openSync(path, 'r');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw readError(path, e);
  }
}

/** Calls `onChunk` with the bytes of [from, to) in pieces of at most 1 MiB; nothing when the file is absent. */
export function forEachChunk(path: string, from: number, to: number, onChunk: (buf: Buffer) => void): void {
  if (to <= from) return;
  const fd = openIfExists(path);
  if (fd === null) return;
  try {
    const buf = Buffer.alloc(Math.min(1 << 20, to - from));
    for (let pos = from; pos < to; ) {
      let n: number;
      try {
        n = readSync(fd, buf, 0, Math.min(buf.length, to - pos), pos);
      } catch (e) {
        throw readError(path, e);
      }
      if (n === 0) break;
      onChunk(buf.subarray(0, n));
      pos += n;
    }
  } finally {
    closeSync(fd);
  }
}

/** The bytes of [from, to) as one buffer (to defaults to the file's size). */
export function readRange(path: string, from: number, to = sizeOf(path)): Buffer {
  const parts: Buffer[] = [];
  forEachChunk(path, from, to, (buf) => parts.push(Buffer.from(buf)));
  return Buffer.concat(parts);
}

export function sizeOf(path: string): number {
  try {
    return statSync(path).size;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return 0;
    throw readError(path, e);
  }
}

/** Where a reader of an append-only log stands: the file's identity and the first byte not yet consumed. */
export interface LogCursor {
  dev: number;
  ino: number;
  offset: number;
  lines: number;
  head_hash?: string;
}

export const emptyCursor = (): LogCursor => ({ dev: 0, ino: 0, offset: 0, lines: 0 });

export interface TailResult {
  cursor: LogCursor;
  /** Why reading restarted from the start of the file, when it did. */
  reset: 'truncated' | 'replaced' | null;
  /** Bytes after the last newline: a line still being written, left for the next read. */
  pendingBytes: number;
}

const HEAD_BYTES = 256;
const CHUNK = 4 * 1024 * 1024;

/**
 * Calls `onLine(bytes, offset, lineNo)` for every whole line after the cursor (newline excluded);
 * a line longer than `maxLine` is handed out cut to `maxLine` bytes with `tooLong` set, never buffered whole.
 */
export function tailLines(
  path: string,
  from: LogCursor,
  onLine: (bytes: Buffer, offset: number, lineNo: number, tooLong: boolean) => void,
  opts: { maxLine: number },
): TailResult {
  const fd = openIfExists(path);
  if (fd === null) return { cursor: from, reset: null, pendingBytes: 0 };
  try {
    const st = fstatSync(fd);
    let cursor = { ...from };
    let reset: TailResult['reset'] = null;
    if (from.ino !== 0 && (st.ino !== from.ino || st.dev !== from.dev)) reset = 'replaced';
    else if (st.size < from.offset) reset = 'truncated';
    else if (from.head_hash && headHash(fd, from.offset) !== from.head_hash) reset = 'replaced';
    if (reset) cursor = emptyCursor();
    cursor.dev = st.dev;
    cursor.ino = st.ino;
    const pending = readWholeLines(fd, st.size, cursor, onLine, opts.maxLine);
    if (cursor.offset > 0) cursor.head_hash = headHash(fd, cursor.offset);
    return { cursor, reset, pendingBytes: pending };
  } catch (e) {
    throw readError(path, e);
  } finally {
    closeSync(fd);
  }
}

/**
 * Hash of the first bytes the cursor consumed (at most HEAD_BYTES): a log rewritten in place, same
 * inode and no smaller than before, is told apart from the one read, however short that was.
 */
function headHash(fd: number, consumed: number): string {
  const buf = Buffer.alloc(Math.min(HEAD_BYTES, consumed));
  readSync(fd, buf, 0, buf.length, 0);
  return createHash('sha1').update(buf).digest('hex').slice(0, 16);
}

function readWholeLines(
  fd: number,
  size: number,
  cursor: LogCursor,
  onLine: (bytes: Buffer, offset: number, lineNo: number, tooLong: boolean) => void,
  maxLine: number,
): number {
  const buf = Buffer.alloc(Math.max(CHUNK, maxLine + 1));
  let pos = cursor.offset;
  while (pos < size) {
    const n = readSync(fd, buf, 0, Math.min(buf.length, size - pos), pos);
    if (n === 0) break;
    let start = 0;
    let nl = buf.indexOf(10, start);
    while (nl !== -1 && nl < n) {
      cursor.lines += 1;
      onLine(buf.subarray(start, nl), pos + start, cursor.lines, false);
      start = nl + 1;
      nl = buf.indexOf(10, start);
    }
    if (start === 0 && n === buf.length) {
      // No newline in a whole buffer: the line is longer than any we accept. Skip to its end.
      const end = findNewline(fd, pos + n, size);
      if (end === -1) return size - pos;
      cursor.lines += 1;
      onLine(buf.subarray(0, maxLine), pos, cursor.lines, true);
      pos = end + 1;
    } else {
      pos += start;
      if (start < n && pos + (n - start) >= size) break; // tail without newline: not yet written
    }
    cursor.offset = pos;
  }
  cursor.offset = pos;
  return size - pos;
}

/** Whether the log has a whole line at or after `from` (bytes after the last newline are still being written). */
export function hasWholeLineAfter(path: string, from: number): boolean {
  const fd = openIfExists(path);
  if (fd === null) return false;
  try {
    return findNewline(fd, from, fstatSync(fd).size) !== -1;
  } finally {
    closeSync(fd);
  }
}

function findNewline(fd: number, from: number, size: number): number {
  const buf = Buffer.alloc(64 * 1024);
  for (let pos = from; pos < size; ) {
    const n = readSync(fd, buf, 0, Math.min(buf.length, size - pos), pos);
    if (n === 0) return -1;
    const i = buf.indexOf(10);
    if (i !== -1 && i < n) return pos + i;
    pos += n;
  }
  return -1;
}
