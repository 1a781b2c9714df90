/**
 * Where `git merge-tree` runs: a directory of the tool's own (`MergeDirectory`), never the canonical
 * worktree. git writes a merge driver's temporary files (`.merge_file_XXXXXX`) in its current
 * directory and starts the driver there; a driver killed at `git_timeout_seconds` leaves them behind.
 * So merges run here, reading the repository through GIT_DIR with this directory as the work tree
 * (`openGit`'s `gitDir`).
 *
 * git 2.39's merge-tree reads `.gitattributes` (merge drivers, `merge=union`, `-merge`, `binary`)
 * from the work tree only — not from the trees it merges, nor from the index — besides
 * `$GIT_DIR/info/attributes`, `core.attributesFile` and the system file, which it still reads as
 * before. So this directory holds a copy of every `.gitattributes` of main's tree, at its path: the
 * attributes a merge onto main sees in a worktree on main (and `engine: worktree` sees in the scratch
 * repository). A bare repository has no work tree: then it holds none, as git reads none there.
 */
import { mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Logger } from '../context.js';
import { attributesCache as validateAttributesCache } from '../contract/cache-validators.generated.js';
import { errors } from '../contract/errors.js';
import type { AttributesCache } from '../contract/types.generated.js';
import { readCache, writeCache } from '../store/atomic-json.js';
import { CatFileBatch } from './batch.js';
import { assertSha } from './guard.js';
import { createTemporaryObjects, hashObject, type TemporaryObjects } from './objects.js';
import { openGit, type GitHandle, type GitSettings } from './runner.js';

const ATTRIBUTES = '.gitattributes';

/** Where a merge directory keeps the tree it read, for the next process (schemas/attributes-cache.schema.json). */
export const attributesCachePath = (stateDir: string) => join(stateDir, 'cache', 'attributes.json');

/** A directory of a tree as last read: its tree id, its `.gitattributes` (blob id and contents), its subdirectories. */
interface Dir {
  tree: string;
  attributes: { blob: string; contents: Buffer } | null;
  children: Map<string, Dir>;
}

export class MergeDirectory {
  /** The commit whose attributes are here, and its tree as read (reused where main's next tip has the same subtrees). */
  private held: { commit: string; root: Dir; files: Map<string, Buffer> } | null = null;

  constructor(
    /** Created by the caller and removed by it (a temporary directory of the state directory). */
    readonly dir: string,
    /** Whether to copy the tree's attributes: false for a bare repository. */
    private readonly treeAttributes: boolean,
    /** `cache/attributes.json`: the tree the last process read, so that a new one reads only what changed since. */
    private readonly cache: { file: string; logger: Logger } | null = null,
  ) {}

  /**
   * Holds the `.gitattributes` of `commit`'s tree (read through `batch`, a cat-file of the
   * repository), and nothing else. When `commit` changed, only the directories whose tree changed are
   * read again (work in proportion to main's change, not to the tree); the files are written only
   * when they changed.
   */
  async prepare(batch: CatFileBatch, commit: string): Promise<void> {
    if (this.held?.commit === commit || (!this.treeAttributes && this.held)) return;
    let root: Dir = { tree: '', attributes: null, children: new Map<string, Dir>() };
    if (this.treeAttributes) {
      const known = this.held?.root ?? (this.cache ? readTreeCache(this.cache.file, this.cache.logger) : null);
      root = await readDirs(batch, commit, known);
      if (this.cache && root !== known) writeTreeCache(this.cache.file, root, this.cache.logger);
    }
    const files = attributeFiles(root);
    const before = this.held?.files;
    const same = before !== undefined && before.size === files.size && [...files].every(([path, contents]) => before.get(path)?.equals(contents));
    this.held = { commit, root, files };
    if (!same) this.restore();
  }

  /** Back to the attributes alone: after a merge that failed or was killed, whatever its driver left goes. */
  restore(): void {
    for (const name of readdirSync(this.dir)) rmSync(join(this.dir, name), { recursive: true, force: true });
    for (const [path, contents] of this.held?.files ?? []) {
      mkdirSync(dirname(join(this.dir, path)), { recursive: true });
      writeFileSync(join(this.dir, path), contents);
    }
  }
}

