/**
 * Temporary object directories: where merges write the trees and blobs they make, and where the tool
 * writes the commits it makes itself (`writeMergeCommit`: the stack's merges), so that the
 * repository's store gains nothing (git reads the repository's objects through alternates). They live
 * under the state directory (`tmp-objects/`), never in a shared /tmp, each named after its owner
 * (`<host>-<pid>-<random>`): a process killed before it removed its own leaves it behind, and the next
 * start on the same host removes those whose owner is dead.
 */
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { deflateSync, inflateSync } from 'node:zlib';
import { errors } from '../contract/errors.js';
import { SHA } from './guard.js';

export interface TemporaryObjects {
  readonly dir: string;
  remove(): void;
}

const NAME = /^(.+)-(\d+)-[0-9a-f]{8}$/;

export const temporaryObjectsRoot = (stateDir: string) => join(stateDir, 'tmp-objects');

const ownName = (stateDir: string) => join(temporaryObjectsRoot(stateDir), `${hostname()}-${process.pid}-${randomBytes(4).toString('hex')}`);

export function createTemporaryObjects(stateDir: string): TemporaryObjects {
  const dir = ownName(stateDir);
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
  } catch (e) {
    throw errors.stateDirUnusable(stateDir, `cannot create ${dir}: ${(e as Error).message}`);
  }
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/**
 * Takes a kept object directory (`kept`, outside tmp-objects/) as a temporary one of this process:
 * renamed to this process's own name — atomic, so of two processes taking it one gets it whole and
 * the other nothing, and from then on the sweep of dead owners' directories leaves it alone while
 * this process lives. Null when it is not there (or another process took it first).
 */
