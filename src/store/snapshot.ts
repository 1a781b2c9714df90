/**
 * Projection snapshot files, `projection.<epoch>.<seq>.snap`: one JSON header line (checkpoint.schema.json
 * SnapshotHeader, padded so that the binary part starts 8-byte aligned), then named sections of raw
 * little-endian typed arrays. Loading is one read and a view per section: tens of milliseconds for
 * hundreds of thousands of slugs, where parsing JSON arrays took seconds. Written whole under a new
 * name (never over a live one): a late write of an ex-holder cannot replace the snapshot a round names.
 */
import { fstatSync, closeSync, readSync } from 'node:fs';
import { join } from 'node:path';
import { errors } from '../contract/errors.js';
import type { SnapshotHeader } from '../contract/types.generated.js';
import { validators } from '../contract/validate.js';
import { assertValid, parseJson } from './atomic-json.js';
import { openState, replaceFile, stateIoError, unlinkQuietly, writeAll } from './files.js';
import { listDir } from './journal.js';
import { numbered, olderThan, type StatePaths } from './paths.js';

export type SnapshotSections = Record<string, Uint8Array | Uint32Array | Int32Array | Float64Array>;

const align8 = (n: number) => Math.ceil(n / 8) * 8;

/** Writes the snapshot durably; returns its size in bytes. */
export function writeSnapshot(paths: StatePaths, name: string, header: Omit<SnapshotHeader, 'sections'>, sections: SnapshotSections): number {
  const path = join(paths.dir, name);
  const layout: SnapshotHeader['sections'] = [];
  let offset = 0;
  for (const [sectionName, data] of Object.entries(sections)) {
    layout.push({ name: sectionName, offset, bytes: data.byteLength });
    offset = align8(offset + data.byteLength);
  }
  const full: SnapshotHeader = { ...header, sections: layout };
  assertValid(path, full, validators.snapshot);
  // Padded with spaces (JSON allows them) so that the sections start at a multiple of 8.
  const json = JSON.stringify(full);
  const headerBytes = Buffer.from(`${json.padEnd(align8(Buffer.byteLength(json) + 1) - 1, ' ')}\n`);
  let total = headerBytes.length;
  replaceFile(path, (fd) => {
    writeAll(fd, headerBytes);
    for (const [i, data] of Object.values(sections).entries()) {
      const at = headerBytes.length + (layout[i] as { offset: number }).offset;
      writeAll(fd, new Uint8Array(data.buffer, data.byteOffset, data.byteLength), at);
      total = at + data.byteLength;
    }
  });
  return total;
}

export interface LoadedSnapshot {
  header: SnapshotHeader;
  /** Each section's bytes, 8-byte aligned (views of one buffer). */
  sections: Record<string, Uint8Array>;
  bytes: number;
}

/** Reads a snapshot; null when it does not exist. A file that does not hold together is E_STATE_CORRUPT. */
export function readSnapshot(paths: StatePaths, name: string): LoadedSnapshot | null {
  const path = join(paths.dir, name);
  const fd = openState(path, 'read');
  if (fd === null) return null;
  let buf: Uint8Array;
  try {
    const size = fstatSync(fd).size;
    // A fresh ArrayBuffer is 8-byte aligned, so the sections can be viewed in place.
    buf = new Uint8Array(size);
    let off = 0;
    while (off < size) {
      const n = readSync(fd, buf, off, size - off, off);
      if (n === 0) break;
      off += n;
    }
    if (off !== size) throw errors.stateFileCorrupt(path, 'it is shorter than its size');
  } catch (e) {
    throw stateIoError(path, e, 'read');
  } finally {
    closeSync(fd);
  }
  const nl = buf.indexOf(10);
  if (nl === -1) throw errors.stateFileCorrupt(path, 'no header line');
  const header = parseJson(path, Buffer.from(buf.buffer, 0, nl).toString('utf8'), validators.snapshot);
  const data = nl + 1;
  if (data % 8 !== 0) throw errors.stateFileCorrupt(path, 'its sections are not 8-byte aligned');
  const sections: Record<string, Uint8Array> = {};
  for (const s of header.sections) {
    if (s.offset % 8 !== 0 || data + s.offset + s.bytes > buf.length) throw errors.stateFileCorrupt(path, `section ${s.name} lies outside the file`);
    sections[s.name] = new Uint8Array(buf.buffer, data + s.offset, s.bytes);
  }
  return { header, sections, bytes: buf.length };
}

/** Removes snapshots older than the newest of `keep`, other than `keep` (older ones, and an ex-holder's that no round names). */
export function pruneSnapshots(paths: StatePaths, keep: readonly string[]): void {
  const newest = numbered(keep, 'projection')[0];
  if (!newest) return;
  for (const s of numbered(listDir(paths.dir), 'projection')) if (!keep.includes(s.name) && olderThan(s, newest)) unlinkQuietly(join(paths.dir, s.name));
}
