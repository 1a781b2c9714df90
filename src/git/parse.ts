/** Reading git's output: merge-tree's records, a real merge's messages, `git version`. Pure. */
import { errors } from '../contract/errors.js';
import type { Conflict } from '../contract/types.generated.js';
import { SHA } from './guard.js';

export interface MergeResult {
  clean: boolean;
  /** The merged tree; null when the merge is not clean. */
  tree: string | null;
  conflicts: Conflict[];
  /** git's text of each conflict, in its order (`CONFLICT (content): Merge conflict in …`). */
  messages: string[];
}

/**
 * What one merge-tree record says about conflicts. Conflicts are the conflicted paths (what a real
 * merge leaves unmerged in its index), each with the most specific kind any message gives it; if git
 * reports a conflict without conflicted paths, the paths its messages name.
 */
class Conflicts {
  private readonly conflicted: string[] = [];
  private readonly kinds = new Map<string, string>();
  private readonly messages: string[] = [];

  path(path: string): void {
    this.conflicted.push(path);
  }

  message(paths: readonly string[], type: string, text: string): void {
    const kind = conflictKind(type, text);
    if (!kind) return;
    this.messages.push(text.trim());
    for (const path of paths) if (!this.kinds.has(path) || this.kinds.get(path) === 'contents') this.kinds.set(path, kind);
  }

  result(clean: boolean, tree: string): MergeResult {
    const paths = this.conflicted.length > 0 || clean ? this.conflicted : [...this.kinds.keys()];
    return { clean, tree: clean ? tree : null, conflicts: paths.map((path) => ({ path, kind: this.kinds.get(path) ?? 'contents' })), messages: this.messages };
  }
}

/**
 * The complete records at the start of `merge-tree --stdin --name-only` output (git forces -z there,
 * and shows messages only for a merge that is not clean), and how many bytes they took:
 *
 *     1\0<tree>\0\0                                   clean
 *     0\0<tree>\0[<path>\0…]\0[<message>…][<advice>]\0   not clean: conflicted paths, an empty field, messages
 *
 * `<advice>` is the free text git prints after the messages when submodules conflict: unframed, it
 * ends at the record's terminator. Bytes after the last complete record are left for the next call (a
 * long-lived merge-tree flushes record by record).
 */
export function parseMergeTreeStdin(out: Buffer): { results: MergeResult[]; consumed: number } {
  const results: MergeResult[] = [];
  let consumed = 0;
  for (;;) {
    const record = readStdinRecord(out, consumed);
    if (!record) return { results, consumed };
    results.push(record.result);
    consumed = record.end;
  }
}

/** The record starting at byte `start`, read field by field: null when its terminator has not arrived. */
function readStdinRecord(out: Buffer, start: number): { result: MergeResult; end: number } | null {
  const malformed = () => errors.gitFailed(['merge-tree', '--stdin'], null, `unexpected output: ${JSON.stringify(out.toString('utf8', start, Math.min(out.length, start + 200)))}`);
  const fields: string[] = [];
  let at = start;
  const next = (): string | null => {
    const nul = out.indexOf(0, at);
    if (nul === -1) return null;
    const field = out.toString('utf8', at, nul);
    at = nul + 1;
    return field;
  };
  const status = next();
  const tree = status === null ? null : next();
  if (status !== null && status !== '0' && status !== '1') throw malformed();
  if (tree === null) return null;
  if (!SHA.test(tree)) throw malformed();
  const conflicts = new Conflicts();
  if (status === '1') {
    const end = next();
    if (end === null) return null;
    if (end !== '') throw malformed();
    return { result: conflicts.result(true, tree), end: at };
  }
  for (let path = next(); path !== ''; path = next()) {
    if (path === null) return null;
    conflicts.path(path);
  }
  // Messages, then the terminator (an empty field) or the advice text it ends.
  for (;;) {
    const field = next();
    if (field === null) return null;
    if (!/^[1-9]\d*$/.test(field)) return { result: conflicts.result(false, tree), end: at };
    fields.length = 0;
    for (let k = 0, n = Number(field); k < n + 2; k++) {
      const f = next();
      if (f === null) return null;
      fields.push(f);
    }
    conflicts.message(fields.slice(0, -2), fields[fields.length - 2] as string, fields[fields.length - 1] as string);
  }
}

/**
 * The kind of a merge-tree message from its type field, or null when it is informational
 * ("Auto-merging", "Path updated due to directory rename"…). Types are "CONFLICT (<kind>)", a few
 * without the space ("CONFLICT(directory rename collision)"), and "ERROR (<what>)". git 2.39 types
 * add/add as "contents" but names it in the text ("CONFLICT (add/add): …"): the text refines it.
 */
export function conflictKind(type: string, text: string): string | null {
  const kind = /^(?:CONFLICT|ERROR) ?\(([^)]+)\)/.exec(type)?.[1];
  if (kind !== 'contents') return kind ?? null;
  const fromText = /^CONFLICT \(([^)]+)\)/.exec(text)?.[1];
  return fromText && fromText !== 'content' ? fromText : 'contents';
}

/** The kind of the first merge message naming `path` as a whole word; binary wins over contents, as in merge-tree. */
export function mergeOutputKind(lines: readonly string[], path: string): string {
  const escaped = path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const names = new RegExp(`(^|\\s)${escaped}($|[\\s.,;:)])`);
  let kind: string | null = null;
  for (const line of lines.filter((l) => names.test(l))) {
    if (line.startsWith('warning: Cannot merge binary files: ')) return 'binary';
    const label = /^CONFLICT ?\(([^)]+)\)/.exec(line)?.[1];
    kind ??= label === 'content' ? 'contents' : (label ?? null);
  }
  return kind ?? 'contents';
}

/** The version in `git version`'s output; git < 2.38 has no merge-tree --write-tree: E_GIT_TOO_OLD. */
export function supportedVersion(text: string): string {
  const m = /(\d+)\.(\d+)(?:\.(\d+))?/.exec(text);
  const version = m ? m[0] : text.trim();
  if (!m || Number(m[1]) < 2 || (Number(m[1]) === 2 && Number(m[2]) < 38)) throw errors.gitTooOld(version);
  return version;
}

/** Whether `version` (as `supportedVersion` returns it) is at least `major.minor`. */
export function versionAtLeast(version: string, major: number, minor: number): boolean {
  const [a = 0, b = 0] = version.split('.').map(Number);
  return a > major || (a === major && b >= minor);
}