/** `dir` made a merge directory holding `commit`'s attributes, read through a cat-file of its own on `h`. */
/** The directories a report's merges use (`reportMerges`), made together and removed together. */
export interface ReportMerges {
  /** merge-tree's handle: run in the merge directory, its merged trees written to `objectDir`. */
  readonly handle: GitHandle;
  /** The temporary object directory the merged trees go to, never the repository's. */
  readonly objectDir: string;
  /** Holds main's `.gitattributes` in the merge directory: read on the first call only (most runs merge nothing). */
  prepare(): Promise<void>;
  remove(): void;
}

/**
 * What `parity` and `conflicts` merge with: a temporary object directory for the merged trees and a
 * directory of the tool's own for merge-tree to run in, holding main's attributes (see
 * MergeDirectory), read through `read` and kept in cache/attributes.json like the engine's.
 */
export function reportMerges(o: { stateDir: string; commonDir: string; treeAttributes: boolean; settings: GitSettings; read: GitHandle; mainSha: string; alternates: readonly string[]; logger: Logger }): ReportMerges {
  const objects = createTemporaryObjects(o.stateDir);
  let mergeDir: TemporaryObjects;
  try {
    mergeDir = createTemporaryObjects(o.stateDir);
  } catch (e) {
    objects.remove();
    throw e;
  }
  let prepared: Promise<void> | null = null;
  const prepare = async () => {
    const d = new MergeDirectory(mergeDir.dir, o.treeAttributes, { file: attributesCachePath(o.stateDir), logger: o.logger });
    const batch = new CatFileBatch(o.read);
    try {
      await d.prepare(batch, o.mainSha);
    } finally {
      await batch.close();
    }
  };
  return {
    handle: openGit(mergeDir.dir, o.settings, { gitDir: o.commonDir, objectDir: objects.dir, alternates: [join(o.commonDir, 'objects'), ...o.alternates] }),
    objectDir: objects.dir,
    prepare: () => (prepared ??= prepare()),
    remove: () => {
      objects.remove();
      mergeDir.remove();
    },
  };
}

/**
 * `commit`'s directories and their regular `.gitattributes` files, read through the cat-file a level
 * at a time (one request per level, no process started). A subtree whose id is the one in `known`
 * (the last tip read) is taken from there unread, and so is an unchanged `.gitattributes`.
 */
async function readDirs(batch: CatFileBatch, commit: string, known: Dir | null): Promise<Dir> {
  const [tree] = await batch.resolve([`${assertSha(commit)}^{tree}`]);
  if (!tree) throw errors.gitFailed(['cat-file', `${commit}^{tree}`], 0, `${commit} is not a commit here`);
  if (known?.tree === tree) return known;
  const root: Dir = { tree, attributes: null, children: new Map() };
  for (let level = [{ dir: root, was: known }]; level.length > 0; ) {
    const objects = await batch.objects(level.map((l) => l.dir.tree));
    const next: typeof level = [];
    const blobs: { dir: Dir; blob: string }[] = [];
    level.forEach(({ dir, was }, i) => {
      const o = objects[i];
      if (o?.type !== 'tree') throw errors.gitFailed(['cat-file', dir.tree], 0, `${dir.tree} is not a tree here`);
      for (const e of treeEntries(o.body, dir.tree.length / 2)) {
        if (e.mode === '40000') {
          const same = was?.children.get(e.name);
          if (same?.tree === e.oid) dir.children.set(e.name, same);
          else {
            const child: Dir = { tree: e.oid, attributes: null, children: new Map() };
            dir.children.set(e.name, child);
            next.push({ dir: child, was: same ?? null });
          }
          // git reads no symbolic link as .gitattributes, and submodules are other repositories.
        } else if (e.name === ATTRIBUTES && (e.mode === '100644' || e.mode === '100755')) {
          if (was?.attributes?.blob === e.oid) dir.attributes = was.attributes;
          else blobs.push({ dir, blob: e.oid });
        }
      }
    });
    const contents = await batch.objects(blobs.map((b) => b.blob));
    blobs.forEach((b, i) => (b.dir.attributes = { blob: b.blob, contents: contents[i]?.body ?? Buffer.alloc(0) }));
    level = next;
  }
  return root;
}

