/**
 * The one way state files are opened, read and replaced. Only regular files: a symlink is not
 * followed (a `readiness.jsonl` linked to a private file must not leak it into `rejected.jsonl`), a
 * FIFO or device is refused without blocking, a directory is named as such. Files are created 0600.
 * Every errno becomes a named error with the path and what to do.
 */
import { closeSync, constants, fchmodSync, fstatSync, fsyncSync, openSync, readdirSync, readSync, renameSync, statSync, unlinkSync, writeSync, type Stats } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { errors, isErrnoError, isShadowError } from '../contract/errors.js';
import { processAlive } from './process.js';

/** Mode of every file the tool creates: no more readable than its owner. */
export const FILE_MODE = 0o600;

const { O_RDONLY, O_WRONLY, O_RDWR, O_APPEND, O_CREAT, O_EXCL, O_NOFOLLOW, O_NONBLOCK } = constants;

export type OpenMode = 'read' | 'append' | 'create-exclusive' | 'read-write';

const FLAGS: Record<OpenMode, number> = {
  read: O_RDONLY,
  // Readable too: an append first reads the last byte (a torn line gets a newline before the record).
  append: O_RDWR | O_APPEND | O_CREAT,
  'create-exclusive': O_WRONLY | O_CREAT | O_EXCL,
  'read-write': O_RDWR | O_CREAT,
};

/**
 * Opens a state file; `null` when it does not exist (read) or already exists (create-exclusive). O_NOFOLLOW
 * refuses a symlink, O_NONBLOCK keeps a FIFO from blocking the open; fstat then refuses anything
 * that is not a regular file.
 */
export function openState(path: string, mode: 'append' | 'read-write'): number;
export function openState(path: string, mode: OpenMode): number | null;
export function openState(path: string, mode: OpenMode): number | null {
  let fd: number;
  try {
    fd = openSync(path, FLAGS[mode] | O_NOFOLLOW | O_NONBLOCK, FILE_MODE);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' && mode === 'read') return null;
    if (code === 'EEXIST' && mode === 'create-exclusive') return null;
    if (code === 'ELOOP') throw errors.stateNotRegular(path, 'a symbolic link');
    if (code === 'ENXIO') throw errors.stateNotRegular(path, 'a FIFO without a reader');
    throw stateIoError(path, e, mode === 'read' ? 'read' : 'write');
  }
  try {
    assertRegular(path, fstatSync(fd), mode === 'read' ? 'read' : 'write');
  } catch (e) {
    closeSync(fd);
    throw e;
  }
  return fd;
}

function assertRegular(path: string, st: Stats, op: 'read' | 'write'): void {
  if (st.isFile()) return;
  // A directory where the file belongs is the errno every tool reports for it (EISDIR), with its remedy.
  if (st.isDirectory()) throw stateIoError(path, Object.assign(new Error(`${path} is a directory`), { code: 'EISDIR', path }), op);
  throw errors.stateNotRegular(path, st.isFIFO() ? 'a FIFO' : st.isSocket() ? 'a socket' : st.isCharacterDevice() || st.isBlockDevice() ? 'a device' : 'not a regular file');
}

/** File-system failures become named errors (permission, full disk, read-only, a directory) naming the file. */
export function stateIoError(path: string, e: unknown, op: 'read' | 'write'): unknown {
  if (isShadowError(e) || !isErrnoError(e)) return e;
  return op === 'read' ? errors.stateReadFailed(path, e) : errors.stateWriteFailed(path, e);
}

/** The whole file, or null when it does not exist; refused when larger than `maxBytes`. */
export function readStateFile(path: string, maxBytes = 256 * 1024 * 1024): Buffer | null {
  const fd = openState(path, 'read');
  if (fd === null) return null;
  try {
    const size = fstatSync(fd).size;
    if (size > maxBytes) throw errors.stateFileCorrupt(path, `it is ${size} bytes, more than the ${maxBytes} such a file can hold`);
    const buf = Buffer.alloc(size);
    let off = 0;
    while (off < size) {
      const n = readSync(fd, buf, off, size - off, off);
      if (n === 0) break;
      off += n;
    }
    return buf.subarray(0, off);
  } catch (e) {
    throw stateIoError(path, e, 'read');
  } finally {
    closeSync(fd);
  }
}

export function writeAll(fd: number, buf: Buffer | Uint8Array, position?: number): void {
  let off = 0;
  while (off < buf.length) off += writeSync(fd, buf, off, buf.length - off, position === undefined ? null : position + off);
}

/** A temp name beside `path` that names its writer, so that a later start can sweep it when that writer is gone. */
export function tempPathFor(path: string): string {
  return join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
}

const TEMP = /^\..+\.(\d+)\.[0-9a-f]{8}\.tmp$/;

/**
 * Whole-file replacement that survives a crash at any instant: temp file in the same directory
 * (rename is atomic only within one file system), fsync, rename, fsync of the directory so the
 * rename itself is durable. Readers see the old or the new file, never a torn one.
 */
export function replaceFile(path: string, write: (fd: number) => void, mode = FILE_MODE): void {
  const tmp = tempPathFor(path);
  try {
    // A fresh exclusive file is regular by construction; its errno is reported against `path`.
    const fd = openSync(tmp, FLAGS['create-exclusive'] | O_NOFOLLOW, mode);
    try {
      write(fd);
      if (mode !== FILE_MODE) fchmodSync(fd, mode);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, path);
  } catch (e) {
    unlinkQuietly(tmp);
    throw stateIoError(path, e, 'write');
  }
  fsyncDir(dirname(path));
}

export function fsyncDir(dir: string): void {
  const fd = openSync(dir, O_RDONLY);
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

export function unlinkQuietly(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    // best effort: a leftover temp file is never read, and the next start sweeps it
  }
}

/**
 * Removes temp files left by writers that are gone (killed mid-write): their pid is dead, or they
 * are older than an hour (a pid of another host, or reused). Returns the names removed.
 */
export function sweepTempFiles(dir: string, now: Date, alive: (pid: number) => boolean = (pid) => processAlive({ host: hostname(), pid }) === true): string[] {
  const removed: string[] = [];
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return removed;
  }
  for (const name of names) {
    const m = TEMP.exec(name);
    if (!m) continue;
    const pid = Number(m[1]);
    const path = join(dir, name);
    let old = false;
    try {
      old = now.getTime() - statSync(path).mtimeMs > 3_600_000;
    } catch {
      continue;
    }
    if (pid === process.pid || (alive(pid) && !old)) continue;
    unlinkQuietly(path);
    removed.push(name);
  }
  return removed;
}
