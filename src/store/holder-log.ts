/**
 * A log the lease holder appends to (outcomes.jsonl, rejected.jsonl, its journal), through one
 * descriptor opened for its tenure. That descriptor is what fences a late write: a holder that lost
 * its lease can only write through the descriptors it opened, and the taker replaced those files by
 * copies (new inodes) before its first write, so whatever the old holder writes late lands in a file
 * nobody reads any more. Before each write the holder also checks that its file is still the live
 * one: unlinked means it lost the lease; renamed aside (logrotate) means reopen the fresh file.
 */
import { closeSync, fstatSync, fsyncSync, ftruncateSync, readSync, renameSync, statSync, utimesSync } from 'node:fs';
import { dirname } from 'node:path';
import type { LogPosition } from '../contract/types.generated.js';
import { errors } from '../contract/errors.js';
import { fsyncDir, openState, stateIoError, tempPathFor, unlinkQuietly, writeAll } from './files.js';
import { endsWithNewline, logEnd, positionIn } from './jsonl.js';
import { logSegments } from './segments.js';

export class HolderLog {
  private constructor(
    readonly path: string,
    private readonly rotatable: boolean,
    private fd: number,
    private ino: number,
  ) {}

  static open(path: string, opts: { rotatable: boolean }): HolderLog {
    const fd = openState(path, 'append');
    return new HolderLog(path, opts.rotatable, fd, fstatSync(fd).ino);
  }

  /**
   * Whether this descriptor still writes the live file. An unlinked file (nlink 0: replaced by a
   * taker's copy, or deleted) throws E_LEASE_LOST; a file rotated aside is reopened (the fresh one is
   * created when logrotate did not). The file reopened may be a taker's copy (a seal between the
   * fstat and the stat here, or before the open): the caller checks the lease after this, never before.
   */
  verify(epoch: number): void {
    const mine = fstatSync(this.fd);
    if (inoAt(this.path) === this.ino) return;
    if (mine.nlink === 0 || !this.rotatable) throw errors.leaseLost(epoch, `${this.path} was replaced by another holder`);
    this.reopen();
  }

  private reopen(): void {
    // What was written to the rotated file is made durable before we let go of it.
    fsyncSync(this.fd);
    closeSync(this.fd);
    this.fd = openState(this.path, 'append');
    this.ino = fstatSync(this.fd).ino;
  }

  /**
   * A last line without its newline is what a writer killed mid-append leaves. This log has one
   * writer (the holder, which just took over), so the line is finished here: completed with its
   * newline when it is a whole record (`isRecord`: the decision was made, nothing is lost), cut off
   * when it is a torn one (it was never a record; its candidate is decided again). Either way the
   * file stays one record a line for jq. Returns what was done, for the log.
   */
  repairTail(isRecord: (line: Buffer) => boolean): { completed: number; removed: string } | null {
    const size = fstatSync(this.fd).size;
    if (endsWithNewline(this.fd, size)) return null;
    const window = Math.min(size, 1 << 20);
    const buf = Buffer.alloc(window);
    readSync(this.fd, buf, 0, window, size - window);
    const nl = buf.lastIndexOf(10);
    const start = nl === -1 ? size - window : size - window + nl + 1;
    const tail = buf.subarray(nl + 1);
    try {
      if (isRecord(tail)) {
        writeAll(this.fd, Buffer.from('\n'));
        fsyncSync(this.fd);
        return { completed: tail.length, removed: '' };
      }
      ftruncateSync(this.fd, start);
      fsyncSync(this.fd);
    } catch (e) {
      throw stateIoError(this.path, e, 'write');
    }
    return { completed: 0, removed: tail.subarray(0, 200).toString('utf8') };
  }

  /** Appends whole lines in one write, starting on a fresh line; a write cut short is undone. Returns the size after it. */
  append(text: string, opts: { fsync: boolean }): number {
    const before = fstatSync(this.fd).size;
    try {
      writeAll(this.fd, Buffer.from(endsWithNewline(this.fd, before) ? text : `\n${text}`));
      if (opts.fsync) fsyncSync(this.fd);
    } catch (e) {
      try {
        ftruncateSync(this.fd, before);
      } catch {
        // the torn tail stays; the next append starts on a fresh line anyway
      }
      throw stateIoError(this.path, e, 'write');
    }
    return fstatSync(this.fd).size;
  }

