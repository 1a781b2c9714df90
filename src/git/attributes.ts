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
import { errors } from '../contract/errors.js';
import { CatFileBatch } from './batch.js';
import { assertSha } from './guard.js';
import type { GitHandle } from './runner.js';

const ATTRIBUTES = '.gitattributes';

export class MergeDirectory {
  /** The commit whose attributes are here, and those attributes (path → contents). */
  private held: { commit: string; files: Map<string, Buffer> } | null = null;

  constructor(
    /** Created by the caller and removed by it (a temporary directory of the state directory). */
    readonly dir: string,
    /** Whether to copy the tree's attributes: false for a bare repository. */
    private readonly treeAttributes: boolean,
  ) {}

  /**
   * Holds the `.gitattributes` of `commit`'s tree (read through `batch`, a cat-file of the
   * repository), and nothing else. Read again only when `commit` changed; written only when they did.
   */
  async prepare(batch: CatFileBatch, commit: string): Promise<void> {
    if (this.held?.commit === commit) return;
    const files = this.treeAttributes ? await attributesOf(batch, commit) : new Map<string, Buffer>();
    const same = this.held !== null && this.held.files.size === files.size && [...files].every(([p, b]) => this.held?.files.get(p)?.equals(b));
    this.held = { commit, files };
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
export async function mergeDirectoryOn(dir: string, h: GitHandle, commit: string, treeAttributes: boolean): Promise<MergeDirectory> {
  const d = new MergeDirectory(dir, treeAttributes);
  const batch = new CatFileBatch(h);
  try {
    await d.prepare(batch, commit);
  } finally {
    await batch.close();
  }
  return d;
}

/**
 * Every regular `.gitattributes` file of `commit`'s tree, read through the warm cat-file: the tree
 * walked a level at a time (one request per level of directories), no process started.
 */
async function attributesOf(batch: CatFileBatch, commit: string): Promise<Map<string, Buffer>> {
  const [root] = await batch.resolve([`${assertSha(commit)}^{tree}`]);
  if (!root) throw errors.gitFailed(['cat-file', `${commit}^{tree}`], 0, `${commit} is not a commit here`);
  const files = new Map<string, Buffer>();
  for (let level = [{ dir: '', tree: root }]; level.length > 0; ) {
    const trees = await batch.objects(level.map((l) => l.tree));
    const next: typeof level = [];
    const blobs: [path: string, blob: string][] = [];
    level.forEach(({ dir, tree }, i) => {
      const t = trees[i];
      if (t?.type !== 'tree') throw errors.gitFailed(['cat-file', tree], 0, `${tree} is not a tree here`);
      for (const e of treeEntries(t.body, tree.length / 2)) {
        // git reads no symbolic link as .gitattributes, and submodules are other repositories.
        if (e.mode === '40000') next.push({ dir: `${dir}${e.name}/`, tree: e.oid });
        else if (e.name === ATTRIBUTES && (e.mode === '100644' || e.mode === '100755')) blobs.push([`${dir}${e.name}`, e.oid]);
      }
    });
    const contents = await batch.objects(blobs.map(([, blob]) => blob));
    blobs.forEach(([path], i) => files.set(path, contents[i]?.body ?? Buffer.alloc(0)));
    level = next;
  }
  return files;
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
