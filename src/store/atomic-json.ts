/**
 * Whole-file replacement that survives a crash at any instant: the reader sees either the old or the
 * new file, never a torn one. Temp file in the same directory (rename is atomic only within one
 * filesystem), fsync of the data, rename, fsync of the directory so the rename itself is durable.
 */
import { closeSync, fchmodSync, fsyncSync, openSync, readFileSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { errors, isErrnoError } from '../contract/errors.js';
import { describeErrors, formatProblems, type Validator } from '../contract/validate.js';

export function writeJsonAtomic(path: string, data: unknown): void {
  writeAtomic(path, (fd) => writeJsonTo(fd, data));
}

/** The same for any text (the config `init` writes, a hook script); `mode` is applied whatever the umask. */
export function writeTextAtomic(path: string, text: string, opts: { mode?: number } = {}): void {
  writeAtomic(path, (fd) => writeAll(fd, Buffer.from(text)), opts.mode);
}

/** Every whole-file write goes through here: temp file, fsync, rename, fsync of the directory. */
function writeAtomic(path: string, write: (fd: number) => void, mode = 0o644): void {
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.${Date.now()}.tmp`);
  try {
    const fd = openSync(tmp, 'w', mode);
    try {
      write(fd);
      if (mode !== 0o644) fchmodSync(fd, mode);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, path);
  } catch (e) {
    unlinkQuietly(tmp);
    throw ioError(path, e);
  }
  fsyncDir(dirname(path));
}

/** File-system failures (full disk, read-only, permissions) become E_STATE_WRITE naming the file. */
export function ioError(path: string, e: unknown): unknown {
  return isErrnoError(e) ? errors.stateWriteFailed(path, e) : e;
}

/** The same for reads (permissions, a directory where the file belongs): E_STATE_READ naming the file. */
export function readError(path: string, e: unknown): unknown {
  return isErrnoError(e) ? errors.stateReadFailed(path, e) : e;
}

/**
 * Serializes like JSON.stringify, but writes long arrays element by element in ~1 MiB pieces:
 * a queue or checkpoint of hundreds of thousands of entries never exists as one giant string.
 */
function writeJsonTo(fd: number, data: unknown): void {
  let pending = '';
  const emit = (text: string) => {
    pending += text;
    if (pending.length >= 1 << 20) {
      writeAll(fd, Buffer.from(pending));
      pending = '';
    }
  };
  // Only objects and long arrays are taken apart; everything inside them goes to JSON.stringify whole.
  const walk = (value: unknown): void => {
    if (Array.isArray(value) && value.length > 256) {
      emit('[');
      for (let i = 0; i < value.length; i++) emit(i === 0 ? JSON.stringify(value[i]) : `,${JSON.stringify(value[i])}`);
      emit(']');
    } else if (value !== null && typeof value === 'object' && !Array.isArray(value) && !('toJSON' in value)) {
      emit('{');
      let first = true;
      for (const [k, v] of Object.entries(value)) {
        if (v === undefined) continue;
        emit(`${first ? '' : ','}${JSON.stringify(k)}:`);
        first = false;
        walk(v);
      }
      emit('}');
    } else emit(JSON.stringify(value));
  };
  walk(data);
  emit('\n');
  writeAll(fd, Buffer.from(pending));
}

/** Reads and validates a state file; `null` when it does not exist yet. */
export function readJson<T>(path: string, validate: Validator<T>): T | null {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw readError(path, e);
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (e) {
    throw errors.stateFileCorrupt(path, (e as Error).message);
  }
  if (!validate(data)) throw errors.stateFileCorrupt(path, formatProblems(describeErrors(validate.errors, data)).join('; '));
  return data;
}

export function writeAll(fd: number, buf: Buffer): void {
  let off = 0;
  while (off < buf.length) off += writeSync(fd, buf, off, buf.length - off);
}

export function fsyncDir(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

function unlinkQuietly(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    // best effort: a leftover temp file is harmless and never read
  }
}