/** Every `.gitattributes` below `dir`, by path. */
function attributeFiles(dir: Dir, prefix = '', out = new Map<string, Buffer>()): Map<string, Buffer> {
  if (dir.attributes) out.set(`${prefix}${ATTRIBUTES}`, dir.attributes.contents);
  for (const [name, child] of dir.children) attributeFiles(child, `${prefix}${name}/`, out);
  return out;
}

/** A tree object's entries: `<mode> <name>\0<raw object id>` each. */
function treeEntries(body: Buffer, idBytes: number): { mode: string; name: string; oid: string }[] {
  const out: { mode: string; name: string; oid: string }[] = [];
  for (let at = 0; at < body.length; ) {
    const space = body.indexOf(0x20, at);
    const nul = body.indexOf(0, space);
    if (space === -1 || nul === -1 || nul + 1 + idBytes > body.length) throw errors.gitFailed(['cat-file'], 0, 'a tree object git answered is malformed');
    const name = body.toString('utf8', space + 1, nul);
    out.push({ mode: body.toString('latin1', at, space), name, oid: body.toString('hex', nul + 1, nul + 1 + idBytes) });
    at = nul + 1 + idBytes;
  }
  return out.filter((e) => e.name !== '' && e.name !== '.' && e.name !== '..' && !e.name.includes('/'));
}

/** The tree `cache/attributes.json` holds; null (read the tree whole) when there is none or it is not what it says. */
function readTreeCache(file: string, logger: Logger): Dir | null {
  const record = readCache(file, validateAttributesCache, logger);
  if (!record) return null;
  const byPath = new Map<string, Dir>();
  for (const d of record.dirs) {
    const contents = d.attributes ? Buffer.from(d.attributes.base64, 'base64') : null;
    // The contents must be the blob they name: the merges' verdicts depend on them.
    if (d.attributes && contents && blobId(contents, d.attributes.blob.length) !== d.attributes.blob) return ignored(logger, file, `${d.path}${ATTRIBUTES} is not blob ${d.attributes.blob}`);
    const dir: Dir = { tree: d.tree, attributes: d.attributes && contents ? { blob: d.attributes.blob, contents } : null, children: new Map() };
    if (d.path !== '') {
      const slash = d.path.lastIndexOf('/', d.path.length - 2);
      const parent = byPath.get(d.path.slice(0, slash + 1));
      if (!parent || !d.path.endsWith('/')) return ignored(logger, file, `directory ${JSON.stringify(d.path)} comes before its parent`);
      parent.children.set(d.path.slice(slash + 1, -1), dir);
    } else if (byPath.size > 0) return ignored(logger, file, 'a second root');
    byPath.set(d.path, dir);
  }
  return byPath.get('') ?? null;
}

function ignored(logger: Logger, file: string, why: string): null {
  logger.log('debug', 'attributes_cache_ignored', { file, why });
  return null;
}

/** Keeps `root` for the next process; a cache that cannot be written only costs it a whole read. */
function writeTreeCache(file: string, root: Dir, logger: Logger): void {
  const dirs: AttributesCache['dirs'] = [];
  const walk = (d: Dir, path: string) => {
    dirs.push({ path, tree: d.tree, attributes: d.attributes ? { blob: d.attributes.blob, base64: d.attributes.contents.toString('base64') } : null });
    for (const [name, child] of d.children) walk(child, `${path}${name}/`);
  };
  walk(root, '');
  writeCache(file, { schema_version: 1, dirs }, validateAttributesCache, logger, 'attributes_cache_not_written');
}

/** git's id of a blob with these contents. */
const blobId = (contents: Buffer, width: number): string => hashObject(Buffer.concat([Buffer.from(`blob ${contents.length}\0`), contents]), width);