  sync(): void {
    try {
      fsyncSync(this.fd);
    } catch (e) {
      throw stateIoError(this.path, e, 'write');
    }
  }

  /** The end of what was written: where a reader of what comes after starts. */
  end(): LogPosition {
    const size = fstatSync(this.fd).size;
    // An empty fresh file (just rotated) has no first bytes to be named by: the end of the newest segment is the same place.
    return size > 0 ? positionIn(this.fd, size) : logEnd(this.path);
  }

  get size(): number {
    return fstatSync(this.fd).size;
  }

  close(): void {
    closeSync(this.fd);
  }
}

/** Rotated segments renamed this long before the previous tenure began are copied too: clocks of hosts differ. */
const CLOCK_MARGIN_MS = 10 * 60_000;

/**
 * At a takeover: replaces the live file, and every rotated segment renamed since the previous
 * holder's tenure began (`sinceMs`; null: unknown, all of them), by a copy of its whole lines. The
 * previous holder may be alive (paused past its lease) with a write already past its last check:
 * that write now goes to an unlinked inode nobody reads. A rotated segment counts because logrotate
 * may have renamed the file under a paused holder. Copies keep their mtime (segment order).
 * `assertHeld` throws once the lease is lost: it runs before each rename, since a copy renamed
 * over the file of a newer taker would orphan that live holder's descriptor in turn.
 */
export function sealAgainstLateWriters(path: string, sinceMs: number | null, assertHeld: () => void): number {
  // A file logrotate renamed after the listing is not where it was listed: listed again, it is found
  // under its new name (a rotated segment of a fresh ctime) and sealed there.
  for (let attempt = 1; ; attempt++) {
    let sealed = 0;
    let moved = false;
    for (const seg of logSegments(path)) {
      if (seg.gzip || (!seg.live && sinceMs !== null && seg.ctimeMs < sinceMs - CLOCK_MARGIN_MS)) continue;
      if (replaceByCopy(seg.path, seg.ino, assertHeld)) sealed += 1;
      else moved = true;
    }
    if (!moved) return sealed;
    if (attempt === 3) throw stateIoError(path, Object.assign(new Error(`${path} was rotated again and again while being sealed`), { code: 'EAGAIN' }), 'write');
  }
}

/**
 * Copies the file's whole lines (a torn last line is dropped) to a new inode renamed over it. False
 * when the name no longer holds the inode listed (logrotate moved it): nothing was replaced.
 */
function replaceByCopy(path: string, ino: number, assertHeld: () => void): boolean {
  const src = openState(path, 'read');
  if (src === null) return false;
  const tmp = tempPathFor(path);
  try {
    const st = fstatSync(src);
    if (st.ino !== ino) return false;
    const dst = openState(tmp, 'create-exclusive') as number;
    try {
      const buf = Buffer.alloc(Math.min(1 << 20, Math.max(1, st.size)));
      let pos = 0;
      let lastNewline = -1;
      for (;;) {
        const n = readSync(src, buf, 0, buf.length, pos);
        if (n === 0) break;
        const nl = buf.subarray(0, n).lastIndexOf(10);
        writeAll(dst, buf.subarray(0, n), pos);
        if (nl !== -1) lastNewline = pos + nl;
        pos += n;
      }
      ftruncateSync(dst, lastNewline + 1);
      fsyncSync(dst);
    } finally {
      closeSync(dst);
    }
    utimesSync(tmp, st.atime, st.mtime);
    // Renamed only if the name still holds the inode copied (logrotate may have moved it meanwhile).
    if (inoAt(path) !== ino) {
      unlinkQuietly(tmp);
      return false;
    }
    assertHeld();
    renameSync(tmp, path);
  } catch (e) {
    unlinkQuietly(tmp);
    throw stateIoError(path, e, 'write');
  } finally {
    closeSync(src);
  }
  fsyncDir(dirname(path));
  return true;
}

function inoAt(path: string): number | null {
  try {
    return statSync(path).ino;
  } catch {
    return null;
  }
}
