/**
 * Append-only JSONL logs. Producers append one record per line with a single O_APPEND write (many
 * processes never interleave or tear each other's lines), and every append starts on a fresh line:
 * a torn last line left by a crash is never glued to the next record. Readers take whole lines only,
 * by byte offset, and follow the log across rotations (see segments.ts).
 */
import { closeSync, fstatSync, fsyncSync, ftruncateSync, readSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { gunzipSync } from 'node:zlib';
import type { LogCursor, LogPosition, SegmentEnd } from '../contract/types.generated.js';
import { openState, stateIoError, writeAll } from './files.js';
import { findSegment, logSegments, type Segment } from './segments.js';

export type { LogCursor, LogPosition };

/**
 * Appends text (whole lines) in one write; a newline first when the file does not end with one (a
 * writer crashed mid-line). Returns the file size after it. `singleWriter`: only this process appends
 * (the holder), so a write cut short by a full disk is undone rather than left torn.
 */
function appendText(path: string, text: string, opts: { fsync?: boolean; singleWriter?: boolean } = {}): number {
  let fd: number | null = null;
  let before = -1;
  try {
    fd = openState(path, 'append');
    before = fstatSync(fd).size;
    const buf = Buffer.from(endsOnLineBoundary(fd, before) ? text : `\n${text}`);
    writeAll(fd, buf);
    if (opts.fsync !== false) fsyncSync(fd);
    return fstatSync(fd).size;
  } catch (e) {
    if (fd !== null && opts.singleWriter && before >= 0) {
      try {
        ftruncateSync(fd, before);
      } catch {
        // the torn tail stays; the next append starts on a fresh line anyway
      }
    }
    throw stateIoError(path, e, 'write');
  } finally {
    if (fd !== null) closeSync(fd);
  }
}

export function appendRecords(path: string, records: readonly unknown[], opts: { fsync?: boolean; singleWriter?: boolean } = {}): number {
  return appendText(path, records.map((r) => `${JSON.stringify(r)}\n`).join(''), opts);
}

export const appendRecord = (path: string, record: unknown, opts: { fsync?: boolean } = {}) => appendRecords(path, [record], opts);

/**
 * Whether a log many processes append to ends on a line boundary. A last byte that is not a newline
 * is a line torn by a writer that died, or a line another writer is writing right now (a write that
 * crosses a page boundary becomes visible page by page): the latter ends within microseconds, so the
 * end is looked at again, briefly, before a newline is put first.
 */
function endsOnLineBoundary(fd: number, size: number): boolean {
  for (let look = 0; ; look++) {
    if (endsWithNewline(fd, size)) return true;
    if (look === 3) return false;
    Atomics.wait(PAUSE, 0, 0, 1);
    size = fstatSync(fd).size;
  }
}

const PAUSE = new Int32Array(new SharedArrayBuffer(4));

/** Whether the byte before `size` is a newline (an empty file counts as ending with one). */
export function endsWithNewline(fd: number, size: number): boolean {
  if (size === 0) return true;
  const b = Buffer.alloc(1);
  readSync(fd, b, 0, 1, size - 1);
  return b[0] === 10;
}

/** Calls `onChunk` with the bytes of [from, to) in pieces of at most 1 MiB; nothing when the file is absent. */
export function forEachChunk(path: string, from: number, to: number, onChunk: (buf: Buffer) => void): void {
  if (to <= from) return;
  const fd = openState(path, 'read');
  if (fd === null) return;
  try {
    chunksOf(fd, from, to, onChunk);
  } finally {
    closeSync(fd);
  }
}

function chunksOf(fd: number, from: number, to: number, onChunk: (buf: Buffer) => void): void {
  const buf = Buffer.alloc(Math.min(1 << 20, Math.max(1, to - from)));
  for (let pos = from; pos < to; ) {
    const n = readSync(fd, buf, 0, Math.min(buf.length, to - pos), pos);
    if (n === 0) break;
    onChunk(buf.subarray(0, n));
    pos += n;
  }
}

/** The bytes of [from, to) as one buffer (to defaults to the file's size). */
export function readRange(path: string, from: number, to = sizeOf(path)): Buffer {
  const parts: Buffer[] = [];
  forEachChunk(path, from, to, (buf) => parts.push(Buffer.from(buf)));
  return Buffer.concat(parts);
}

export function sizeOf(path: string): number {
  const fd = openState(path, 'read');
  if (fd === null) return 0;
  try {
    return fstatSync(fd).size;
  } finally {
    closeSync(fd);
  }
}

// ---- hashes that prove consumed bytes unchanged, and name segments ----

const HEAD_BYTES = 256;
const TAIL_BYTES = 4096;

const hashOf = (buf: Buffer) => createHash('sha1').update(buf).digest('hex').slice(0, 16);

function bytesAt(fd: number, from: number, len: number): Buffer {
  const buf = Buffer.alloc(len);
  let off = 0;
  while (off < len) {
    const n = readSync(fd, buf, off, len - off, from + off);
    if (n === 0) break;
    off += n;
  }
  return buf.subarray(0, off);
}

/** Hash of the first bytes (up to 256) of what was consumed. */
const headHash = (fd: number, consumed: number) => hashOf(bytesAt(fd, 0, Math.min(HEAD_BYTES, consumed)));
/** Hash of the last bytes (up to 4 KiB: the last line at least, for any line of that length) before `consumed`. */
const tailHash = (fd: number, consumed: number) => hashOf(bytesAt(fd, Math.max(0, consumed - TAIL_BYTES), Math.min(TAIL_BYTES, consumed)));

/** Whether the log's bytes before the cursor are still those the cursor consumed (false when the file is gone). */
export function unchangedBefore(path: string, cursor: LogCursor): boolean {
  const fd = openState(path, 'read');
  if (fd === null) return false;
  try {
    return consumedUnchanged(fd, cursor);
  } finally {
    closeSync(fd);
  }
}

/** Whether the bytes before the cursor are those it consumed: its first and its last ones hash the same. */
function consumedUnchanged(fd: number, c: Pick<LogCursor, 'offset' | 'head_hash' | 'tail_hash'>): boolean {
  if (c.offset === 0) return true;
  if (c.head_hash !== undefined && headHash(fd, c.offset) !== c.head_hash) return false;
  return c.tail_hash === undefined || tailHash(fd, c.offset) === c.tail_hash;
}

// ---- the tail reader ----

export interface LogLine {
  /** The line without its newline; cut to maxLine bytes when tooLong. */
  bytes: Buffer;
  /** Byte offset and 1-based line number in its segment (what a person finds in the file). */
  offset: number;
  line: number;
  /** Position in the whole log: grows across rotations and replacements (the FIFO tie-break). */
  position: number;
  tooLong: boolean;
}

export interface TailResult {
  cursor: LogCursor;
  /** Why reading restarted from the start of the live file, when it did. */
  reset: 'truncated' | 'replaced' | null;
  /** The file that was read was rotated: its rest was read, then the new live file. */
  rotated: boolean;
  /** Bytes after the last newline of the live file: a line still being written, left for the next read. */
  pendingBytes: number;
  /** The live file as this read saw it: an append after it makes the file differ. */
  observed: { ino: number; size: number };
}

export const emptyCursor = (): LogCursor => ({ dev: 0, ino: 0, offset: 0, lines: 0, base: 0 });

/** Positions of a new segment start past everything before it, at the next multiple of 2^32 (late lines of a rotated segment never collide). */
const SEGMENT_SPAN = 2 ** 32;
const nextBase = (base: number, size: number) => (Math.floor((base + size) / SEGMENT_SPAN) + 1) * SEGMENT_SPAN;

const CHUNK = 4 * 1024 * 1024;

/**
 * Hands every whole line after the cursor to `onLine`. A rotated live file (renamed, a fresh one in
 * its place) is read to its end first; a replaced or truncated one is read again from its start; a
 * rotated segment that still grows (a writer that opened it before the rotation) is read up too.
 */
export function readLogTail(path: string, from: LogCursor, onLine: (l: LogLine) => void, opts: { maxLine: number }): TailResult {
  const fd = openState(path, 'read');
  const cursor: LogCursor = { ...from };
  let reset: TailResult['reset'] = null;
  let rotated = false;
  try {
    const st = fd === null ? null : fstatSync(fd);
    if (from.ino !== 0 && (st === null || st.ino !== from.ino || st.dev !== from.dev)) {
      const old = findSegment(path, from.dev, from.ino);
      const finished = old ? finishSegment(old, from, onLine, opts.maxLine) : null;
      if (st === null) {
        // Gone: rotated with no fresh file yet (keep reading the rotated one where it is), or deleted.
        const next: LogCursor = finished ? { ...from, offset: finished.end.offset, lines: finished.end.lines, ...finished.hashes } : from;
        return { cursor: next, reset, rotated: false, pendingBytes: 0, observed: { ino: 0, size: 0 } };
      }
      if (finished) {
        rotated = true;
        cursor.prev = finished.end;
      } else {
        reset = 'replaced';
        delete cursor.prev;
      }
      Object.assign(cursor, { offset: 0, lines: 0, base: nextBase(from.base, finished?.end.offset ?? from.offset) });
      delete cursor.head_hash;
      delete cursor.tail_hash;
    } else if (st !== null && from.ino !== 0) {
      if (st.size < from.offset) reset = 'truncated';
      else if (!consumedUnchanged(fd as number, from)) reset = 'replaced';
      if (reset) {
        Object.assign(cursor, { offset: 0, lines: 0, base: nextBase(from.base, from.offset) });
        delete cursor.head_hash;
        delete cursor.tail_hash;
      }
    }
    if (fd === null || st === null) return { cursor, reset, rotated, pendingBytes: 0, observed: { ino: 0, size: 0 } };
    cursor.dev = st.dev;
    cursor.ino = st.ino;
    const end = readWholeLines(fd, cursor, st.size, onLine, opts.maxLine);
    if (cursor.offset > 0) Object.assign(cursor, hashesAt(fd, cursor.offset));
    if (cursor.prev && !rotated) {
      const prev = followRotated(path, cursor.prev, onLine, opts.maxLine);
      if (prev) cursor.prev = prev;
      else delete cursor.prev;
    }
    return { cursor, reset, rotated, pendingBytes: st.size - end, observed: { ino: st.ino, size: st.size } };
  } finally {
    if (fd !== null) closeSync(fd);
  }
}

const hashesAt = (fd: number, offset: number) => ({ head_hash: headHash(fd, offset), tail_hash: tailHash(fd, offset) });

/**
 * The whole lines of [from.offset, to.offset) of the file `to` names (live, or rotated wherever),
 * when its bytes before `to` are unchanged; returns the offset reached (-1: the file is gone or changed).
 */
export function readLogRange(path: string, from: LogCursor, to: LogCursor, onLine: (l: LogLine) => void, maxLine: number): number {
  let fd = openState(path, 'read');
  if (fd !== null) {
    const st = fstatSync(fd);
    if (st.ino !== to.ino || st.dev !== to.dev) {
      closeSync(fd);
      fd = null;
    }
  }
  if (fd === null) {
    const seg = findSegment(path, to.dev, to.ino);
    fd = seg ? openState(seg.path, 'read') : null;
  }
  if (fd === null) return -1;
  try {
    if (fstatSync(fd).size < to.offset || !consumedUnchanged(fd, to)) return -1;
    const at = { offset: from.offset, lines: from.lines, base: from.base };
    return readWholeLines(fd, at, to.offset, onLine, maxLine);
  } finally {
    closeSync(fd);
  }
}

/** Reads a rotated segment from where the cursor stood to its end; null when its consumed bytes changed. */
function finishSegment(seg: Segment, from: LogCursor, onLine: (l: LogLine) => void, maxLine: number): { end: SegmentEnd; hashes: Pick<LogCursor, 'head_hash' | 'tail_hash'> } | null {
  const fd = openState(seg.path, 'read');
  if (fd === null) return null;
  try {
    const size = fstatSync(fd).size;
    if (size < from.offset || !consumedUnchanged(fd, from)) return null;
    const end: SegmentEnd = { dev: seg.dev, ino: seg.ino, offset: from.offset, lines: from.lines, base: from.base };
    readWholeLines(fd, end, size, onLine, maxLine);
    return { end, hashes: end.offset > 0 ? hashesAt(fd, end.offset) : {} };
  } finally {
    closeSync(fd);
  }
}

/** Lines appended to the previous segment since we left it (a writer that opened it before the rotation). */
function followRotated(path: string, prev: SegmentEnd, onLine: (l: LogLine) => void, maxLine: number): SegmentEnd | undefined {
  const seg = findSegment(path, prev.dev, prev.ino);
  if (!seg) return undefined;
  if (seg.size <= prev.offset) return prev;
  const fd = openState(seg.path, 'read');
  if (fd === null) return undefined;
  try {
    const at = { ...prev };
    readWholeLines(fd, at, fstatSync(fd).size, onLine, maxLine);
    return at;
  } finally {
    closeSync(fd);
  }
}

/** Reads whole lines from `at.offset` up to `to`, advancing `at`; returns the offset after the last whole line. */
function readWholeLines(fd: number, at: { offset: number; lines: number; base: number }, to: number, onLine: (l: LogLine) => void, maxLine: number): number {
  const buf = Buffer.alloc(Math.max(CHUNK, maxLine + 1));
  let pos = at.offset;
  while (pos < to) {
    const n = readSync(fd, buf, 0, Math.min(buf.length, to - pos), pos);
    if (n === 0) break;
    let start = 0;
    for (let nl = buf.indexOf(10, 0); nl !== -1 && nl < n; nl = buf.indexOf(10, start)) {
      at.lines += 1;
      onLine({ bytes: buf.subarray(start, nl), offset: pos + start, line: at.lines, position: at.base + pos + start, tooLong: false });
      start = nl + 1;
    }
    if (start === 0 && n === buf.length) {
      // No newline in a whole buffer: the line is longer than any we accept. Hand it out cut, skip to its end.
      const end = findNewline(fd, pos + n, to);
      if (end === -1) break;
      at.lines += 1;
      onLine({ bytes: buf.subarray(0, maxLine), offset: pos, line: at.lines, position: at.base + pos, tooLong: true });
      pos = end + 1;
    } else {
      pos += start;
      if (start < n && pos + (n - start) >= to) break; // a tail without newline: not yet written
    }
    at.offset = pos;
  }
  at.offset = pos;
  return pos;
}

/** Whether the log has a whole line at or after `from` (bytes after the last newline are still being written). */
export function hasWholeLineAfter(path: string, from: number): boolean {
  const fd = openState(path, 'read');
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

// ---- positions in rotatable logs the holder writes (outcomes.jsonl, rejected.jsonl) ----

/** The position `offset` of the file open as `fd`: named by its first bytes, which copies and rotation keep. */
export function positionIn(fd: number, offset: number): LogPosition {
  const head = bytesAt(fd, 0, Math.min(HEAD_BYTES, offset));
  return { head_len: head.length, head_hash: hashOf(head), offset };
}

/** The end of the log: of its live file, or of the newest rotated segment while the live file is empty. */
export function logEnd(path: string): LogPosition {
  const segs = logSegments(path).filter((s) => s.size > 0 && !s.gzip);
  const last = segs.at(-1);
  if (!last) return { head_len: 0, head_hash: hashOf(Buffer.alloc(0)), offset: 0 };
  const fd = openState(last.path, 'read') as number;
  try {
    return positionIn(fd, fstatSync(fd).size);
  } finally {
    closeSync(fd);
  }
}

function segmentBytes(seg: Segment): Buffer {
  const fd = openState(seg.path, 'read');
  if (fd === null) return Buffer.alloc(0);
  try {
    const raw = bytesAt(fd, 0, fstatSync(fd).size);
    return seg.gzip ? gunzipSync(raw) : raw;
  } finally {
    closeSync(fd);
  }
}

/**
 * Every whole line of a rotatable log from `from` on (everything when null): the rest of the segment
 * the position names, then every newer segment; a `.gz` segment is read through gunzip. When the
 * named segment is gone (rotated away and deleted), every segment left is newer: all are read.
 */
export function forEachLineSince(path: string, from: LogPosition | null, onLine: (bytes: Buffer, segment: Segment, offset: number) => void): void {
  const segs = logSegments(path);
  let first = 0;
  let offset = 0;
  if (from && from.offset > 0) {
    const i = segs.findIndex((s) => {
      const head = s.gzip ? segmentBytes(s).subarray(0, from.head_len) : headOf(s, from.head_len);
      return head.length === from.head_len && hashOf(head) === from.head_hash;
    });
    if (i !== -1) [first, offset] = [i, from.offset];
  }
  for (let i = first; i < segs.length; i++) {
    const seg = segs[i] as Segment;
    const start = i === first ? offset : 0;
    if (seg.gzip) {
      const all = segmentBytes(seg);
      splitLines(all.subarray(start), start, (b, off) => onLine(b, seg, off));
      continue;
    }
    const fd = openState(seg.path, 'read');
    if (fd === null) continue;
    try {
      let carry = Buffer.alloc(0);
      let carryAt = start;
      chunksOf(fd, start, fstatSync(fd).size, (chunk) => {
        const buf = carry.length > 0 ? Buffer.concat([carry, chunk]) : chunk;
        const used = splitLines(buf, carryAt, (b, off) => onLine(b, seg, off));
        carry = Buffer.from(buf.subarray(used));
        carryAt += used;
      });
    } finally {
      closeSync(fd);
    }
  }
}

function headOf(seg: Segment, len: number): Buffer {
  const fd = openState(seg.path, 'read');
  if (fd === null) return Buffer.alloc(0);
  try {
    return bytesAt(fd, 0, len);
  } finally {
    closeSync(fd);
  }
}

/** Calls `onLine` for each whole line of `buf` (which starts at `offset`); returns the bytes used. */
function splitLines(buf: Buffer, offset: number, onLine: (bytes: Buffer, offset: number) => void): number {
  let start = 0;
  for (let nl = buf.indexOf(10); nl !== -1; nl = buf.indexOf(10, start)) {
    if (nl > start) onLine(buf.subarray(start, nl), offset + start);
    start = nl + 1;
  }
  return start;
}

/**
 * The line at `offset` of the log file that is (dev, ino), wherever rotation put it: how the
 * projection reads back the strings of a candidate it keeps only as a hash. Null when that file or
 * line is gone.
 */
export function readLineAt(path: string, dev: number, ino: number, offset: number, maxLine: number): Buffer | null {
  const live = openState(path, 'read');
  let fd = live;
  try {
    if (fd !== null) {
      const st = fstatSync(fd);
      if (st.dev !== dev || st.ino !== ino) {
        closeSync(fd);
        fd = null;
      }
    }
    if (fd === null) {
      const seg = findSegment(path, dev, ino);
      fd = seg ? openState(seg.path, 'read') : null;
    }
    if (fd === null) return null;
    const buf = bytesAt(fd, offset, maxLine + 1);
    const nl = buf.indexOf(10);
    return nl === -1 ? null : buf.subarray(0, nl);
  } finally {
    if (fd !== null) closeSync(fd);
  }
}
