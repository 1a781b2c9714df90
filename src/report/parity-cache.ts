/**
 * `<state_dir>/cache/parity.json` (schemas/parity-cache.schema.json): what parity learned from
 * main's history, so that a run after main moved by a few commits reads only those commits.
 *
 * - The history (main-history.ts) is keyed by the main commit it reached; the next run extends it
 *   with `git log <that commit>..<main>` when main's first-parent chain still runs through it, and
 *   builds it again from the whole log when it does not (main was rewritten).
 * - Patch ids, "is this merge git's automatic merge?" and a side commit's parents are answers about
 *   commits, which never change: kept by commit, across rewrites, each computed once. An entry is kept while its commit is
 *   on main, or while a run uses it (a candidate's own change), so the file follows what parity
 *   needs, not everything it ever asked.
 *
 * Derived data, deletable at any time: a file that is missing, unreadable, not valid against its
 * schema, or whose history is not a history is ignored (and rebuilt by the run), never an error. It
 * is written whole through the store's atomic write, so a reader never sees a torn one; a write that
 * fails is logged and the report stands.
 */
import { join } from 'node:path';
import type { Logger } from '../context.js';
import { parityCache as validateParityCache } from '../contract/cache-validators.generated.js';
import type { ParityCache } from '../contract/types.generated.js';
import type { DiffSpec } from '../git/history.js';
import { readCache, writeCache } from '../store/atomic-json.js';
import { MainHistory } from './main-history.js';

export const parityCachePath = (stateDir: string) => join(stateDir, 'cache', 'parity.json');

/** The key of a change: the line diff-tree reads for it. */
export const changeKey = (d: DiffSpec) => (d.from ? `${d.to} ${d.from}` : d.to);

interface Kept<T> {
  entries: Record<string, T>;
  /** Whether they differ from what was read. */
  changed: boolean;
}

/** One kind of answer (patch ids, inverse patch ids, clean merges, parents), and which of them this run used. */
export class Answers<T> {
  private readonly used = new Set<string>();
  private added = false;

  constructor(private readonly entries: Map<string, T>) {}

  get(key: string): T | undefined {
    const v = this.entries.get(key);
    if (v !== undefined) this.used.add(key);
    return v;
  }

  set(key: string, value: T): void {
    this.entries.set(key, value);
    this.used.add(key);
    this.added = true;
  }

  /** The entries to keep: used by this run, or about a commit still on main (`onMain` of the key's commit). */
  kept(onMain: (sha: string) => boolean): Kept<T> {
    const entries: Record<string, T> = {};
    let dropped = false;
    for (const [k, v] of this.entries) {
      if (this.used.has(k) || onMain(k.split(' ')[0] as string)) entries[k] = v;
      else dropped = true;
    }
    return { entries, changed: this.added || dropped };
  }
}

export class ParityCacheFile {
  /** The history as the file kept it; null when there was none (or none that could be used). */
  readonly history: MainHistory | null;
  /** The main commit the file's history had reached. */
  private readonly tip: string | null;
  readonly patchIds: Answers<string | null>;
  readonly inversePatchIds: Answers<string | null>;
  readonly cleanMerges: Answers<boolean>;
  readonly sideParents: Answers<string[]>;

  private constructor(
    private readonly path: string,
    data: ParityCache | null,
  ) {
    this.history = data ? MainHistory.restore(data.history) : null;
    this.tip = this.history?.tip ?? null;
    this.patchIds = new Answers(new Map(Object.entries(data?.patch_ids ?? {}).filter(isKept)));
    this.inversePatchIds = new Answers(new Map(Object.entries(data?.inverse_patch_ids ?? {}).filter(isKept)));
    this.cleanMerges = new Answers(new Map(Object.entries(data?.clean_merges ?? {}).filter(isKept)));
    this.sideParents = new Answers(new Map(Object.entries(data?.side_parents ?? {}).filter(isKept)));
  }

  /** The cache in `stateDir`; an empty one when there is none that can be used (said at debug level). */
  static read(stateDir: string, logger: Logger): ParityCacheFile {
    const path = parityCachePath(stateDir);
    return new ParityCacheFile(path, readCache(path, validateParityCache, logger));
  }

  /**
   * Writes what this run knows, when it differs from what was read: `history` (the one this run
   * used) and the answers it keeps. A failed write is logged; the cache is only ever a shortcut.
   */
  save(history: MainHistory, logger: Logger): void {
    const onMain = (sha: string) => history.has(sha);
    const patchIds = this.patchIds.kept(onMain);
    const inverse = this.inversePatchIds.kept(onMain);
    const clean = this.cleanMerges.kept(onMain);
    const parents = this.sideParents.kept(onMain);
    const cached = history.cached();
    if (cached === null || (cached.tip === this.tip && ![patchIds, inverse, clean, parents].some((k) => k.changed))) return;
    const data: ParityCache = {
      schema_version: 1,
      history: cached,
      patch_ids: patchIds.entries,
      inverse_patch_ids: inverse.entries,
      clean_merges: clean.entries,
      side_parents: parents.entries,
    };
    // Validated as it is written (a file its reader would refuse is our bug, said as a warning).
    writeCache(this.path, data, validateParityCache, logger, 'parity_cache_not_written');
  }
}

/** The schema types every value as possibly undefined (an index signature): none is. */
const isKept = <T>(entry: [string, T | undefined]): entry is [string, T] => entry[1] !== undefined;