export function adoptTemporaryObjects(stateDir: string, kept: string): TemporaryObjects | null {
  const dir = ownName(stateDir);
  try {
    mkdirSync(temporaryObjectsRoot(stateDir), { recursive: true, mode: 0o700 });
    renameSync(kept, dir);
  } catch {
    return null;
  }
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/**
 * Keeps a temporary object directory as `to` (outside tmp-objects/, so no sweep removes it), in
 * place of the one kept there before. The one before is first taken as this process's own and then
 * removed — never removed in place, where a process taking it meanwhile would get it half deleted.
 * When another process keeps one there in between, that one stays and `objects` is removed.
 * Whether `objects` was kept.
 */
export function keepTemporaryObjects(stateDir: string, objects: TemporaryObjects, to: string): boolean {
  adoptTemporaryObjects(stateDir, to)?.remove();
  try {
    mkdirSync(dirname(to), { recursive: true, mode: 0o700 });
    renameSync(objects.dir, to);
    return true;
  } catch {
    objects.remove();
    return false;
  }
}

/** git's id of an object from its raw bytes (`<type> <size>\0<body>`): SHA-256 for 64-digit ids, else SHA-1. */
export function hashObject(raw: Buffer, hexWidth: number): string {
  return createHash(hexWidth === 64 ? 'sha256' : 'sha1').update(raw).digest('hex');
}

/**
 * A loose object of `dir`, read and checked against its id (SHA-1, or SHA-256 for 64 digits): its
 * type and content; null when it is not there, cannot be inflated, or is not the object it is named.
 */
export function readLooseObject(dir: string, id: string): { type: string; body: Buffer } | null {
  if (!SHA.test(id)) return null;
  let raw: Buffer;
  try {
    raw = inflateSync(readFileSync(join(dir, id.slice(0, 2), id.slice(2))));
  } catch {
    return null;
  }
  if (hashObject(raw, id.length) !== id) return null;
  const nul = raw.indexOf(0);
  const header = /^(commit|tree|blob|tag) (\d+)$/.exec(raw.subarray(0, Math.max(nul, 0)).toString('latin1'));
  if (nul < 0 || !header || Number(header[2]) !== raw.length - nul - 1) return null;
  return { type: header[1] as string, body: raw.subarray(nul + 1) };
}

/**
 * The objects of `dir` reachable from the commits `roots` through objects of `dir` only (a commit's
 * tree, a tree's entries; what is not in `dir` is the repository's, and is not followed), each read
 * and checked; null when one of them cannot be read. What a kept stack's commits need from `dir`.
 */
export function looseClosure(dir: string, roots: readonly string[]): string[] | null {
  // The directory's loose objects listed once, by their raw ids: a tree of thousands of entries costs
  // no stat and no hex string each.
  const here = new Set<string>();
  try {
    for (const fan of readdirSync(dir)) if (/^[0-9a-f]{2}$/.test(fan)) for (const rest of readdirSync(join(dir, fan))) if (SHA.test(fan + rest)) here.add(Buffer.from(fan + rest, 'hex').toString('latin1'));
  } catch {
    return null;
  }
  const seen = new Set<string>();
  const todo = [...roots];
  for (let id = todo.pop(); id !== undefined; id = todo.pop()) {
    if (seen.has(id)) continue;
    const o = readLooseObject(dir, id);
    if (!o) return null;
    seen.add(id);
    const width = id.length / 2;
    if (o.type === 'commit') {
      const tree = /^tree ([0-9a-f]+)\n/.exec(o.body.toString('latin1'))?.[1];
      if (tree === undefined) return null;
      if (here.has(Buffer.from(tree, 'hex').toString('latin1'))) todo.push(tree);
    } else if (o.type === 'tree') {
      for (let at = 0; at < o.body.length; ) {
        const nul = o.body.indexOf(0, at);
        if (nul < 0 || nul + 1 + width > o.body.length) return null;
        // Gitlinks name commits of other repositories: never objects of ours.
        if (here.has(o.body.toString('latin1', nul + 1, nul + 1 + width)) && o.body.toString('latin1', at, o.body.indexOf(0x20, at)) !== '160000') todo.push(o.body.toString('hex', nul + 1, nul + 1 + width));
        at = nul + 1 + width;
      }
    }
  }
  return [...seen];
}

/** Bytes of the files in an object directory (its loose objects), for a bound on its size. */
export function objectDirBytes(dir: string): number {
  let bytes = 0;
  const walk = (d: string) => {
    for (const entry of readdirSync(d, { withFileTypes: true })) {
      const path = join(d, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.isFile()) bytes += statSync(path).size;
    }
  };
  try {
    walk(dir);
  } catch {
    // gone meanwhile: nothing to bound
  }
  return bytes;
}

/** Removes the temporary object directories of dead processes of this host; the ones removed. */
export function sweepTemporaryObjects(stateDir: string): string[] {
  const root = temporaryObjectsRoot(stateDir);
  let names: string[];
  try {
    names = readdirSync(root);
  } catch {
    return [];
  }
  const host = hostname();
  const swept: string[] = [];
  for (const name of names) {
    const m = NAME.exec(name);
    if (m?.[1] !== host || isAlive(Number(m[2]))) continue;
    rmSync(join(root, name), { recursive: true, force: true });
    swept.push(join(root, name));
  }
  return swept;
}

/** Whether a process of this host is running (EPERM: it is, and belongs to someone else). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The identity of every commit the tool makes: fixed, so that equal inputs give equal commits. */
const IDENTITY = 'shadow-integrator <shadow-integrator@localhost>';

export interface MergeCommit {
  /** The merged tree (in the object directory or the repository's store). */
  tree: string;
  /** First parent: what was merged onto (main, or the stack so far); then what was merged. */
  parents: readonly string[];
  message: string;
  /**
   * Author and committer time, seconds since the epoch. Callers pass the newest of the parents' times:
   * deterministic, and never older than a parent (git's merge-base walk orders commits by date).
   */
  time: number;
}

/**
 * Writes a commit object as a loose object into `objectDir` — a temporary object directory of the
 * tool's own (refused anywhere else), never the repository's store — without starting git: a loose
 * object is zlib(`commit <size>\0<body>`), named by the SHA-1 (or, for 64-digit ids, SHA-256) of
 * what was compressed. The identity and time are fixed by the inputs, so the same tree, parents,
 * message and time give the same id every time: a stack's commits can key caches. Returns its id.
 */
export function writeMergeCommit(objectDir: string, commit: MergeCommit): string {
  if (basename(dirname(resolve(objectDir))) !== 'tmp-objects') throw errors.gitRefused(`writing a commit into ${objectDir}, which is not a temporary object directory`);
  const { id, raw } = mergeCommitObject(commit);
  const dir = join(objectDir, id.slice(0, 2));
  const file = join(dir, id.slice(2));
  if (existsSync(file)) return id;
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    // Written aside and renamed: a reader (git, or this tool after a crash) never sees half an object.
    const tmp = `${file}.${process.pid}.tmp`;
    writeFileSync(tmp, deflateSync(raw), { mode: 0o444 });
    renameSync(tmp, file);
  } catch (e) {
    throw errors.stateDirUnusable(objectDir, `cannot write a commit object: ${(e as Error).message}`);
  }
  return id;
}

/** The id a merge commit gets (`writeMergeCommit` writes it), computed without writing it. */
export const mergeCommitId = (commit: MergeCommit): string => mergeCommitObject(commit).id;

function mergeCommitObject(commit: MergeCommit): { id: string; raw: Buffer } {
  const ids = [commit.tree, ...commit.parents];
  const width = commit.tree.length;
  for (const id of ids) if (!SHA.test(id) || id.length !== width) throw errors.gitRefused(`object id ${JSON.stringify(id)}`);
  if (!Number.isSafeInteger(commit.time) || commit.time < 0) throw errors.gitRefused(`commit time ${commit.time}`);
  const signature = `${IDENTITY} ${commit.time} +0000`;
  const body = Buffer.from(
    [`tree ${commit.tree}`, ...commit.parents.map((p) => `parent ${p}`), `author ${signature}`, `committer ${signature}`, '', commit.message.endsWith('\n') ? commit.message : `${commit.message}\n`].join('\n'),
  );
  const raw = Buffer.concat([Buffer.from(`commit ${body.length}\0`), body]);
  return { id: hashObject(raw, width), raw };
}
